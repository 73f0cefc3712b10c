"""Bad input to SquashfsImage: every failure is a SnapFileError with a one-line message,
never a struct/ctypes/codec exception, and never a hang."""

from __future__ import annotations

import contextlib
import os
import random
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.snaps import mksquashfs
from usersnap.errors import SnapFileError
from usersnap.snapfile.squashfs import CorruptImageError, SquashfsImage

SUPERBLOCK = struct.Struct("<5I6H8Q")
FIELDS = [
    "magic", "inodes", "mkfs_time", "block_size", "fragments", "compression", "block_log",
    "flags", "no_ids", "major", "minor", "root_inode", "bytes_used", "id_table_start",
    "xattr_id_table_start", "inode_table_start", "directory_table_start",
    "fragment_table_start", "lookup_table_start",
]  # fmt: skip


def exercise(path: Path) -> None:
    """Open the image and touch everything in it, reading a bounded amount per file."""
    with SquashfsImage(path) as img:
        todo = [img.root]
        while todo:
            for _name, ino in img.listdir(todo.pop()):
                img.xattrs(ino)
                if ino.is_dir:
                    todo.append(ino)
                elif ino.is_symlink:
                    img.readlink(ino)
                elif ino.is_reg:
                    img.read(ino, 0, 2 * img.block_size)
                    img.read(ino, max(0, ino.size - 100), 100)


def survives(path: Path) -> bool:
    """True if ``exercise`` succeeds; False on SnapFileError; any other error fails."""
    try:
        exercise(path)
    except SnapFileError as err:
        message = str(err)
    else:
        return True
    assert "\n" not in message
    return False


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.snap"
    path.write_bytes(b"")
    with pytest.raises(SnapFileError) as caught:
        SquashfsImage(path)
    assert str(caught.value) == f'cannot open "{path}": not a SquashFS image'
    assert not isinstance(caught.value, CorruptImageError)


@pytest.mark.parametrize("size", [1, 3, 95, 96, 4096, 100_000])
def test_random_bytes(tmp_path: Path, size: int) -> None:
    path = tmp_path / "random.snap"
    path.write_bytes(b"\x00" + random.Random(size).randbytes(size - 1))
    with pytest.raises(SnapFileError, match="not a SquashFS image"):
        SquashfsImage(path)
    path.write_bytes(b"hsqs" + random.Random(size).randbytes(size))
    with pytest.raises(CorruptImageError, match=f"cannot read squashfs image {path}: "):
        SquashfsImage(path)


def test_unopenable_paths(tmp_path: Path) -> None:
    with pytest.raises(SnapFileError, match="no such file or directory"):
        SquashfsImage(tmp_path / "missing.snap")
    with pytest.raises(SnapFileError, match="is a directory"):
        SquashfsImage(tmp_path)


@dataclass(frozen=True)
class Built:
    path: Path
    data: bytes
    fields: dict[str, int]


def _build(tmp: Path, name: str, *extra: str) -> Built:
    src = tmp / f"{name}-src"
    if not src.exists():
        (src / "meta" / "sub").mkdir(parents=True)
        (src / "meta" / "snap.yaml").write_text("name: t\nversion: '1'\n")
        (src / "meta" / "sub" / "small").write_bytes(b"small file\n")
        (src / "big").write_bytes(b"compressible data block " * 20_000)
        (src / "empty").write_bytes(b"")
        (src / "big").chmod(0o755)
        os.link(src / "meta" / "snap.yaml", src / "hard")
        os.symlink("meta/snap.yaml", src / "link")
        with contextlib.suppress(OSError):
            os.setxattr(src / "big", "user.k", b"v" * 80)
    path = mksquashfs(src, tmp / f"{name}.sqfs", comp="gzip", extra=extra, snapd_flags=False)
    data = path.read_bytes()
    return Built(path, data, dict(zip(FIELDS, SUPERBLOCK.unpack_from(data), strict=True)))


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    tmp = tmp_path_factory.mktemp("corrupt")
    return {
        "compressed": _build(tmp, "compressed"),
        # Uncompressed tables: flipped bytes reach the structures, not just the codec.
        "plain": _build(tmp, "plain", "-noI", "-noD", "-noF", "-noX"),
    }


def _write(tmp_path: Path, data: bytes | bytearray) -> Path:
    path = tmp_path / "bad.snap"
    path.write_bytes(data)
    return path


@pytest.mark.requires_mksquashfs
def test_intact_images_work(images: dict[str, Built]) -> None:
    for built in images.values():
        assert survives(built.path)


@pytest.mark.requires_mksquashfs
@pytest.mark.parametrize("kind", ["compressed", "plain"])
def test_truncated(images: dict[str, Built], tmp_path: Path, kind: str) -> None:
    built = images[kind]
    used = built.fields["bytes_used"]
    for cut in (2, 50, 95, 96, 200, used // 2, used - 8, used - 1):
        path = _write(tmp_path, built.data[:cut])
        with pytest.raises(SnapFileError) as caught:
            SquashfsImage(path)
        if cut >= 96:
            assert "truncated" in str(caught.value)


@pytest.mark.requires_mksquashfs
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("magic", 0x68737173),  # big-endian squashfs
        ("major", 3),
        ("minor", 1),
        ("block_size", 3000),
        ("block_size", 2 << 20),
        ("block_log", 12),
        ("compression", 0),
        ("compression", 99),
        ("no_ids", 0),
        ("inodes", 0),
        ("bytes_used", 1 << 40),
        ("id_table_start", 1 << 40),
        ("inode_table_start", 1 << 40),
        ("directory_table_start", 10),
        ("fragment_table_start", 200),
        ("xattr_id_table_start", 97),
        ("root_inode", 1 << 50),
        ("root_inode", 0x1FFF),
    ],
)
def test_bad_superblock_field(
    images: dict[str, Built], tmp_path: Path, field: str, value: int
) -> None:
    built = images["compressed"]
    fields = dict(built.fields, **{field: value})
    if field == "block_size":  # keep block_log consistent to test the size check itself
        fields["block_log"] = max(value.bit_length() - 1, 0)
    data = SUPERBLOCK.pack(*(fields[name] for name in FIELDS)) + built.data[SUPERBLOCK.size :]
    assert not survives(_write(tmp_path, data))


@pytest.mark.requires_mksquashfs
@pytest.mark.parametrize("kind", ["compressed", "plain"])
def test_every_superblock_byte_flipped(images: dict[str, Built], tmp_path: Path, kind: str) -> None:
    built = images[kind]
    for offset in range(SUPERBLOCK.size):
        data = bytearray(built.data)
        data[offset] ^= 0xFF
        survives(_write(tmp_path, data))


@pytest.mark.requires_mksquashfs
@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["compressed", "plain"])
def test_every_table_byte_flipped(images: dict[str, Built], tmp_path: Path, kind: str) -> None:
    """Each byte of the inode, directory, fragment, id and xattr tables, one at a time."""
    built = images[kind]
    rng = random.Random(kind)
    for offset in range(built.fields["inode_table_start"], built.fields["bytes_used"]):
        data = bytearray(built.data)
        data[offset] ^= rng.randrange(1, 256)
        survives(_write(tmp_path, data))


@pytest.mark.requires_mksquashfs
@pytest.mark.parametrize("kind", ["compressed", "plain"])
def test_random_multibyte_damage(images: dict[str, Built], tmp_path: Path, kind: str) -> None:
    built = images[kind]
    rng = random.Random(7)
    for _ in range(300):
        data = bytearray(built.data)
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(SUPERBLOCK.size, len(data))] = rng.randrange(256)
        survives(_write(tmp_path, data))


@pytest.mark.requires_mksquashfs
def test_corrupt_data_block_fails_the_read(images: dict[str, Built], tmp_path: Path) -> None:
    built = images["compressed"]
    with SquashfsImage(built.path) as img:
        first_block = img.resolve("big")._start
    data = bytearray(built.data)
    data[first_block + 40] ^= 0x55
    with SquashfsImage(_write(tmp_path, data)) as img:
        big = img.resolve("big")
        with pytest.raises(CorruptImageError, match="cannot decompress data block"):
            img.read(big, 0, 10)
        assert img.read_all(img.resolve("meta/snap.yaml")).startswith(b"name: t")


def _patch_dir_inode(built: Built, name: bytes, at: int, fmt: str, value: int) -> bytearray:
    """Overwrite a field of directory ``name``'s inode in an uncompressed inode table."""
    with SquashfsImage(built.path) as img:
        ref = dict(img.listdir(img.root))[name].ref
    assert ref >> 16 == 0, "the test image's inodes fit in one metadata block"
    data = bytearray(built.data)
    struct.pack_into(fmt, data, built.fields["inode_table_start"] + 2 + (ref & 0xFFFF) + at, value)
    return data


@pytest.mark.requires_mksquashfs
def test_directory_with_a_foreign_parent_is_refused(
    images: dict[str, Built], tmp_path: Path
) -> None:
    """A subdirectory must name its lister as parent: cycles cannot be built."""
    data = _patch_dir_inode(images["plain"], b"meta", 16 + 12, "<I", 9999)
    with (
        SquashfsImage(_write(tmp_path, data)) as img,
        pytest.raises(CorruptImageError, match="linked more than once"),
    ):
        img.listdir(img.root)


@pytest.mark.requires_mksquashfs
@pytest.mark.parametrize(
    ("old", "new"), [(b"hard", b"h/rd"), (b"link", b"l\0nk"), (b"link", b"hard")]
)
def test_bad_names_are_refused(
    images: dict[str, Built], tmp_path: Path, old: bytes, new: bytes
) -> None:
    """A slash, a NUL or a name twice in one directory, even as its last entry."""
    built = images["plain"]
    data = bytearray(built.data)
    at = data.index(old, built.fields["directory_table_start"])
    data[at : at + len(old)] = new
    with (
        SquashfsImage(_write(tmp_path, data)) as img,
        pytest.raises(CorruptImageError, match=re.escape(f"has invalid name {new!r}")),
    ):
        img.listdir(img.root)


@pytest.mark.requires_mksquashfs
def test_directory_size_that_lies(images: dict[str, Built], tmp_path: Path) -> None:
    data = _patch_dir_inode(images["plain"], b"meta", 16 + 8, "<H", 0xFFFF)
    with SquashfsImage(_write(tmp_path, data)) as img:
        meta = img.resolve("meta")
        assert meta.size == 0xFFFF
        with pytest.raises(CorruptImageError):
            img.listdir(meta)


@pytest.mark.requires_mksquashfs
def test_reading_a_closed_image(images: dict[str, Built]) -> None:
    img = SquashfsImage(images["compressed"].path)
    big = img.resolve("big")
    img.close()
    img.close()  # idempotent
    with pytest.raises(SnapFileError, match="it is closed"):
        img.read(big, 0, 10)
