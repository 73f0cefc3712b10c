"""SquashfsImage against squashfs-tools on real images, and against the stock library.

Every image is compared field by field with ``unsquashfs -lln`` (modes, owners, sizes,
device numbers, mtimes, link targets) and with an ``unsquashfs -d`` extraction (content,
xattrs, link counts, exact mtimes).  The "stock" tests show each measured defect of
PySquashfsImage 0.9.0 next to our reader working on the same image.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import io
import os
import random
import re
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySquashfsImage import SquashFsImage
from PySquashfsImage.xattr import write_xattr

from tests.helpers.snaps import mksquashfs
from usersnap.errors import SnapFileError
from usersnap.snapfile.squashfs import Caches, Inode, SquashfsImage, UnsupportedCompressionError

pytestmark = pytest.mark.requires_mksquashfs

BS = 128 * 1024
NON_UTF8 = b"latin1_\xe9\xff.bin"
LONG_TARGET = ("d" * 99 + "/") * 10  # 1000 bytes
OOL_VALUE = b"shared value, long enough to be stored out of line " * 2
DEVICES = {b"chr": (4, 5), b"blk": (8, 1), b"bigdev": (300, 70000)}
PSEUDO = (
    "-p", "chr c 644 0 0 4 5",
    "-p", "blk b 600 0 0 8 1",
    "-p", "bigdev c 640 0 0 300 70000",
    "-p", "owned m 640 1234 5678",
)  # fmt: skip


@dataclass(frozen=True)
class Edge:
    src: Path
    xattrs: bool  # whether the source filesystem took user xattrs


def _text(size: int, seed: int) -> bytes:
    """Compressible but not trivially so (words from a small vocabulary)."""
    rng = random.Random(seed)
    words = [b"snap", b"squash", b"fuse", b"block", b"inode", b"\n", b"fragment", b"x" * 7]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def _build_edge_tree(root: Path) -> bool:
    root.mkdir()
    contents = {
        "empty": b"",
        "one": b"x",
        "exact": _text(BS, 1),
        "block_plus_one": _text(BS + 1, 2),
        "incompressible": os.urandom(3 * BS + 5),
        "zeros": bytes(2 * BS + 7),
        "big_text": _text(3 * 1024 * 1024 + 11, 3),
        "hard1": b"hard linked\n",
        "mode0000": b"secret\n",
        "setuid": b"#!/bin/sh\n",
        "owned": b"owned by 1234:5678\n",
        "ool_a": b"a",
        "ool_b": b"b",
        "n" * 255: b"long name\n",
        "ünïcødé.txt": b"unicode\n",
        "meta/snap.yaml": b"name: edge\nversion: '1'\n",
    }
    for rel, data in contents.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / os.fsdecode(NON_UTF8)).write_bytes(b"latin1\n")
    with open(root / "sparse", "wb") as f:
        f.seek(3 * BS + 100)
        f.write(b"middle")
        f.truncate(8 * BS)
    os.link(root / "hard1", root / "hard2")
    os.symlink("one", root / "rel_link")
    os.symlink("/nonexistent/target", root / "abs_dangling")
    os.symlink(LONG_TARGET, root / "long_link")
    os.mkfifo(root / "fifo")
    many = root / "many"
    many.mkdir()
    for i in range(3000):
        (many / f"f{i:04d}").write_bytes(f"{i}\n".encode() * (i % 7))
    deep = root.joinpath(*(f"d{i}" for i in range(40)))
    deep.mkdir(parents=True)
    (deep / "leaf").write_bytes(b"deep\n")
    os.utime(root / "one", (1_000_000_000, 1_000_000_000))
    (root / "setuid").chmod(0o4755)
    (root / "mode0000").chmod(0)
    try:
        os.setxattr(root / "one", "user.x", b"y")
        os.setxattr(root / "many", "user.dir", b"listing")
        for name, extra in (("ool_a", "user.a"), ("ool_b", "user.b")):
            os.setxattr(root / name, "user.big", OOL_VALUE)
            os.setxattr(root / name, extra, b"1")
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Edge:
    root = tmp_path_factory.mktemp("edge") / "src"
    return Edge(root, _build_edge_tree(root))


def _image(edge: Edge, comp: str, *extra: str, snapd: bool = False) -> Path:
    out = edge.src.parent / f"{comp}{'-snapd' if snapd else ''}{''.join(extra)}.sqfs"
    if not out.exists():
        mksquashfs(edge.src, out, comp=comp, extra=(*PSEUDO, *extra), snapd_flags=snapd)
    return out


def _walk(img: SquashfsImage) -> dict[bytes, Inode]:
    found = {b"": img.root}
    todo = [(b"", img.root)]
    while todo:
        prefix, d = todo.pop()
        for name, ino in img.listdir(d):
            path = prefix + b"/" + name
            found[path] = ino
            if ino.is_dir:
                todo.append((path, ino))
    return found


_LLN = re.compile(
    rb"^(\S{10}) (\d+)/(\d+) +(\d+|\d+, *\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(.*)$"
)


def _unsquashfs_lln(image: Path) -> dict[bytes, tuple[bytes, ...]]:
    out = subprocess.run(
        ["unsquashfs", "-lln", "-UTC", str(image)], check=True, capture_output=True, timeout=120
    ).stdout
    listing: dict[bytes, tuple[bytes, ...]] = {}
    for line in out.splitlines():
        match = _LLN.match(line)
        if match:
            mode, uid, gid, size, date, rest = match.groups()
            path, _, target = rest.partition(b" -> ") if mode[:1] == b"l" else (rest, b"", b"")
            listing[path] = (mode, uid, gid, size, date, target)
    return listing


def _extract(image: Path) -> Path:
    dest = image.with_suffix(".extracted")
    if not dest.exists():
        subprocess.run(
            ["unsquashfs", "-no-progress", "-d", str(dest), "-excludes", str(image), *DEVICES],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    return dest


def _read_extracted(path: Path) -> bytes:
    if not os.access(path, os.R_OK):  # the 0000 file, when not root
        path.chmod(0o400)
    return path.read_bytes()


def _lxattrs(path: Path) -> dict[bytes, bytes]:
    names = os.listxattr(path, follow_symlinks=False)
    return {n.encode(): os.getxattr(path, n, follow_symlinks=False) for n in names}


def assert_matches_unsquashfs(image: Path, edge: Edge) -> None:
    lln = _unsquashfs_lln(image)
    dest = _extract(image)
    with SquashfsImage(image) as img:
        tree = _walk(img)
        assert set(tree) == set(lln)
        for path, ino in tree.items():
            mode, uid, gid, size, date, target = lln[path]
            assert stat.filemode(ino.mode).encode() == mode, path
            assert (ino.uid, ino.gid) == (int(uid), int(gid)), path
            if stat.S_ISCHR(ino.mode) or stat.S_ISBLK(ino.mode):
                major, minor = os.major(ino.rdev), os.minor(ino.rdev)
                assert DEVICES[path.lstrip(b"/")] == (major, minor)
                # unsquashfs -lln shows the raw (Linux new_encode_dev) word as word >> 8,
                # word & 0xff; its extraction decodes it as we do.
                word = (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)
                assert [int(n) for n in size.split(b",")] == [word >> 8, word & 0xFF]
                continue
            assert ino.size == int(size), path
            assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(ino.mtime)).encode() == date
            local = dest / os.fsdecode(path.lstrip(b"/"))
            st = local.lstat()
            assert st.st_mtime_ns == ino.mtime * 10**9, path
            assert st.st_nlink == ino.nlink, path
            if ino.is_symlink:
                assert img.readlink(ino) == target == os.readlink(os.fsencode(local))
            elif ino.is_reg:
                data = img.read_all(ino)
                assert len(data) == ino.size
                assert data == _read_extracted(local), path
            if not ino.is_symlink:
                assert img.xattrs(ino) == _lxattrs(local), path
        if edge.xattrs and image.name.startswith(("xz.", "gzip.")):
            assert img.xattrs(img.resolve("one")) == {b"user.x": b"y"}
            ool = img.xattrs(img.resolve("ool_b"))
            assert ool == {b"user.big": OOL_VALUE, b"user.b": b"1"}
        hard1, hard2 = img.resolve("hard1"), img.resolve("hard2")
        assert hard1 == hard2
        assert hard1.nlink == 2


@pytest.mark.parametrize(
    ("comp", "extra", "snapd"),
    [
        ("xz", (), False),
        ("gzip", (), False),
        ("lzo", (), False),
        ("lzma", (), False),
        ("xz", (), True),
        ("gzip", ("-b", "4096", "-noI", "-noD"), False),
        ("xz", ("-b", "1M", "-always-use-fragments"), False),
    ],
)
def test_matches_unsquashfs(edge: Edge, comp: str, extra: tuple[str, ...], snapd: bool) -> None:
    assert_matches_unsquashfs(_image(edge, comp, *extra, snapd=snapd), edge)


@pytest.mark.parametrize(("comp", "module"), [("lz4", "lz4"), ("zstd", "zstandard")])
def test_optional_codecs(edge: Edge, comp: str, module: str) -> None:
    image = _image(edge, comp)
    if importlib.util.find_spec(module) is not None:
        assert_matches_unsquashfs(image, edge)
        return
    with pytest.raises(UnsupportedCompressionError) as caught:
        SquashfsImage(image)
    assert str(caught.value) == (
        f"cannot read squashfs image {image}: {comp} compression needs the Python module "
        f'"{module}", which is not installed'
    )


def test_reads_at_any_offset(edge: Edge) -> None:
    with SquashfsImage(_image(edge, "xz")) as img:
        for name in ("exact", "block_plus_one", "incompressible", "sparse", "zeros", "one"):
            ino = img.resolve(name)
            data = (edge.src / name).read_bytes()
            offsets = {0, 1, BS - 1, BS, BS + 1, len(data) - 1, len(data), len(data) + 10}
            for offset in sorted(o for o in offsets if o >= 0):
                for size in (0, 1, 4096, BS, 3 * BS, 10 * BS):
                    assert img.read(ino, offset, size) == data[offset : offset + size]


def test_read_ready_answers_from_cached_blocks_only(edge: Edge) -> None:
    """The FUSE loop's no-thread path: never reads or decompresses, agrees with read()."""
    with SquashfsImage(_image(edge, "xz"), caches=Caches(), read_ahead=0) as img:
        ino = img.resolve("big_text")
        data = (edge.src / "big_text").read_bytes()
        assert img.read_ready(ino, 0, BS) is None  # nothing read yet
        assert img.read(ino, BS, 2 * BS) == data[BS : 3 * BS]  # blocks 1 and 2
        before = img.stats()
        for offset, size in ((BS, BS), (BS + 5, BS), (2 * BS - 1, 2), (BS, 2 * BS)):
            assert img.read_ready(ino, offset, size) == data[offset : offset + size]
        assert img.read_ready(ino, 0, BS + 1) is None  # block 0 is not cached
        assert img.read_ready(ino, 3 * BS - 1, 2) is None  # nor block 3
        assert img.stats() == before
        # sparse blocks need nothing; a fragment tail and a directory go to read()
        sparse = img.resolve("sparse")
        img.read(sparse, 0, 1)  # loads the block list
        assert img.read_ready(sparse, 0, BS) == bytes(BS)
        assert img.read_ready(img.resolve("meta"), 0, 1) is None
        assert img.read_ready(ino, len(data), 10) is None
    with SquashfsImage(_image(edge, "xz", "-always-use-fragments"), caches=Caches()) as img:
        tail = img.resolve("block_plus_one")
        assert img.read(tail, BS, 1) == (edge.src / "block_plus_one").read_bytes()[BS:]
        assert img.read_ready(tail, BS, 1) is None


def test_sequential_reader_is_read_ahead(edge: Edge) -> None:
    """Read-ahead decompresses the next blocks (and asks the kernel for their bytes)
    while the reader uses the current one; they are then ready without a thread."""
    with SquashfsImage(_image(edge, "xz"), caches=Caches(), read_ahead=4) as img:
        ino = img.resolve("big_text")
        data = (edge.src / "big_text").read_bytes()
        assert img.read(ino, 0, BS) == data[:BS]
        deadline = time.monotonic() + 10
        while img.read_ready(ino, BS, 4 * BS) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert img.read_ready(ino, BS, 4 * BS) == data[BS : 5 * BS]


def test_prefetch_decompresses_first_blocks_in_the_background(edge: Edge) -> None:
    with SquashfsImage(_image(edge, "xz"), caches=Caches()) as img:
        files = [img.resolve(name) for name in ("big_text", "exact", "one")]
        img.prefetch(files)
        deadline = time.monotonic() + 10
        while img.stats()["data_blocks"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        # the first block of each (a read would start the read-ahead of the rest); "one"
        # is a fragment, left to its reader
        assert img.stats()["data_blocks"] == 2
        assert img.read_ready(files[1], 0, BS) == (edge.src / "exact").read_bytes()
        assert img.read_ready(files[0], 0, BS) == (edge.src / "big_text").read_bytes()[:BS]



def test_no_prefetch_for_fast_codecs(edge: Edge) -> None:
    """lzo decodes a small file sooner than the pool hand-over costs: a walk reads it."""
    with SquashfsImage(_image(edge, "lzo"), caches=Caches()) as img:
        img.prefetch([img.resolve(name) for name in ("big_text", "exact")])
        assert not img._ahead_jobs
        assert img.stats()["data_blocks"] == 0


def test_close_waits_for_the_jobs_a_prefetch_submits(edge: Edge) -> None:
    """A prefetch job submits block jobs of its own: close() must outwait those too,
    or one would pread a descriptor closed (and maybe reused) under it."""
    for _ in range(20):
        img = SquashfsImage(_image(edge, "xz"), caches=Caches())
        files = [ino for _, ino in img.listdir(img.resolve("many"))][:200]
        img.prefetch([img.resolve("big_text"), img.resolve("exact"), *files])
        img.close()
        assert all(job.done() for job in img._ahead_jobs)
        img.prefetch(files)  # closed: nothing is started
        assert not img._ahead_jobs or all(job.done() for job in img._ahead_jobs)


def test_resolve(edge: Edge) -> None:
    with SquashfsImage(_image(edge, "xz")) as img:
        assert img.resolve("") == img.resolve("/") == img.resolve(".") == img.root
        assert img.resolve("meta/snap.yaml") == img.resolve(b"/meta//./snap.yaml")
        assert img.resolve("meta/../one") == img.resolve("one")
        assert img.resolve("../../one") == img.resolve("one")
        deep = "/".join(f"d{i}" for i in range(40)) + "/leaf"
        assert img.read_all(img.resolve(deep)) == b"deep\n"
        assert img.read_all(img.resolve(NON_UTF8)) == b"latin1\n"
        assert img.read_all(img.resolve(os.fsdecode(NON_UTF8))) == b"latin1\n"
        assert img.resolve("n" * 255).size == len(b"long name\n")
        assert img.lookup(img.root, b"missing") is None
        with pytest.raises(FileNotFoundError):
            img.resolve("meta/missing.yaml")
        with pytest.raises(NotADirectoryError):
            img.resolve("one/x")
        with pytest.raises(NotADirectoryError):
            img.resolve("one/")
        with pytest.raises(NotADirectoryError):  # symlinks are not followed
            img.resolve("rel_link/x")
        with pytest.raises(NotADirectoryError):
            img.listdir(img.resolve("one"))
        with pytest.raises(IsADirectoryError):
            img.read(img.resolve("meta"), 0, 1)
        with pytest.raises(OSError, match="Invalid argument") as caught:
            img.readlink(img.resolve("one"))
        assert caught.value.errno == errno.EINVAL
        assert img.readlink(img.resolve("long_link")) == LONG_TARGET.encode()
        names = [name for name, _ino in img.listdir(img.resolve("many"))]
        assert names == sorted(names) and len(names) == 3000


def test_threads_read_in_parallel(edge: Edge) -> None:
    """8 threads over one image with small caches, so they keep evicting each other."""
    image = _image(edge, "xz")
    dest = _extract(image)
    with SquashfsImage(image, caches=Caches(data_bytes=4 << 17, meta_bytes=16 << 13)) as img:
        files = [
            p for p, ino in _walk(img).items()
            if ino.is_reg and ino.size and not (p.startswith(b"/many/") and p[-1] % 10)
        ]  # fmt: skip
        expected = {
            p: hashlib.sha256(_read_extracted(dest / os.fsdecode(p[1:]))).digest() for p in files
        }

        def worker(seed: int) -> dict[bytes, bytes]:
            order = files[:]
            random.Random(seed).shuffle(order)
            return {p: hashlib.sha256(img.read_all(img.resolve(p))).digest() for p in order}

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(worker, range(8)))
    assert all(result == expected for result in results)


# -- laziness --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_files_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("many") / "src"
    for d in range(20):
        sub = src / f"dir{d:02d}"
        sub.mkdir(parents=True)
        for f in range(1000):
            (sub / f"file{f:04d}").touch()
    return mksquashfs(src, src.parent / "many.sqfs", comp="xz", snapd_flags=False)


def test_open_reads_no_directory(many_files_image: Path) -> None:
    with SquashfsImage(many_files_image) as img:
        assert img.inode_count == 20_021
        assert img.stats()["metadata_blocks"] <= 2  # the id table + the root inode's block
        dirs = img.listdir(img.root)
        assert len(dirs) == 20
        # the root listing + one inode block per subdirectory (each follows its files)
        assert img.stats()["metadata_blocks"] <= 2 + 2 + 20
        assert sum(len(img.listdir(ino)) for _name, ino in dirs) == 20_000
        assert img.stats()["metadata_blocks"] > 100  # what a full scan at open would cost


def test_stock_library_scans_everything_at_open(
    many_files_image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = SquashFsImage._read_inode

    def counting(self: SquashFsImage, block: int, offset: int) -> object:
        calls.append(block)
        return original(self, block, offset)

    monkeypatch.setattr(SquashFsImage, "_read_inode", counting)
    stock = SquashFsImage.from_file(str(many_files_image))
    stock.close()
    assert len(calls) == 20_021  # every inode, before anyone asked for one


# -- the other measured defects of PySquashfsImage 0.9.0 ---------------------------------


def test_stock_library_cannot_open_a_non_utf8_name(edge: Edge) -> None:
    image = _image(edge, "xz")
    with pytest.raises(UnicodeDecodeError):
        SquashFsImage.from_file(str(image))
    with SquashfsImage(image) as img:
        assert NON_UTF8 in dict(img.listdir(img.root))


def test_stock_library_cannot_decode_lz4(edge: Edge) -> None:
    image = _image(edge, "lz4")
    stock_error: type[Exception] = RuntimeError  # LZ4F_getFrameInfo: lz4.frame on raw blocks
    if importlib.util.find_spec("lz4") is None:
        stock_error = ImportError
    with pytest.raises(stock_error):
        SquashFsImage.from_file(str(image))
    if importlib.util.find_spec("lz4") is None:
        with pytest.raises(UnsupportedCompressionError, match='"lz4"'):
            SquashfsImage(image)
    else:
        with SquashfsImage(image) as img:
            assert img.read_all(img.resolve("exact")) == (edge.src / "exact").read_bytes()


def test_stock_library_drops_xattrs(edge: Edge, tmp_path: Path) -> None:
    if not edge.xattrs:
        pytest.skip("the temporary directory's filesystem takes no user xattrs")
    stock_src = edge.src.parent / "ascii-src"
    if not stock_src.exists():  # the stock library needs UTF-8 names to open at all
        stock_src.mkdir()
        (stock_src / "one").write_bytes(b"x")
        os.setxattr(stock_src / "one", "user.x", b"y")
    image = mksquashfs(stock_src, tmp_path / "ascii.sqfs", snapd_flags=False)
    stock = SquashFsImage.from_file(str(image))
    target = tmp_path / "extracted"
    target.write_bytes(b"")
    write_xattr(str(target), stock.select("one"))  # its xattr "writer" is a stub
    stock.close()
    assert os.listxattr(target) == []
    with SquashfsImage(image) as img:
        assert img.xattrs(img.resolve("one")) == {b"user.x": b"y"}


def test_stock_library_shares_one_file_position(edge: Edge) -> None:
    """Its reads are seek()+read() on one file object: another thread's read landing
    between the two (forced here, deterministically) makes it read the wrong bytes."""
    src = edge.src.parent / "shared-src"
    if not src.exists():
        src.mkdir()
        (src / "a").write_bytes(_text(2 * BS, 7))
        (src / "b").write_bytes(_text(2 * BS, 8))
    image = mksquashfs(src, src.parent / "shared.sqfs", comp="gzip")

    class Interleaved(io.FileIO):
        other: object = None

        def read(self, size: int | None = -1) -> bytes:
            if self.other is not None and size is not None and size > 4096:
                other, self.other = self.other, None
                stock.read_file(other)  # "thread B" moves the shared position
            return super().read(size)

    stock = SquashFsImage(Interleaved(str(image), "r"))
    Interleaved.other = stock.select("b").inode
    try:
        result: bytes | Exception = stock.read_file(stock.select("a").inode)
    except Exception as err:
        result = err
    finally:
        Interleaved.other = None
        stock.close()
    assert result != (src / "a").read_bytes()
    with SquashfsImage(image) as img:
        assert img.read_all(img.resolve("a")) == (src / "a").read_bytes()


def test_stock_library_reports_a_missing_lzo_module_raw(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = _image(edge, "lzo")
    monkeypatch.setitem(sys.modules, "lzo", None)
    with pytest.raises(ModuleNotFoundError):
        SquashFsImage.from_file(str(image))
    with pytest.raises(UnsupportedCompressionError) as caught:
        SquashfsImage(image)
    assert "lzo compression needs the Python module" in str(caught.value)
    assert isinstance(caught.value, SnapFileError)
