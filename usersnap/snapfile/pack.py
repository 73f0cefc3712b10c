"""``usersnap pack``: snapd 2.57.6's ``snap pack`` (``snap/pack/pack.go``,
``snap/squashfs/squashfs.go``: Build), so the images we build are the ones snapd builds.

The directory is validated exactly as snapd validates it, then handed to mksquashfs with
snapd's options and exclusion list; the image appears under its final name only when it
is complete.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from usersnap.errors import UsersnapError
from usersnap.layouts.validate import go_octal, go_quote
from usersnap.meta.model import SnapInfo
from usersnap.snapfile.load import load_snap_dir

COMPRESSIONS = ("xz", "lzo")

#: snapd's ``excludesContent``: top-level VCS/packaging litter and, anywhere, editor
#: backups and earlier snap/click builds (mksquashfs ``-wildcards`` syntax).
EXCLUDES = """
# "anchored", only match at top level
DEBIAN
.arch-ids
.arch-inventory
.bzr
.bzr-builddeb
.bzr.backup
.bzr.tags
.bzrignore
.cvsignore
.git
.gitattributes
.gitignore
.gitmodules
.hg
.hgignore
.hgsigs
.hgtags
.shelf
.svn
CVS
DEADJOE
RCS
_MTN
_darcs
{arch}
.snapignore

# "non-anchored", match anywhere
... .[#~]*
... *.snap
... *.click
... .*.sw?
... *~
... ,,*
"""

#: Snap types whose files keep their owners and xattrs (they are root filesystems).
ROOTFS_TYPES = ("os", "core", "base")

#: snapd lists at most this many unreadable paths.
MAX_ERR_PATHS = 10

MKSQUASHFS_TIMEOUT = 3600


class PackError(UsersnapError):
    """The directory cannot be packed; message ``cannot pack "<dir>": <reason>``."""


def pack_snap(
    src: Path,
    out_dir: Path | None = None,
    *,
    compression: str = "xz",
    filename: str | None = None,
) -> Path:
    """Validate ``src`` like snapd and build the snap; return the image's path.

    ``out_dir`` defaults to the current directory and ``filename`` to snapd's
    ``NAME_VERSION_ARCH.snap``; a relative ``filename`` is taken inside ``out_dir``.
    """
    if out_dir is not None and filename and os.path.isabs(filename):
        raise PackError("you can't specify an absolute filename while also specifying target dir.")
    prefix = f"cannot pack {go_quote(str(src))}: "
    if compression not in (*COMPRESSIONS, ""):
        raise PackError(f"{prefix}cannot use compression {go_quote(compression)}")
    try:
        info = load_snap_dir(src)
    except UsersnapError as err:
        raise PackError(prefix + err.message) from err
    target = Path(out_dir or ".") / (filename or snap_file_name(info))
    mksquashfs = shutil.which("mksquashfs")
    if mksquashfs is None:
        raise PackError(f"{prefix}mksquashfs not found (apt-get install squashfs-tools)")
    unreadable = unreadable_paths(src)
    if unreadable:
        raise PackError(prefix + unreadable_message(unreadable))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _build(mksquashfs, src, target, info.type, compression or "xz")
    except OSError as err:
        raise PackError(prefix + os_reason(err)) from err
    return target


def snap_file_name(info: SnapInfo) -> str:
    """snapd's default ``NAME_VERSION_ARCH.snap``: ARCH is ``all``, the one listed, or ``multi``."""
    archs = info.architectures
    arch = "all" if not archs else archs[0] if len(archs) == 1 else "multi"
    return f"{info.name}_{info.version}_{arch}.snap"


def mksquashfs_args(snap_type: str, compression: str, image: Path, excludes: Path) -> list[str]:
    """snapd's Build() command line after the binary, run from inside the source dir."""
    args = [".", str(image), "-noappend", "-comp", compression, "-no-fragments", "-no-progress",
            "-wildcards", "-ef", str(excludes)]
    if snap_type not in ROOTFS_TYPES:
        args += ["-all-root", "-no-xattrs"]
    return args


def _build(mksquashfs: str, src: Path, target: Path, snap_type: str, compression: str) -> None:
    """Run mksquashfs into a ``.#``-prefixed sibling of ``target`` (a name snapd's exclude
    list drops, should ``target`` lie inside ``src``), then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".#{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name).resolve()
    try:
        with tempfile.NamedTemporaryFile("w", prefix=".snap-pack-exclude-") as excludes:
            excludes.write(EXCLUDES)
            excludes.flush()
            args = mksquashfs_args(snap_type, compression, tmp, Path(excludes.name))
            proc = subprocess.run(
                [mksquashfs, *args], cwd=src, capture_output=True, text=True, errors="replace",
                timeout=MKSQUASHFS_TIMEOUT, check=False,
            )
        if proc.returncode != 0:
            output = " ".join((proc.stdout + proc.stderr).split())
            raise PackError(
                f"cannot pack {go_quote(str(src))}: mksquashfs call failed: "
                f"{output or f'exit status {proc.returncode}'}"
            )
        tmp.chmod(0o644)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def unreadable_paths(src: Path) -> list[str]:
    """snapd's ``verifyContentAccessibleForBuild``: directories and non-empty regular files
    we cannot open (mksquashfs would silently skip them), at most :data:`MAX_ERR_PATHS`,
    in ``filepath.Walk`` (lexical) order."""
    found: list[str] = []
    for rel, st in _walk(src):
        if len(found) >= MAX_ERR_PATHS:
            break
        regular = stat.S_ISREG(st.st_mode)
        if not (regular or stat.S_ISDIR(st.st_mode)) or (regular and st.st_size == 0):
            continue
        try:
            os.close(os.open(src / rel, os.O_RDONLY))
        except PermissionError:
            mode = go_octal(stat.S_IMODE(st.st_mode) & 0o777).zfill(3)
            found.append(f"{rel} (owner {st.st_uid}:{st.st_gid} mode {mode})")
    return found


def _walk(src: Path, rel: str = "") -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) below ``src`` in ``filepath.Walk`` order (depth first,
    names sorted); directories we cannot list are skipped (reported as unopenable)."""
    try:
        names = sorted(os.listdir(src / rel if rel else src))
    except PermissionError:
        return
    for name in names:
        child = f"{rel}/{name}" if rel else name
        st = os.lstat(src / child)
        yield child, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(src, child)


def unreadable_message(paths: list[str]) -> str:
    """snapd's list of unreadable locations, on one line."""
    listed = ", ".join(paths)
    more = f" (too many errors, listing first {MAX_ERR_PATHS} entries)" if (
        len(paths) == MAX_ERR_PATHS
    ) else ""
    return f"cannot access the following locations in the snap source directory: {listed}{more}"


def os_reason(err: OSError) -> str:
    """An OSError worded like Go's (``<path>: <lower-case strerror>``)."""
    reason = (err.strerror or str(err)).lower()
    return f"{err.filename}: {reason}" if err.filename else reason
