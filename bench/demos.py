"""Print each shipped demo's wall time and peak memory with its default arguments.

Each demo runs twice in a fresh Python process: the first run pays for
loading matplotlib's fonts and warming torch up, as the bot's first run does;
the second is what later runs cost. Peak RSS includes importing torch and
matplotlib. Demos that need the knowledge base (rag) get the bot's services with
the settings from the environment (LLM_BACKEND, for one) and a fresh temporary
data directory, so a running bot's locked store is no obstacle; the lessons are
ingested there before the clock starts. Run: python bench/demos.py [NAME ...]
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time
from lessons.demos import available
demo = available()[sys.argv[1]]
services = {}
if demo.needs_knowledge:
    import tempfile
    from pathlib import Path
    from bot.services import Services
    from bot.settings import load_settings
    bot = Services(load_settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-demos-"))))
    bot.ingest_lessons()
    services = {"answerer": bot.answerer}
started = time.monotonic()
result = demo.run(**services)
first = time.monotonic() - started
started = time.monotonic()
demo.run(**services)
second = time.monotonic() - started
print(json.dumps({"first": first, "second": second, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "png_kib": len(result.png) / 1024, "command": result.command}))
"""


def main() -> None:
    from lessons.demos import available

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        "\n| demo | command | first run in a process | next runs | peak RSS (whole process) | PNG |"
        "\n|---|---|---|---|---|---|"
    )
    names = sys.argv[1:] or list(available())
    for name in names:
        output = subprocess.run(
            [sys.executable, "-c", CHILD, name], capture_output=True, text=True, cwd=ROOT, check=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        ).stdout
        figures = json.loads(output.strip().splitlines()[-1])
        print(
            f"| {name} | `{figures['command']}` | {figures['first']:.2f} s | {figures['second']:.2f} s | "
            f"{figures['peak_mib']:.0f} MiB | {figures['png_kib']:.0f} KiB |"
        )


if __name__ == "__main__":
    main()
