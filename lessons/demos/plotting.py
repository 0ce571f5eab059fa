"""Shared matplotlib setup: the Agg backend and a PNG of chat size."""

from __future__ import annotations

import io

WIDTH_INCHES, HEIGHT_INCHES, DPI = 8, 5, 100  # 800x500 pixels


def new_figure():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")


def to_png(figure) -> bytes:
    buffer = io.BytesIO()
    # Fixed metadata keeps the bytes identical for identical pictures.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
