"""How long something took, as the operator reads it: ``3분 3초``, ``45초``, ``1시간 2분``."""

from __future__ import annotations


def duration_text(seconds: float | None) -> str:
    """``3분 3초``, ``45초``, ``1시간 2분``; under 10 seconds with a tenth (``0.4초``, so a
    quick step does not read ``0초``); ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 9.95:
        return f"{max(seconds, 0.0):.1f}초"
    s = int(round(seconds))
    if s < 60:
        return f"{s}초"
    if s < 3600:
        return f"{s // 60}분 {s % 60}초" if s % 60 else f"{s // 60}분"
    return f"{s // 3600}시간 {s % 3600 // 60}분" if s % 3600 // 60 else f"{s // 3600}시간"


def downtime_text(seconds) -> str:
    """A downtime: a tenth of a second under a minute (``0.4초``, ``12.3초``), else as
    :func:`duration_text`; ``-`` when unknown (no number)."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    return f"{seconds:.1f}초" if seconds < 60 else duration_text(seconds)
