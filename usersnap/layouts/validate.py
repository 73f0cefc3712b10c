"""snapd 2.57.6's layout validation (``snap/validate.go``: ValidateLayoutAll, ValidateLayout).

Reproduced rule by rule, quirks included, so a snap usersnap accepts is exactly one snapd
would install and the messages read the same.  Where snapd's answer depends on Go's random
map order (pass 1 when several entries are bad) we walk the entries in sorted target order,
the order snapd itself uses for every later pass.
"""

from __future__ import annotations

import posixpath
import string
from collections.abc import Callable, Iterable, Sequence

from usersnap.errors import UsersnapError
from usersnap.meta.model import Layout, SnapInfo

Expander = Callable[[str], str]

#: Top-level directories a layout may live under: the core snap's, minus the denied ones.
ALLOWED_TOP_LEVEL = frozenset((
    "bin", "etc", "lib", "lib64", "meta", "mnt", "opt", "root", "sbin", "snap", "srv", "usr",
    "var", "writable",
))

#: 2.57.6's ``layoutRejectionList``; master adds /var/run and /usr/lib/{firmware,modules}.
REJECTION_LIST = (
    "/dev", "/proc", "/sys", "/media", "/run", "/tmp", "/var/lib/snapd",
    "/lib/firmware", "/lib/modules", "/var/snap", "/home", "/boot", "/lost+found",
)

#: AppArmor's pattern characters, double quote and NUL (``ValidateNoAppArmorRegexp``).
APPARMOR_CHARS = '?*[]{}^"\x00'

_KNOWN_VARIABLES = ("SNAP", "SNAP_DATA", "SNAP_COMMON")
_NAME_CHARS = string.ascii_letters + "_"  # ValidatePathVariables' names: no digits...
_SHELL_NAME_CHARS = _NAME_CHARS + string.digits  # ...while os.Expand's names may have them
_GO_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\v": "\\v", '"': '\\"', "\\": "\\\\",
}


class LayoutError(UsersnapError):
    """A ``layout:`` entry snapd would refuse; the message is snapd's bare reason."""


# --- Go formatting and path helpers -------------------------------------------------------


def go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote), so quoted values print exactly as snapd prints them."""
    out = []
    for char in text:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def go_octal(value: int) -> str:
    """Go's ``%#o``: octal with a leading 0 (``0`` stays ``0``)."""
    return f"0{value:o}" if value else "0"


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean``: like normpath, but a leading ``//`` collapses too."""
    cleaned = posixpath.normpath(path)
    return cleaned[1:] if cleaned.startswith("//") else cleaned


def _leading(text: str, chars: str) -> str:
    return text[: len(text) - len(text.lstrip(chars))]


def _shell_name(rest: str) -> tuple[str, int]:
    """Go's ``getShellName``: the variable name after ``$`` and how many chars it spans."""
    if rest[0] == "{":
        if len(rest) > 2 and rest[1] in "*#$@!?-0123456789" and rest[2] == "}":
            return rest[1], 3
        close = rest.find("}", 1)
        if close == 1:
            return "", 2  # "${}": bad syntax, eaten
        if close < 0:
            return "", 1  # "${" without "}": bad syntax, eaten
        return rest[1:close], close + 1
    if rest[0] in "*#$@!?-0123456789":
        return rest[0], 1
    name = _leading(rest, _SHELL_NAME_CHARS)
    return name, len(name)


def go_expand(text: str, mapping: Callable[[str], str]) -> str:
    """Go's ``os.Expand``; a lone or trailing ``$`` stays, bad ``${`` syntax is eaten."""
    out: list[str] = []
    start = 0
    index = 0
    while index < len(text):
        if text[index] == "$" and index + 1 < len(text):
            out.append(text[start:index])
            name, width = _shell_name(text[index + 1 :])
            if name:
                out.append(mapping(name))
            elif width == 0:
                out.append("$")
            index += width
            start = index + 1
        index += 1
    return "".join(out) + text[start:]


def expand_snap_variables(text: str, snap_name: str, revision: str) -> str:
    """snapd's ``ExpandSnapVariables``: only $SNAP, $SNAP_DATA, $SNAP_COMMON; others vanish.

    ``$SNAP`` is always under ``/snap`` (the in-namespace mount dir) and uses the snap name,
    not the instance name; snapd's revision is ``unset`` at pack time.
    """

    def value(name: str) -> str:
        if name == "SNAP":
            return posixpath.join("/snap", snap_name, revision)
        if name == "SNAP_DATA":
            return posixpath.join("/var/snap", snap_name, revision)
        if name == "SNAP_COMMON":
            return posixpath.join("/var/snap", snap_name, "common")
        return ""

    return go_expand(text, value)


def path_variables_error(path: str) -> str | None:
    """snapd's ``ValidatePathVariables``: the reason ``path`` names a variable other than
    $SNAP, $SNAP_DATA, $SNAP_COMMON (the name is the run of ``[A-Za-z_]`` after each ``$``,
    so ``${SNAP}`` and a trailing ``$`` name the empty variable)."""
    rest = path
    while (start := rest.find("$")) >= 0:
        rest = rest[start + 1 :]
        name = _leading(rest, _NAME_CHARS)
        if name not in _KNOWN_VARIABLES:
            return f"reference to unknown variable {go_quote('$' + name)}"
        rest = rest[len(name) :]
    return None


def is_abs_and_clean(path: str) -> bool:
    """snapd's ``isAbsAndClean``: a ``$``-prefixed path counts as absolute."""
    return (path.startswith("/") or path.startswith("$")) and go_clean(path) == path


def is_off_limits(mount_point: str, path: str) -> bool:
    """snapd's ``mountedTree.IsOffLimits``: ``path`` is ``mount_point`` or below it.

    Every layout kind uses this rule; note ``/`` covers nothing but itself (``//`` prefix).
    """
    return path == mount_point or path.startswith(mount_point + "/")


def apparmor_error(text: str) -> str | None:
    """snapd's ``ValidateNoAppArmorRegexp``; the message really ends with a NUL byte."""
    if any(char in APPARMOR_CHARS for char in text):
        return f"{go_quote(text)} contains a reserved apparmor char from {APPARMOR_CHARS}"
    return None


# --- ValidateLayoutAll ---------------------------------------------------------------------


def validate_layouts(info: SnapInfo, revision: str = "unset") -> None:
    """Raise :class:`LayoutError` with snapd's first complaint about ``info.layout``.

    ``revision`` is what ``$SNAP``/``$SNAP_DATA`` expand with: ``unset`` when packing,
    the installed revision (``x1``, ``42``) otherwise.
    """

    def expand(text: str) -> str:
        return expand_snap_variables(text, info.name, revision)

    ordered = sorted(info.layout.values(), key=lambda layout: layout.path)
    for layout in ordered:
        _check_target_apparmor(layout.path)
        _check_top_level(layout.path, expand)
    _check_source_kinds(ordered, expand)
    for layout in ordered:
        _check_other_snap_space(layout.path, info.name)
    constraints: list[str] = []
    for layout in ordered:
        validate_layout(layout, constraints, expand)
        constraints.append(expand(layout.path))


def _check_target_apparmor(path: str) -> None:
    # Pass 1a: the unexpanded target must not contain AppArmor pattern characters.
    reason = apparmor_error(path)
    if reason:
        raise LayoutError(f"invalid layout path: {reason}")


def _check_top_level(path: str, expand: Expander) -> None:
    # Pass 1b: snapd cannot create a mimic on "/", so only existing top-level dirs are allowed.
    # A single relative word (no "/") falls through to ValidateLayout; "/" itself passes.
    elems = expand(go_clean(path)).split("/", 2)
    if len(elems) == 1:
        return
    if elems[0]:
        raise LayoutError(f"layout {go_quote(path)} is a relative filename")
    if elems[1] and elems[1] not in ALLOWED_TOP_LEVEL:
        raise LayoutError(
            f"layout {go_quote(path)} defines a new top-level directory {go_quote('/' + elems[1])}"
        )


def _check_source_kinds(ordered: Iterable[Layout], expand: Expander) -> None:
    # Pass 2: one (expanded) source cannot be bound both as a directory and as a file.
    # Sources are compared expanded but printed as written; bind is looked at before bind-file.
    kinds: dict[str, str] = {}
    for layout in ordered:
        if layout.bind:
            source = expand(layout.bind)
            if kinds.get(source, "dir") != "dir":
                raise LayoutError(
                    f"layout {go_quote(layout.path)} refers to directory {go_quote(layout.bind)} "
                    "but another layout treats it as file"
                )
            kinds[source] = "dir"
        if layout.bind_file:
            source = expand(layout.bind_file)
            if kinds.get(source, "file") != "file":
                raise LayoutError(
                    f"layout {go_quote(layout.path)} refers to file {go_quote(layout.bind_file)} "
                    "but another layout treats it as a directory"
                )
            kinds[source] = "file"


def _check_other_snap_space(path: str, snap_name: str) -> None:
    # Pass 3: /snap/<other> belongs to other snaps.  Plain string prefix on the unexpanded
    # target, so /snap/<name>x/... passes.
    if path.startswith("/snap/") and not path.startswith(posixpath.join("/snap", snap_name)):
        raise LayoutError(
            f"layout {go_quote(path)} defines a layout in space belonging to another snap"
        )


# --- ValidateLayout ------------------------------------------------------------------------


def validate_layout(layout: Layout, constraints: Sequence[str], expand: Expander) -> None:
    """snapd's ``ValidateLayout`` for one entry; ``constraints`` are the expanded targets of
    the entries before it in sorted order."""
    mount_point = _check_mount_point(layout.path, expand)
    _check_rejection_list(layout.path, mount_point)
    _check_constraints(layout.path, mount_point, constraints)
    _check_single_kind(layout)
    source = layout.bind + layout.bind_file
    if source:
        _check_owned_path(
            layout.path, source, expand, "bind mount source", "mount source"
        )
    _check_filesystem(layout)
    if layout.symlink:
        _check_owned_path(layout.path, layout.symlink, expand, "symlink old name", "symlink")
    _check_owner(layout)
    _check_mode(layout)


def _check_mount_point(path: str, expand: Expander) -> str:
    # Steps 1-3: non-empty, only known variables, absolute and clean once expanded.
    if not path:
        raise LayoutError("layout cannot use an empty path")
    reason = path_variables_error(path)
    if reason:
        raise LayoutError(f"layout {go_quote(path)} uses invalid mount point: {reason}")
    mount_point = expand(path)
    if not is_abs_and_clean(mount_point):
        raise LayoutError(
            f"layout {go_quote(path)} uses invalid mount point: must be absolute and clean"
        )
    return mount_point


def _check_rejection_list(path: str, mount_point: str) -> None:
    # Step 4: places that must keep their host meaning, at or below (tree semantics).
    if any(is_off_limits(rejected, mount_point) for rejected in REJECTION_LIST):
        raise LayoutError(f"layout {go_quote(path)} in an off-limits area")


def _check_constraints(path: str, mount_point: str, constraints: Sequence[str]) -> None:
    # Step 5: nothing at or below an earlier (sorted) layout, whatever its kind.  Only earlier
    # entries count, so "$SNAP/a/b" then "/snap/<name>/<rev>/a" slips through, as in snapd.
    for prior in constraints:
        if is_off_limits(prior, mount_point):
            raise LayoutError(
                f"layout {go_quote(path)} underneath prior layout item {go_quote(prior)}"
            )


def _check_single_kind(layout: Layout) -> None:
    # Step 6: exactly one of bind, bind-file, type, symlink.
    kinds = (layout.bind, layout.bind_file, layout.type, layout.symlink)
    if sum(bool(kind) for kind in kinds) != 1:
        raise LayoutError(
            f"layout {go_quote(layout.path)} must define a bind mount, a filesystem mount "
            "or a symlink"
        )


def _check_owned_path(
    path: str, value: str, expand: Expander, wording: str, apparmor_wording: str
) -> None:
    # Steps 7 and 9: a bind source or symlink old name must lie in the snap's own space.
    # The prefix test has no path boundary ($SNAP_COMMON admits /var/snap/<name>/commonfoo).
    quoted = go_quote(path)
    reason = path_variables_error(value)
    if reason:
        raise LayoutError(f"layout {quoted} uses invalid {wording} {go_quote(value)}: {reason}")
    expanded = expand(value)
    if not is_abs_and_clean(expanded):
        raise LayoutError(
            f"layout {quoted} uses invalid {wording} {go_quote(expanded)}: "
            "must be absolute and clean"
        )
    if not any(expanded.startswith(expand("$" + name)) for name in _KNOWN_VARIABLES):
        raise LayoutError(
            f"layout {quoted} uses invalid {wording} {go_quote(expanded)}: "
            "must start with $SNAP, $SNAP_DATA or $SNAP_COMMON"
        )
    reason = apparmor_error(expanded)
    if reason:
        raise LayoutError(f"layout {quoted} uses invalid {apparmor_wording}: {reason}")


def _check_filesystem(layout: Layout) -> None:
    # Step 8: tmpfs is the only filesystem a layout can mount.
    if layout.type not in ("", "tmpfs"):
        raise LayoutError(
            f"layout {go_quote(layout.path)} uses invalid filesystem {go_quote(layout.type)}"
        )


def _check_owner(layout: Layout) -> None:
    # Step 10: only root may own layout items (numeric "0" is refused too).
    if layout.user not in ("", "root"):
        raise LayoutError(
            f"layout {go_quote(layout.path)} uses invalid user {go_quote(layout.user)}"
        )
    if layout.group not in ("", "root"):
        raise LayoutError(
            f"layout {go_quote(layout.path)} uses invalid group {go_quote(layout.group)}"
        )


def _check_mode(layout: Layout) -> None:
    # Step 11: permission bits and sticky only; setuid/setgid refused.  Printed like Go's %#o.
    if layout.mode & 0o1777 != layout.mode:
        raise LayoutError(
            f"layout {go_quote(layout.path)} uses invalid mode {go_octal(layout.mode)}"
        )
