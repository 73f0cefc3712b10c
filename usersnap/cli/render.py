"""Text output shaped like snap's: tab-aligned tables and human dates."""

from __future__ import annotations

import calendar
import os
import re
import sys
import time
from collections.abc import Sequence

_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


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


def parse_rfc3339(value: object) -> float | None:
    """A POSIX time from snapd's RFC 3339 text (any fraction length), None if not one."""
    m = _RFC3339.match(value) if isinstance(value, str) else None
    if m is None:
        return None
    stamp = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    if m.group(3) != "Z":
        sign = 1 if m.group(3)[0] == "+" else -1
        stamp -= sign * (int(m.group(3)[1:3]) * 3600 + int(m.group(3)[4:6]) * 60)
    return stamp + float(m.group(2) or 0)


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


def _unicode() -> bool:
    """snap's --unicode=auto: a terminal and a UTF-8 locale."""
    lang = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG", "")
    return sys.stdout.isatty() and "utf-8" in lang.lower().replace("utf8", "utf-8")


def _mark(validation: object) -> str:
    if validation == "verified":
        return "✓" if _unicode() else "**"
    if validation == "starred":
        return "✪" if _unicode() else "*"
    return ""


def long_publisher(pub: object) -> str:
    """snap's longPublisher: "Display Name (username)✓", or "-"."""
    if not isinstance(pub, dict) or not (pub.get("display-name") or pub.get("username")):
        return "-"
    display, user = str(pub.get("display-name", "")), str(pub.get("username", ""))
    badge = _mark(pub.get("validation"))
    if user.replace("-", " ").casefold() == display.casefold():
        return display + badge
    return f"{display} ({user}{badge})"


def short_publisher(pub: object) -> str:
    """snap's shortPublisher, the ``Publisher`` column: "username✓", or "-"."""
    if not isinstance(pub, dict) or not pub.get("username"):
        return "-"
    return str(pub["username"]) + _mark(pub.get("validation"))
