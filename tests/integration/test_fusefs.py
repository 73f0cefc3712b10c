"""The snap filesystem, mounted for real, against ``unsquashfs -d`` of the same image.

The server runs in a subprocess (tests/helpers/fuse_server.py): the test reads the mount
from outside the trio loop that serves it, and can SIGKILL it to leave a dead mount.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import stat
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.fuse_server import FuseServer, fuse_server
from tests.helpers.snaps import mksquashfs
from usersnap.fusefs.serve import MOUNT_OPTIONS, clear_stale_mount, is_mounted
from usersnap.fusefs.session import mount, unmount

pytestmark = [pytest.mark.requires_fuse, pytest.mark.requires_mksquashfs,
              pytest.mark.timeout(300)]

ROOT = os.geteuid() == 0
MiB = 1 << 20


def _user_xattrs_work(directory: Path) -> bool:
    probe = directory / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def make_tree(root: Path) -> None:
    """About 3,000 files with every kind of entry and edge the format has."""
    rng = random.Random(20240501)
    root.mkdir()

    def put(rel: str | bytes, data: bytes, mode: int = 0o644) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(rel))))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)
        return path

    for i in range(1500):  # one big directory: readdir needs many rounds of offsets
        put(f"big/f{i:04d}.txt", f"file {i}\n".encode() * rng.randrange(0, 200))
    sizes = [0, 1, 4095, 4096, 131071, 131072, 131073, 262145, 300_000]
    for i in range(1400):
        size = sizes[i] if i < len(sizes) else rng.choice((rng.randrange(0, 8192), 10_000))
        data = rng.randbytes(size) if i % 3 else (b"compressible " * (size // 13 + 1))[:size]
        put(f"tree/d{i % 37:02d}/s{i % 5}/file{i}.bin", data, 0o755 if i % 11 == 0 else 0o644)
    put("blobs/random-2m.bin", rng.randbytes(2 * MiB))
    put("blobs/zeros.bin", bytes(MiB))
    with open(put("blobs/sparse.bin", b""), "r+b") as sparse:
        sparse.seek(3 * MiB)
        sparse.write(b"island in the middle")
        sparse.truncate(6 * MiB)
    deep = "/".join(f"l{i}" for i in range(40))
    put(f"deep/{deep}/bottom.txt", b"bottom\n")
    put("names/" + "n" * 255, b"longest name\n")
    put("names/ünïcødé-名前.txt", b"unicode\n")
    put(b"names/latin1_\xe9\xff.bin", b"not utf-8\n")
    put("names/with space and 'quote'", b"space\n")
    (root / "empty-dir").mkdir()
    put("modes/setuid", b"#!/bin/sh\n", 0o4755)
    put("modes/private", b"secret\n", 0o600)
    put("modes/exec", b"#!/bin/sh\necho hi\n", 0o755)
    (root / "modes/locked-dir").mkdir()
    put("modes/locked-dir/inside", b"x\n")
    (root / "modes/locked-dir").chmod(0o700)
    if ROOT:  # a user's mksquashfs cannot read these
        put("modes/none", b"unreadable\n", 0o000)
        os.chown(put("modes/chowned", b"owned\n"), 1234, 5678)
        os.mknod(root / "dev-null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.mknod(root / "dev-loop", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    os.mkfifo(root / "fifo")
    target = put("links/target.txt", b"linked\n")
    os.link(target, root / "links/hard1")
    os.link(target, root / "tree/d00/hard2")
    os.link(put("links/other.txt", b"other\n"), root / "links/other-hard")
    os.symlink("target.txt", root / "links/rel")
    os.symlink("../tree/d01", root / "links/to-dir")
    os.symlink("/nonexistent/absolute", root / "links/dangling")
    os.symlink("x" * 1000, root / "links/long")
    if _user_xattrs_work(root):
        os.setxattr(put("xattr/file", b"with xattrs\n"), "user.usersnap", b"value\0binary")
        os.setxattr(root / "xattr", "user.dir", b"on a directory")
    # time stamps last, leaves first, so that filling a directory does not touch it again
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in [*filenames, *dirnames]:
            os.utime(os.path.join(dirpath, name), ns=(0, rng.randrange(1, 2**31) * 10**9),
                     follow_symlinks=False)
    os.utime(root, ns=(0, 1_600_000_000 * 10**9))


def snapshot(top: Path) -> dict[bytes, dict[str, object]]:
    """Everything ``stat``, ``readlink``, xattrs and the data say, per relative path.

    Paths are resolved from a descriptor of ``top``, as find and tar do: a walk from
    the mount root would ask the daemon about the virtual top at every step.
    """
    out: dict[bytes, dict[str, object]] = {}
    top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        pending = [b"."]
        while pending:
            rel = pending.pop()
            st = os.lstat(rel, dir_fd=top_fd)
            entry: dict[str, object] = {
                "type": stat.S_IFMT(st.st_mode), "perm": stat.S_IMODE(st.st_mode),
                "uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime),
                "nlink": st.st_nlink, "rdev": st.st_rdev, "ino": st.st_ino,
            }  # fmt: skip
            if stat.S_ISDIR(st.st_mode):
                fd = os.open(rel, os.O_RDONLY | os.O_DIRECTORY, dir_fd=top_fd)
                try:
                    pending.extend(os.path.join(rel, os.fsencode(n)) for n in os.listdir(fd))
                    entry["xattrs"] = _user_xattrs(fd)
                finally:
                    os.close(fd)
            else:
                entry["size"] = st.st_size
            if stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(rel, dir_fd=top_fd)
            if stat.S_ISREG(st.st_mode) and os.access(rel, os.R_OK, dir_fd=top_fd):
                entry["data"] = rel
            out[rel] = entry

        def digest(rel: bytes) -> tuple[str, dict[str, bytes]]:
            fd = os.open(rel, os.O_RDONLY, dir_fd=top_fd)
            with open(fd, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest(), _user_xattrs(fd)

        files = [rel for rel, e in out.items() if "data" in e]
        with ThreadPoolExecutor(4) as pool:  # parallel reads, as apps do
            for rel, (value, xattrs) in zip(files, pool.map(digest, files), strict=True):
                del out[rel]["data"]
                out[rel].update(sha256=value, xattrs=xattrs)
    finally:
        os.close(top_fd)
    return out


def _user_xattrs(fd: int) -> dict[str, bytes]:
    return {n: os.getxattr(fd, n) for n in os.listxattr(fd) if n.startswith("user.")}


def hardlink_groups(snap: dict[bytes, dict[str, object]]) -> set[frozenset[bytes]]:
    groups: dict[object, set[bytes]] = {}
    for rel, entry in snap.items():
        if entry["type"] != stat.S_IFDIR:
            groups.setdefault(entry["ino"], set()).add(rel)
    return {frozenset(g) for g in groups.values()}


def without_ino(snap: dict[bytes, dict[str, object]]) -> dict[bytes, dict[str, object]]:
    return {rel: {k: v for k, v in e.items() if k != "ino"} for rel, e in snap.items()}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """comp -> (image, its unsquashfs extraction): xz as snapd builds, lzo with fragments."""
    work = tmp_path_factory.mktemp("fusefs")
    make_tree(work / "src")
    out = {}
    for comp, extra in (("xz", ["-no-fragments"]), ("lzo", [])):
        image = mksquashfs(work / "src", work / f"{comp}.snap", comp=comp, extra=extra,
                           snapd_flags=False)
        extracted = work / f"{comp}.d"
        subprocess.run(["unsquashfs", "-no-progress", "-d", str(extracted), str(image)],
                       check=True, capture_output=True, timeout=300)
        out[comp] = (image, extracted)
    return out


@pytest.fixture
def mnt(tmp_path: Path) -> Path:
    path = tmp_path / "mnt"
    path.mkdir()
    return path


@pytest.fixture
def server(mnt: Path) -> Iterator[FuseServer]:
    with fuse_server(mnt) as srv:
        yield srv


def wait_until(check: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("comp", ["xz", "lzo"])
def test_mounted_image_matches_unsquashfs(
    comp: str, images: dict[str, tuple[Path, Path]], server: FuseServer, mnt: Path
) -> None:
    image, extracted = images[comp]
    server.command(f"add demo x1 {image}")
    expected, got = snapshot(extracted), snapshot(mnt / "demo" / "x1")
    assert len(got) > 3000
    assert sorted(got) == sorted(expected)
    if not ROOT:  # a user's unsquashfs drops setuid/setgid/sticky bits; the mount must not
        assert got[b"./modes/setuid"]["perm"] == 0o4755
        for entry in (*got.values(), *expected.values()):
            entry["perm"] &= 0o777  # type: ignore[operator]
    assert without_ino(got) == without_ino(expected)
    assert hardlink_groups(got) == hardlink_groups(expected)
    assert any(len(g) == 3 for g in hardlink_groups(got))
    assert {e["ino"] >> 32 for e in got.values()} == {1}  # type: ignore[operator]
    assert len([r for r in got if r.startswith(b"./big/")]) == 1500


def test_two_revisions_and_current(
    images: dict[str, tuple[Path, Path]], server: FuseServer, mnt: Path
) -> None:
    server.command(f"add demo x1 {images['xz'][0]}")
    server.command(f"add demo x2 {images['lzo'][0]}")
    server.command("current demo x2")
    assert os.listdir(mnt) == ["demo"]
    assert os.listdir(mnt / "demo") == ["x1", "x2", "current"]
    assert os.readlink(mnt / "demo" / "current") == "x2"
    via_current = (mnt / "demo/current/links/target.txt").read_bytes()
    assert via_current == (mnt / "demo/x1/links/target.txt").read_bytes() == b"linked\n"
    one, two = (os.stat(mnt / f"demo/{r}/links/target.txt") for r in ("x1", "x2"))
    assert one.st_ino != two.st_ino  # two images: never one inode
    assert os.stat(mnt / "demo/current/links/target.txt").st_ino == two.st_ino
    server.command("current demo x1")  # at once: the virtual top is never cached
    assert os.readlink(mnt / "demo" / "current") == "x1"
    server.command("current demo -")
    assert not os.path.lexists(mnt / "demo" / "current")
    assert os.listdir(mnt / "demo") == ["x1", "x2"]
    root = os.stat(mnt)
    assert (root.st_uid, root.st_gid, stat.S_IMODE(root.st_mode)) == (
        os.getuid(), os.getgid(), 0o755)


@pytest.mark.timeout(120)
def test_twenty_concurrent_readers(
    images: dict[str, tuple[Path, Path]], server: FuseServer, mnt: Path
) -> None:
    """20 readers at once (sequential, random and stat walks, from threads of this
    process, never from the loop's) all get the right data: no error, no deadlock."""
    image, extracted = images["xz"]
    server.command(f"add demo x1 {image}")
    top = mnt / "demo" / "x1"
    files = sorted(p.relative_to(extracted) for p in (extracted / "tree").rglob("*.bin"))
    big = Path("blobs/random-2m.bin")

    def reader(seed: int) -> int:
        rng = random.Random(seed)
        if seed % 4 == 0:  # whole big file, sequentially, in odd-sized reads
            with open(top / big, "rb") as f:
                data = b"".join(iter(lambda: f.read(rng.randrange(4096, 300_000)), b""))
            assert data == (extracted / big).read_bytes()
            return 1
        if seed % 4 == 1:  # random reads of the big file
            expected = (extracted / big).read_bytes()
            fd = os.open(top / big, os.O_RDONLY)
            try:
                for _ in range(50):
                    off = rng.randrange(len(expected))
                    assert os.pread(fd, 5000, off) == expected[off : off + 5000]
            finally:
                os.close(fd)
            return 50
        if seed % 4 == 2:  # a stat walk
            return len(snapshot(top / "tree"))
        for rel in rng.sample(files, 40):  # many small files
            assert (top / rel).read_bytes() == (extracted / rel).read_bytes()
        return 40

    with ThreadPoolExecutor(20) as pool:
        done = list(pool.map(reader, range(20)))
    assert all(done)
    assert (top / "links/target.txt").read_bytes() == b"linked\n"  # still serving


def test_add_and_remove_while_mounted(
    images: dict[str, tuple[Path, Path]], server: FuseServer, mnt: Path
) -> None:
    xz, lzo = images["xz"][0], images["lzo"][0]
    server.command(f"add demo x1 {xz}")
    assert os.listdir(mnt) == ["demo"]
    big = mnt / "demo/x1/blobs/random-2m.bin"
    expected = big.read_bytes()
    server.command(f"add other x7 {lzo}")
    assert os.listdir(mnt) == ["demo", "other"]
    with open(big, "rb") as held:
        server.command("remove demo x1")
        assert not (mnt / "demo").exists()
        assert not big.exists()
        assert os.listdir(mnt) == ["other"]
        assert server.command("closed demo x1") == "no"
        os.posix_fadvise(held.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        assert held.read() == expected  # still served from the removed image
        with pytest.raises(FileNotFoundError):
            os.stat(mnt / "demo/x1/links/target.txt")
    assert wait_until(lambda: server.command("closed demo x1") == "yes")
    assert server.command("handles") == "0"
    server.command(f"add demo x1 {lzo}")  # the same name again: a new image, new inodes
    assert (mnt / "demo/x1/blobs/random-2m.bin").read_bytes() == expected
    server.command("remove other x7")
    assert server.command("closed other x7") == "yes"  # nothing open: closed at once
    assert os.listdir(mnt) == ["demo"]


def test_statfs(images: dict[str, tuple[Path, Path]], server: FuseServer, mnt: Path) -> None:
    empty = os.statvfs(mnt)
    assert (empty.f_blocks, empty.f_bfree, empty.f_bavail) == (0, 0, 0)
    for rev, comp in (("x1", "xz"), ("x2", "lzo")):
        server.command(f"add demo {rev} {images[comp][0]}")
    st = os.statvfs(mnt)
    assert st.f_bsize == st.f_frsize == 131072
    used = sum(images[c][0].stat().st_size for c in ("xz", "lzo"))  # mksquashfs pads to 4 KiB
    assert used - 2 * 4096 <= st.f_blocks * st.f_frsize < used + st.f_frsize
    assert st.f_bfree == st.f_bavail == st.f_ffree == 0
    assert st.f_files > 2 * 3000
    assert st.f_namemax == 255


def test_xattrs(images: dict[str, tuple[Path, Path]], server: FuseServer, mnt: Path) -> None:
    image, extracted = images["xz"]
    if not (extracted / "xattr").exists():
        pytest.skip("the temporary file system has no user xattrs to put in the image")
    server.command(f"add demo x1 {image}")
    path = mnt / "demo/x1/xattr/file"
    assert os.listxattr(path) == ["user.usersnap"]
    assert os.getxattr(path, "user.usersnap") == b"value\0binary"
    assert os.getxattr(mnt / "demo/x1/xattr", "user.dir") == b"on a directory"
    with pytest.raises(OSError) as err:
        os.getxattr(path, "user.absent")
    assert err.value.errno == errno.ENODATA
    assert os.listxattr(mnt / "demo/x1/links/target.txt") == []
    assert os.listxattr(mnt) == []


def test_writes_fail_with_erofs(
    images: dict[str, tuple[Path, Path]], server: FuseServer, mnt: Path
) -> None:
    server.command(f"add demo x1 {images['xz'][0]}")
    server.command("current demo x1")
    top = mnt / "demo/x1"
    attempts = [
        lambda: open(top / "links/target.txt", "r+b"),  # noqa: SIM115
        lambda: open(top / "links/target.txt", "ab"),  # noqa: SIM115
        lambda: (top / "new-file").write_bytes(b""),
        lambda: (mnt / "new-snap").mkdir(),
        lambda: (mnt / "demo/x9").mkdir(),
        lambda: (top / "links/target.txt").unlink(),
        lambda: (mnt / "demo/current").unlink(),
        lambda: (top / "links/target.txt").chmod(0o777),
        lambda: os.truncate(top / "links/target.txt", 0),
        lambda: (top / "links/target.txt").rename(top / "moved"),
        lambda: os.symlink("x", top / "new-link"),
        lambda: os.link(top / "links/target.txt", top / "new-hard"),
        lambda: os.utime(top / "links/target.txt"),
        lambda: os.setxattr(top / "links/target.txt", "user.x", b"1"),
        lambda: os.rmdir(top / "empty-dir"),
    ]
    for attempt in attempts:
        with pytest.raises(OSError) as err:
            attempt()
        assert err.value.errno == errno.EROFS, attempt


def test_stale_mount_is_cleared(images: dict[str, tuple[Path, Path]], mnt: Path) -> None:
    first = FuseServer(mnt)
    try:
        first.command(f"add demo x1 {images['xz'][0]}")
        assert (mnt / "demo/x1/links/target.txt").read_bytes() == b"linked\n"
        first.kill()
        with pytest.raises(OSError) as err:
            os.stat(mnt)
        assert err.value.errno == errno.ENOTCONN
        assert is_mounted(mnt)
        clear_stale_mount(mnt)
        assert not is_mounted(mnt)
        clear_stale_mount(mnt)  # nothing left: a no-op
    finally:
        first.stop()
    with fuse_server(mnt) as second:
        second.command(f"add demo x1 {images['lzo'][0]}")
        assert (mnt / "demo/x1/links/target.txt").read_bytes() == b"linked\n"


def test_corrupt_block_is_eio_and_one_log_line(tmp_path: Path, server: FuseServer,
                                               mnt: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "text.txt").write_bytes(b"".join(b"line %d of some text\n" % i for i in range(40000)))
    (src / "fine.txt").write_bytes(b"fine\n")
    image = mksquashfs(src, tmp_path / "bad.snap", comp="xz")
    with open(image, "r+b") as f:  # the data blocks follow the 96-byte superblock
        f.seek(96 + 2000)
        f.write(b"\xff" * 64)
    server.command(f"add demo x1 {image}")
    for _ in range(3):
        with pytest.raises(OSError) as err:
            (mnt / "demo/x1/text.txt").read_bytes()
        assert err.value.errno == errno.EIO
    assert (mnt / "demo/x1/fine.txt").read_bytes() == b"fine\n"
    assert wait_until(lambda: any("text.txt" in line for line in server.stderr))
    reports = [line for line in server.stderr if "ERROR" in line]
    assert len(reports) == 1, reports
    assert "snap demo revision x1, /text.txt (inode " in reports[0]
    assert "cannot read squashfs image" in reports[0]


def test_the_dev_fuse_descriptor_is_not_inherited(tmp_path: Path) -> None:
    """Apps and hooks the daemon starts must not hold the mount's descriptor: the
    connection, and every process using the mount, would outlive the daemon."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    fd = mount(str(mnt), MOUNT_OPTIONS)
    try:
        assert not os.get_inheritable(fd)
        assert is_mounted(mnt)
    finally:
        assert unmount(str(mnt))
        os.close(fd)
    assert not is_mounted(mnt)
