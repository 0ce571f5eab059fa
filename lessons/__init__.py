"""The course content: one Markdown file per lesson, shipped with the package."""

from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent
