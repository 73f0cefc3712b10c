"""Text output shaped like snap's: tab-aligned tables and human dates."""

from __future__ import annotations

import time
from collections.abc import Sequence


def table(rows: Sequence[Sequence[str]], *, minwidth: int = 5, padding: int = 2) -> str:
    """Align columns like Go's tabwriter as snap configures it (minwidth 5, padding 2)."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [
        max(minwidth, max(len(r[i]) for r in rows if i < len(r)) + padding)
        for i in range(ncols - 1)
    ]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell
                 for i, cell in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def human_size(size: int) -> str:
    """snap's ``strutil.SizeToStr``: decimal units, no space (``4kB``, ``12MB``)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f}{unit}"
        value /= 1000
    raise AssertionError("unreachable")


def human_time(epoch: float, now: float | None = None) -> str:
    """snap's relative dates: ``today at 15:04 UTC``, ``yesterday at …``, else a date."""
    now = time.time() if now is None else now
    t = time.localtime(epoch)
    days = (time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
            - time.mktime((*t[:3], 0, 0, 0, 0, 0, -1))) // 86400
    clock = time.strftime("%H:%M %Z", t)
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"yesterday at {clock}"
    if days == -1:
        return f"tomorrow at {clock}"
    if 1 < days < 7:
        return f"{int(days)} days ago, at {clock}"
    return time.strftime("%Y-%m-%d", t)
