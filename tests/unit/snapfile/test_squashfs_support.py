"""The format-free parts of the SquashFS reader: codecs, LRU, cursor, xattr pairs."""

from __future__ import annotations

import lzma
import struct
import sys
import threading
import types
import zlib
from collections.abc import Callable

import pytest

from usersnap.snapfile._squashfs_support import (
    LRU,
    CodecMissingError,
    Cursor,
    Malformed,
    Region,
    decode_gzip,
    decode_lzma,
    decode_rdev,
    decode_xz,
    lz4_decoder,
    read_xattr_pairs,
    zstd_decoder,
)

DATA = b"squashfs " * 1000


@pytest.mark.parametrize(
    ("decode", "compress"),
    [
        (decode_gzip, zlib.compress),
        (decode_xz, lambda data: lzma.compress(data, lzma.FORMAT_XZ)),
        (decode_lzma, lambda data: lzma.compress(data, lzma.FORMAT_ALONE)),
    ],
)
def test_stream_decoders_are_bounded(
    decode: Callable[[bytes, int], bytes], compress: Callable[[bytes], bytes]
) -> None:
    packed = compress(DATA)
    assert decode(packed, len(DATA)) == DATA  # exactly at the limit
    assert decode(packed, 8192 * 2) == DATA
    with pytest.raises(Malformed, match="more than"):
        decode(packed, len(DATA) - 1)
    with pytest.raises(Malformed, match="truncated"):
        decode(packed[: len(packed) // 2], len(DATA))
    with pytest.raises(Exception):  # noqa: B017 - the codec's own error, wrapped by the image
        decode(b"\x00garbage" * 4, len(DATA))


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: object) -> None:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def test_lz4_uses_raw_blocks_not_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """PySquashfsImage calls lz4.frame.decompress, which cannot read squashfs blocks."""
    calls: list[tuple[bytes, int]] = []

    def block_decompress(src: bytes, uncompressed_size: int) -> bytes:
        calls.append((src, uncompressed_size))
        return b"out"

    def frame_decompress(src: bytes) -> bytes:
        raise AssertionError("lz4.frame must not be used")

    _fake_module(monkeypatch, "lz4")
    _fake_module(monkeypatch, "lz4.block", decompress=block_decompress)
    _fake_module(monkeypatch, "lz4.frame", decompress=frame_decompress)
    assert lz4_decoder()(b"raw", 8192) == b"out"
    assert calls == [(b"raw", 8192)]


@pytest.mark.parametrize(("module", "factory"), [("lz4", lz4_decoder), ("zstandard", zstd_decoder)])
def test_missing_codec_module(
    monkeypatch: pytest.MonkeyPatch, module: str, factory: Callable[[], object]
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, f"{module}.block", None)
    with pytest.raises(CodecMissingError) as caught:
        factory()
    assert caught.value.module == module


def test_zstd_gets_one_decompressor_per_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []

    class ZstdDecompressor:
        def __init__(self) -> None:
            made.append(threading.get_ident())

        def decompress(self, src: bytes, max_output_size: int) -> bytes:
            return src[:max_output_size]

    sizes = {b"big": 10_000}
    _fake_module(
        monkeypatch, "zstandard", ZstdDecompressor=ZstdDecompressor,
        frame_content_size=lambda src: sizes.get(src, -1),
    )  # fmt: skip
    decode = zstd_decoder()
    assert decode(b"abc", 10) == b"abc"
    assert decode(b"abc", 10) == b"abc"
    threads = [threading.Thread(target=decode, args=(b"x", 10)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 4 and len(set(made)) >= 2
    with pytest.raises(Malformed, match="more than 8192"):
        decode(b"big", 8192)


def test_lru_evicts_least_recently_used() -> None:
    lru: LRU[int, str] = LRU(2)
    lru.put(1, "a")
    lru.put(2, "b")
    assert lru.get(1) == "a"  # 2 is now the oldest
    lru.put(3, "c")
    assert (lru.get(1), lru.get(2), lru.get(3)) == ("a", None, "c")
    lru.put(3, "other")  # a value another thread computed first wins
    assert lru.get(3) == "c"


def test_lru_weights_and_zero_capacity() -> None:
    lru: LRU[str, list[int]] = LRU(10, weight=len)
    lru.put("big", list(range(8)))
    lru.put("small", [1, 2])
    assert len(lru) == 2
    lru.put("more", [1])
    assert lru.get("big") is None and lru.get("small") == [1, 2]
    lru.put("huge", list(range(50)))  # heavier than the budget: kept, alone
    assert len(lru) == 1 and lru.get("huge") is not None
    off: LRU[int, int] = LRU(0)
    off.put(1, 1)
    assert off.get(1) is None


def _blocks(
    *chunks: bytes, start: int = 100
) -> tuple[Region, Callable[[Region, int], tuple[bytes, int]]]:
    """Fake metadata blocks at positions start, start+10, ... holding ``chunks``."""
    table = {start + 10 * i: (chunk, start + 10 * (i + 1)) for i, chunk in enumerate(chunks)}

    def fetch(region: Region, pos: int) -> tuple[bytes, int]:
        if pos not in table:
            raise Malformed(f"no block at {pos}")
        return table[pos]

    return Region(start, start + 10 * len(chunks)), fetch


def test_cursor_reads_across_blocks() -> None:
    region, fetch = _blocks(b"abcd", b"efgh", b"ij")
    cur = Cursor(fetch, region, 100, 2)
    assert cur.read(0) == b""
    assert cur.read(4) == b"cdef"
    assert (cur.block, cur.offset) == (110, 2)
    assert cur.read(2) == b"gh"
    assert (cur.block, cur.offset) == (120, 0)  # ended exactly at a block's end
    assert cur.unpack("<H") == (struct.unpack("<H", b"ij")[0],)
    with pytest.raises(Malformed):
        cur.read(1)
    with pytest.raises(Malformed, match="past its block"):
        Cursor(fetch, region, 100, 4).read(1)


def test_cursor_unpack_named_only_inside_one_block() -> None:
    layout = struct.Struct("<HH")  # a value, then the name's length minus one
    entry = layout.pack(7, 2) + b"abc"
    region, fetch = _blocks(entry + layout.pack(8, 4) + b"de", b"fgh" + b"!")
    cur = Cursor(fetch, region, 100, 0)
    assert cur.unpack_named(layout) is None  # nothing fetched yet: the caller reads
    assert cur.unpack_struct(layout) == (7, 2) and cur.read(3) == b"abc"
    assert cur.unpack_named(layout) is None  # the name runs into the next block
    assert (cur.block, cur.offset) == (100, len(entry))  # and nothing was consumed
    assert cur.unpack_struct(layout) == (8, 4) and cur.read(5) == b"defgh"
    region, fetch = _blocks(b"x" + entry)
    cur = Cursor(fetch, region, 100, 0)
    assert cur.read(1) == b"x"
    assert cur.unpack_named(layout) is None  # it would end exactly at the block's end
    assert cur.unpack_struct(layout) == (7, 2) and cur.read(3) == b"abc"


def test_cursor_unpack_named_in_place() -> None:
    layout = struct.Struct("<HH")
    region, fetch = _blocks(layout.pack(1, 0) + b"a" + layout.pack(2, 1) + b"bc" + b"tail")
    cur = Cursor(fetch, region, 100, 0)
    assert cur.read(4) == layout.pack(1, 0)  # fetches the block
    assert cur.read(1) == b"a"
    assert cur.unpack_named(layout) == ((2, 1), b"bc")
    assert cur.read(4) == b"tail"


def _pair(kind: int, name: bytes, value: bytes) -> bytes:
    return struct.pack("<HH", kind, len(name)) + name + struct.pack("<I", len(value)) + value


def test_xattr_pairs_inline_and_out_of_line() -> None:
    shared = struct.pack("<I", 5) + b"value"
    pairs = (
        _pair(0, b"x", b"y")
        + _pair(2, b"capability", b"\x01\x02")
        + _pair(0x100 | 1, b"ool", struct.pack("<Q", 3 << 16 | 7))
    )
    region, fetch = _blocks(pairs)
    ool_region, ool_fetch = _blocks(b"\x00" * 7 + shared, start=1000)

    def value_cursor(ref: int) -> Cursor:
        assert ref == 3 << 16 | 7
        return Cursor(ool_fetch, ool_region, 1000, 7)

    found = read_xattr_pairs(Cursor(fetch, region, 100, 0), 3, value_cursor)
    assert found == {b"user.x": b"y", b"security.capability": b"\x01\x02", b"trusted.ool": b"value"}


@pytest.mark.parametrize(
    "pair",
    [
        _pair(3, b"x", b"y"),  # unknown prefix
        _pair(0x200, b"x", b"y"),  # unknown flag
        _pair(0, b"n" * 251, b"y"),  # name longer than XATTR_NAME_MAX with its prefix
        _pair(0x100, b"x", b"1234"),  # out-of-line reference of the wrong size
        struct.pack("<HH", 0, 1) + b"x" + struct.pack("<I", 70000),  # value over 64 KiB
    ],
)
def test_xattr_pairs_reject_malformed(pair: bytes) -> None:
    region, fetch = _blocks(pair)
    with pytest.raises(Malformed):
        read_xattr_pairs(
            Cursor(fetch, region, 100, 0), 1, lambda ref: Cursor(fetch, region, 100, 0)
        )


def test_decode_rdev_inverts_linux_new_encode_dev() -> None:
    for major, minor in ((0, 0), (4, 5), (8, 1), (300, 70000), (4095, 0xFFFFF)):
        word = (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)
        assert decode_rdev(word) == (major, minor)
