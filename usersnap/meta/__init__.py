"""snap.yaml: the typed model, snapd's reader and snapd's validator."""

from __future__ import annotations

from usersnap.meta.model import App, Hook, Layout, Plug, Slot, SnapInfo
from usersnap.meta.parse import add_implicit_hooks, parse_snap_yaml
from usersnap.meta.validate import SnapValidationError, validate_snap

__all__ = [
    "App",
    "Hook",
    "Layout",
    "Plug",
    "Slot",
    "SnapInfo",
    "SnapValidationError",
    "add_implicit_hooks",
    "parse_snap_yaml",
    "validate_snap",
]
