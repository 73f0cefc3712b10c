"""DirSource: a tried directory read like an image, live, and never leaving the directory."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.snaps import write_snap_dir
from usersnap.errors import SnapFileError, SnapYamlError, UsersnapError
from usersnap.snapfile.container import ImageContainer, MissingFilesError, validate_container
from usersnap.snapfile.dirsource import DirSource
from usersnap.snapfile.load import load_try_dir
from usersnap.snapfile.source import Inode, SnapSource

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "snap"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "app").write_text("#!/bin/sh\necho app\n")
    (root / "bin" / "app").chmod(0o755)
    (root / "share" / "deep" / "er").mkdir(parents=True)
    (root / "share" / "deep" / "er" / "f.txt").write_bytes(b"deep\n")
    (root / "empty").mkdir()
    (root / "hard").write_bytes(b"same\n")
    os.link(root / "hard", root / "hard2")
    (root / "link").symlink_to("bin/app")
    os.mkfifo(root / "fifo")
    (root / os.fsdecode(b"latin1_\xe9\xff")).write_bytes(b"not utf-8\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"SECRET\n")
    return root


@pytest.fixture
def source(tree: Path) -> Iterator[DirSource]:
    with DirSource(tree) as src:
        yield src


def names(src: DirSource, ino: Inode) -> list[bytes]:
    return [name for name, _ in src.listdir(ino)]


def test_is_a_snap_source(source: DirSource) -> None:
    as_source: SnapSource = source  # the protocol the FUSE tree and the loaders use
    assert as_source.root.is_dir and as_source.root.number == 1


def test_listing_in_byte_order_with_host_metadata(source: DirSource, tree: Path) -> None:
    assert names(source, source.root) == sorted(
        [b"bin", b"empty", b"fifo", b"hard", b"hard2", b"latin1_\xe9\xff", b"link", b"share"])
    entries = dict(source.listdir(source.root))
    app = source.resolve("bin/app")
    st = os.lstat(tree / "bin" / "app")
    assert (app.mode, app.size, app.uid, app.gid, app.mtime, app.nlink) == (
        st.st_mode, st.st_size, st.st_uid, st.st_gid, int(st.st_mtime), 1)
    os.utime(tree / "bin", ns=(5, 1_700_000_000_123_456_789))
    assert source.resolve("bin").mtime_ns == 1_700_000_000_123_456_789  # to the nanosecond
    assert stat.S_ISFIFO(entries[b"fifo"].mode) and entries[b"fifo"].size == 0
    assert entries[b"link"].is_symlink and entries[b"link"].size == len("bin/app")
    assert source.read_all(entries[b"latin1_\xe9\xff"]) == b"not utf-8\n"
    assert source.lookup(source.root, b"latin1_\xe9\xff") == entries[b"latin1_\xe9\xff"]
    assert names(source, source.resolve("empty")) == []


def test_hard_links_share_a_number_and_numbers_are_stable(source: DirSource) -> None:
    hard, hard2 = source.resolve("hard"), source.resolve("hard2")
    assert hard.number == hard2.number and hard.nlink == 2
    assert source.resolve("bin/app").number == source.resolve("bin/../bin/app").number
    assert len({ino.number for _, ino in source.listdir(source.root)}) == 7


def test_reads(source: DirSource) -> None:
    app = source.resolve("bin/app")
    assert source.read(app, 0, 4) == b"#!/b"
    assert source.read(app, 10, 1000) == b"echo app\n"
    assert source.read(app, 1000, 10) == b""
    assert source.read_all(source.resolve("share/deep/er/f.txt")) == b"deep\n"
    with pytest.raises(IsADirectoryError):
        source.read(source.root, 0, 1)
    with pytest.raises(ValueError):
        source.read(app, -1, 1)


def test_resolve_is_lexical_and_follows_no_symlink(source: DirSource) -> None:
    assert source.resolve("share/deep/../../bin/app") == source.resolve("bin/app")
    assert source.resolve("../../bin") == source.resolve("bin")  # ".." stops at the root
    assert source.resolve("link").is_symlink
    with pytest.raises(NotADirectoryError):
        source.resolve("link/x")
    with pytest.raises(NotADirectoryError):
        source.resolve("bin/app/")
    with pytest.raises(FileNotFoundError):
        source.resolve("bin/nope")
    with pytest.raises(NotADirectoryError):
        source.lookup(source.resolve("bin/app"), b"x")
    for bad in (b"", b".", b"..", b"a/b", b"a\0b"):
        assert source.lookup(source.root, bad) is None


def test_symlinks_are_shown_never_followed(source: DirSource, tree: Path) -> None:
    (tree / "esc").symlink_to(tree.parent / "outside")
    (tree / "esc-file").symlink_to(tree.parent / "outside" / "secret")
    (tree / "up").symlink_to("../outside")
    esc = source.lookup(source.root, b"esc")
    assert esc is not None and esc.is_symlink
    assert source.readlink(esc) == os.fsencode(tree.parent / "outside")
    for path in ("esc/secret", "up/secret"):
        with pytest.raises(NotADirectoryError):
            source.resolve(path)
    esc_file = source.resolve("esc-file")
    with pytest.raises(OSError) as err:
        source.read(esc_file, 0, 100)
    assert err.value.errno == errno.EINVAL
    with pytest.raises(NotADirectoryError):
        source.listdir(esc)
    with pytest.raises(OSError):
        source.readlink(source.resolve("bin/app"))


def test_a_directory_swapped_for_a_symlink_is_gone_not_followed(tree: Path) -> None:
    """The race an attacker would use: look up inside a directory, then replace the
    directory by a symlink to the outside before the file is opened."""
    (tree.parent / "outside" / "f.txt").write_bytes(b"SECRET\n")
    with DirSource(tree, fd_cache=1) as src:
        er = src.resolve("share/deep/er")
        f = src.resolve("share/deep/er/f.txt")
        src.read_all(src.resolve("bin/app"))  # evict the descriptors kept so far
        os.rename(tree / "share" / "deep", tree / "moved")
        (tree / "share" / "deep").symlink_to(tree.parent / "outside")
        for attempt in (lambda: src.read_all(f), lambda: src.listdir(er),
                        lambda: src.lookup(er, b"f.txt")):
            with pytest.raises(FileNotFoundError):
                attempt()
        assert src.lookup(src.resolve("share"), b"deep") is not None
        with pytest.raises(NotADirectoryError):
            src.resolve("share/deep/f.txt")


def test_a_file_swapped_for_a_symlink_or_fifo_is_gone(tree: Path) -> None:
    with DirSource(tree, fd_cache=1) as src:
        hard = src.resolve("hard")
        app = src.resolve("bin/app")
        src.read_all(src.resolve("share/deep/er/f.txt"))
        (tree / "hard").unlink()
        (tree / "hard").symlink_to(tree.parent / "outside" / "secret")
        with pytest.raises(FileNotFoundError):
            src.read_all(hard)
        (tree / "bin" / "app").unlink()
        os.mkfifo(tree / "bin" / "app")
        done: list[BaseException] = []

        def read() -> None:
            try:
                src.read_all(app)
            except BaseException as err:  # handed to the test thread
                done.append(err)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "opening a FIFO blocked"
        assert isinstance(done[0], FileNotFoundError)


def test_special_files_are_listed_never_opened(source: DirSource, tree: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tree / "sock"))
        entries = dict(source.listdir(source.root))
        assert stat.S_ISSOCK(entries[b"sock"].mode)
        for name in (b"sock", b"fifo"):
            with pytest.raises(OSError) as err:
                source.read(entries[name], 0, 1)
            assert err.value.errno == errno.EINVAL
            assert source.xattrs(entries[name]) == {}
    finally:
        sock.close()


@pytest.mark.requires_root
def test_device_nodes_keep_their_numbers(source: DirSource, tree: Path) -> None:
    os.mknod(tree / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    null = source.resolve("null")
    assert stat.S_ISCHR(null.mode) and null.rdev == os.makedev(1, 3) and null.size == 0
    with pytest.raises(OSError):
        source.read(null, 0, 1)


def test_content_is_live(source: DirSource, tree: Path) -> None:
    app = source.resolve("bin/app")
    assert source.read_all(app) == b"#!/bin/sh\necho app\n"
    (tree / "bin" / "app").write_text("#!/bin/sh\necho changed in place, longer\n")
    assert source.read_all(app) == b"#!/bin/sh\necho changed in place, longer\n"
    assert source.resolve("bin/app").size == len("#!/bin/sh\necho changed in place, longer\n")
    (tree / "bin" / "new").write_text("new\n")
    assert b"new" in names(source, source.resolve("bin"))
    replacement = tree / "bin" / ".app.tmp"
    replacement.write_text("replaced\n")
    os.replace(replacement, tree / "bin" / "app")  # how editors save
    fresh = source.resolve("bin/app")
    assert fresh.number != app.number and source.read_all(fresh) == b"replaced\n"
    (tree / "bin" / "new").unlink()
    assert source.lookup(source.resolve("bin"), b"new") is None
    (tree / "bin" / "app").chmod(0o700)
    assert stat.S_IMODE(source.resolve("bin/app").mode) == 0o700


def test_an_open_file_keeps_reading_after_replacement(source: DirSource, tree: Path) -> None:
    hard = source.resolve("hard")
    assert source.read_all(hard) == b"same\n"  # keeps a descriptor
    (tree / "hard").unlink()
    (tree / "hard2").unlink()
    assert source.read_all(hard) == b"same\n"


def test_xattrs(source: DirSource, tree: Path) -> None:
    target = tree / "bin" / "app"
    try:
        os.setxattr(target, "user.probe", b"value")
        os.setxattr(tree / "share", "user.dir", b"d")
    except OSError:
        pytest.skip("user xattrs unsupported here")
    assert source.xattrs(source.resolve("bin/app"))[b"user.probe"] == b"value"
    assert source.xattrs(source.resolve("share"))[b"user.dir"] == b"d"
    assert source.xattrs(source.resolve("link")) == {}


def test_the_root_may_be_a_symlink(tree: Path) -> None:
    alias = tree.parent / "alias"
    alias.symlink_to(tree)
    with DirSource(alias) as src:
        assert src.read_all(src.resolve("bin/app")).startswith(b"#!/bin/sh")


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(SnapFileError, match="no such file or directory"):
        DirSource(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(SnapFileError, match="not a directory"):
        DirSource(tmp_path / "file")


def test_descriptors_are_bounded_and_released(tree: Path) -> None:
    for i in range(100):
        (tree / "empty" / f"f{i}").write_text(str(i))
    before = len(os.listdir("/proc/self/fd"))
    src = DirSource(tree, fd_cache=8)
    files = [ino for _, ino in src.listdir(src.resolve("empty"))]
    assert [src.read_all(ino) for ino in files] == [str(i).encode() for i in sorted(
        range(100), key=lambda i: f"f{i}")]
    assert len(os.listdir("/proc/self/fd")) <= before + 1 + 8
    src.close()
    src.close()
    assert len(os.listdir("/proc/self/fd")) == before
    with pytest.raises(SnapFileError, match="closed"):
        src.read_all(files[0])


def test_concurrent_reads_with_evictions(tree: Path) -> None:
    expected = {}
    for i in range(40):
        data = os.urandom(1000 + i * 517)
        (tree / "empty" / f"f{i:02d}").write_bytes(data)
        expected[f"f{i:02d}".encode()] = data
    errors: list[BaseException] = []
    with DirSource(tree, fd_cache=3) as src:
        entries = src.listdir(src.resolve("empty"))

        def worker(seed: int) -> None:
            try:
                for k in range(300):
                    name, ino = entries[(seed * 7 + k * 13) % len(entries)]
                    off = (k * 97) % 900
                    assert src.read(ino, off, 200) == expected[name][off:off + 200]
            except BaseException as err:  # handed to the test thread
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert errors == []


@pytest.mark.requires_root
def test_unreadable_directories_can_still_be_searched() -> None:
    """As a plain user: a directory with mode 0711 can be looked in, not listed."""
    base = Path(tempfile.mkdtemp(prefix="dirsource-"))
    try:
        base.chmod(0o755)
        (base / "share" / "deep").mkdir(parents=True)
        (base / "share" / "deep" / "f.txt").write_bytes(b"deep\n")
        (base / "share").chmod(0o711)
        script = (
            "import sys; from usersnap.snapfile.dirsource import DirSource\n"
            "s = DirSource(sys.argv[1])\n"
            "print(s.read_all(s.resolve('share/deep/f.txt')).decode().strip())\n"
            "try:\n    s.listdir(s.resolve('share'))\nexcept PermissionError:\n"
            "    print('EACCES')\n"
        )
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
             "-c", script, str(base)], capture_output=True, text=True, timeout=60,
            cwd=REPO, check=False)  # fmt: skip
        if "No module named" in proc.stderr or "Permission denied: '" + str(REPO) in proc.stderr:
            pytest.skip("the repository is not readable by nobody")
        assert proc.stdout.split() == ["deep", "EACCES"], proc.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_mount_point_inside_lists_empty(tree: Path) -> None:
    """As under snapd's (non-recursive) bind mount; in a user namespace of its own."""
    (tree / "mnt").mkdir()
    script = (
        "import sys; from usersnap.snapfile.dirsource import DirSource\n"
        "s = DirSource(sys.argv[1])\n"
        "m = s.resolve('mnt')\n"
        "print(len(s.listdir(m)), s.lookup(m, b'x') is None, len(s.listdir(s.root)) > 1)\n"
    )
    inner = f"mount -t tmpfs none {tree / 'mnt'} && touch {tree / 'mnt' / 'x'} && " \
            f"{sys.executable} -c \"$0\" {tree}"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", inner, script], capture_output=True,
                          text=True, timeout=60, cwd=REPO, check=False)
    if proc.returncode != 0 and "unshare" in proc.stderr:
        pytest.skip(f"no user+mount namespace here: {proc.stderr.strip()}")
    assert proc.stdout.split() == ["0", "True", "True"], proc.stderr


# -- load_try_dir: snapd's trySnap checks, over the DirSource that will serve the revision --

YAML = """\
name: probe
version: '1.0'
apps:
  probe:
    command: bin/probe
"""


def try_dir(tmp_path: Path, snap_yaml: str = YAML) -> Path:
    root = write_snap_dir(tmp_path / "probe", snap_yaml, {"bin/probe": "#!/bin/sh\n"},
                          executables=["bin/probe"])
    root.chmod(0o755)
    return root


def test_load_try_dir(tmp_path: Path) -> None:
    root = try_dir(tmp_path)
    (root / "meta" / "hooks").mkdir()
    (root / "meta" / "hooks" / "configure").write_text("#!/bin/sh\n")
    (root / "meta" / "hooks" / "configure").chmod(0o755)
    loaded = load_try_dir(str(root))
    try:
        assert isinstance(loaded.image, DirSource)
        assert (loaded.info.name, list(loaded.info.apps)) == ("probe", ["probe"])
        assert "configure" in loaded.info.hooks  # implicit hooks, as snapd's try reads them
    finally:
        loaded.image.close()


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda p: "relative/dir", UsersnapError, 'cannot try "relative/dir": need an absolute path'),
    (lambda p: str(p / "nope"), UsersnapError, 'cannot try "{p}/nope": not a snap directory'),
    (lambda p: str(p), SnapFileError, '"{p}" is not a snap or snapdir'),
])
def test_load_try_dir_refuses(tmp_path: Path, make: object, error: type[Exception],
                              message: str) -> None:
    assert callable(make)
    with pytest.raises(error) as err:
        load_try_dir(make(tmp_path))
    assert str(err.value) == message.format(p=tmp_path)


def test_load_try_dir_wraps_snap_yaml_errors(tmp_path: Path) -> None:
    root = try_dir(tmp_path, "name: probe\nversion: [\n")
    with pytest.raises(SnapYamlError) as err:
        load_try_dir(str(root))
    assert str(err.value).startswith(f"cannot read snap info for {root}: cannot parse snap.yaml")
    root = try_dir(tmp_path, YAML.replace("name: probe", "name: Probe"))
    with pytest.raises(SnapYamlError, match=f"^cannot read snap info for {root}: cannot "
                                            'validate snap "Probe"'):
        load_try_dir(str(root))


def test_load_try_dir_checks_the_container(tmp_path: Path) -> None:
    root = try_dir(tmp_path)
    (root / "bin" / "probe").unlink()
    with pytest.raises(MissingFilesError) as err:
        load_try_dir(str(root))
    assert str(err.value) == f"cannot try {root}: snap is unusable due to missing files"
    assert err.value.value == ['in snap "probe": path "bin/probe" does not exist']
    loaded = load_try_dir(str(root), check_container=False)  # a re-attach at start-up
    loaded.image.close()


def test_container_checks_see_symlinks_as_snapd_does(tmp_path: Path) -> None:
    """A command that is a symlink to the outside is present (snapd lstats it), but a
    command under a symlinked directory is missing: snapd's walk does not descend."""
    root = try_dir(tmp_path)
    (root / "bin" / "probe").unlink()
    (root / "bin" / "probe").symlink_to("/bin/true")
    with DirSource(root) as src:
        loaded = load_try_dir(str(root))
        loaded.image.close()
        validate_container(loaded.info, ImageContainer(src))
    (root / "bin" / "probe").unlink()
    os.rename(root / "bin", tmp_path / "bin-real")
    (tmp_path / "bin-real" / "probe").write_text("#!/bin/sh\n")
    (tmp_path / "bin-real" / "probe").chmod(0o755)
    (root / "bin").symlink_to(tmp_path / "bin-real")
    with pytest.raises(MissingFilesError):
        load_try_dir(str(root))
