"""Apps as snapd's ``/v2/apps`` and ``snapctl services`` show them (client.AppInfo).

Nothing supervises services yet (issue #6), so every service is reported as snapd
reports one that is installed but neither enabled nor running: ``enabled: false``,
``active: false``.  Activators come from snap.yaml as snapd derives them
(``snap.AppInfo``: sockets, timer, D-Bus activation), so the Notes column is right.
"""

from __future__ import annotations

from usersnap.meta.model import App, SnapInfo


def app_json(snap: str, app: App, info: SnapInfo) -> dict[str, object]:
    out: dict[str, object] = {"snap": snap, "name": app.name}
    if app.desktop:
        out["desktop-file"] = app.desktop
    if not app.daemon:
        return out
    activators: list[dict[str, object]] = [
        {"name": name, "type": "socket", "active": False, "enabled": False}
        for name in sorted(app.sockets)]
    if app.timer:
        activators.append({"name": app.name, "type": "timer", "active": False,
                           "enabled": False})
    for slot in app.activates_on:
        activators.append({"name": slot, "type": "dbus", "active": False, "enabled": False})
    out.update({"daemon": app.daemon, "daemon-scope": app.daemon_scope or "system",
                "enabled": False, "active": False})
    if activators:
        out["activators"] = activators
    return out


def services(info: SnapInfo) -> list[App]:
    return sorted((a for a in info.apps.values() if a.daemon), key=lambda a: a.name)


def notes(entry: dict[str, object]) -> str:
    """clientutil.ClientAppInfoNotes."""
    if not entry.get("daemon"):
        return "-"
    out = ["user"] if entry.get("daemon-scope") == "user" else []
    activators = entry.get("activators")
    kinds = {a.get("type") for a in activators if isinstance(a, dict)} \
        if isinstance(activators, list) else set()
    out += [f"{k}-activated" for k in ("timer", "socket", "dbus") if k in kinds]
    return ",".join(out) or "-"


def status_row(entry: dict[str, object]) -> list[str]:
    """One row of ``snap services`` / ``snapctl services``."""
    startup = "enabled" if entry.get("enabled") else "disabled"
    if entry.get("daemon-scope") == "user":
        current = "-"
    else:
        current = "active" if entry.get("active") else "inactive"
    return [f"{entry['snap']}.{entry['name']}", startup, current, notes(entry)]
