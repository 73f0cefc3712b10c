"""The parts of the SquashFS reader that need no PySquashfsImage structure.

``squashfs.py`` is the only module allowed to import PySquashfsImage; what is here (the
inode record, a metadata cursor, the xattr pair format the library does not describe,
bounded decoders and a thread-safe LRU) is split off to keep that module readable.
Code here raises :class:`Malformed` with a short description; the image adds its path
and turns it into a CorruptImageError.
"""

from __future__ import annotations

import lzma
import stat
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from ctypes import sizeof
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

INVALID_INDEX = 0xFFFFFFFF  # SQUASHFS_INVALID_FRAG and SQUASHFS_INVALID_XATTR
XATTR_NAME_MAX = 255
XATTR_SIZE_MAX = 65536
XATTR_VALUE_OOL = 0x100
XATTR_PREFIXES = {0: b"user.", 1: b"trusted.", 2: b"security."}

#: ``decode(src, limit)``: decompress one block into at most ``limit`` bytes, raising
#: whatever the codec raises on bad input.
Decoder = Callable[[bytes, int], bytes]


class Malformed(Exception):
    """Something read from the image is inconsistent; ``str()`` says what."""


class CodecMissingError(Exception):
    """The Python module a compression needs is not installed."""

    def __init__(self, module: str) -> None:
        super().__init__(module)
        self.module = module


@dataclass(slots=True, unsafe_hash=True)
class Inode:
    """One inode as read from the inode table; fields starting with ``_`` are private.

    Read-only by convention, not ``frozen``: a frozen dataclass sets each field through
    ``object.__setattr__``, 1.9 µs per inode against 0.25, a fifth of listing a cold
    directory.
    """

    ref: int
    number: int
    mode: int
    uid: int
    gid: int
    mtime: int
    size: int
    nlink: int
    rdev: int
    xattr: int
    #: directory: listing block (relative to the directory table); file: first data block
    _start: int = 0
    #: directory: offset in the listing block; file: offset in its fragment block
    _offset: int = 0
    _fragment: int = INVALID_INDEX
    #: file: where its block list starts (metadata block position << 16 | offset)
    _blocklist: int = 0
    #: directory: the parent's inode number, to refuse directory cycles
    _parent: int = 0
    _target: bytes = b""
    #: nanoseconds past ``mtime``: a tried directory's files have them, squashfs keeps
    #: whole seconds (and the kernel keeps a directory's listing while mtime holds)
    mtime_nsec: int = 0

    @property
    def mtime_ns(self) -> int:
        return self.mtime * 1_000_000_000 + self.mtime_nsec

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_reg(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


class Region(NamedTuple):
    """Where the metadata blocks of one table may lie: [start, end) in the file."""

    start: int
    end: int


#: ``fetch(region, pos)`` -> (decompressed metadata block at pos, position of the next)
BlockFetcher = Callable[[Region, int], tuple[bytes, int]]


class Cursor:
    """Consecutive bytes of a metadata table, read across its 8 KiB blocks.

    Every step moves forward through a bounded region, so no sequence of reads loops.
    """

    def __init__(self, fetch: BlockFetcher, region: Region, block: int, offset: int) -> None:
        self._fetch = fetch
        self._region = region
        self.block = block
        self.offset = offset
        self._data = b""  # the current block, once fetched: most reads stay inside it
        self._following = -1

    def read(self, length: int) -> bytes:
        parts: list[bytes] = []
        while length > 0:
            if self._following < 0:
                self._data, self._following = self._fetch(self._region, self.block)
            data = self._data
            if self.offset >= len(data):
                raise Malformed(f"metadata offset {self.offset} is past its block")
            chunk = data[self.offset : self.offset + length]
            length -= len(chunk)
            self.offset += len(chunk)
            if self.offset == len(data):
                self.block, self.offset, self._following = self._following, 0, -1
            if not parts and not length:
                return chunk
            parts.append(chunk)
        return b"".join(parts)

    def unpack_struct(self, layout: struct.Struct) -> tuple[Any, ...]:
        """``layout``'s fields, unpacked in place when they lie inside the current block
        (nearly always: listing a directory is mostly this)."""
        data, offset = self._data, self.offset
        end = offset + layout.size
        if self._following >= 0 and end < len(data):
            self.offset = end
            return layout.unpack_from(data, offset)
        return layout.unpack(self.read(layout.size))

    def unpack_named(self, layout: struct.Struct) -> tuple[tuple[Any, ...], bytes] | None:
        """``layout``'s fields and the name after them, whose length minus one is the
        last field (a directory entry), read in place when both lie inside the current
        block; None, having read nothing, when they do not."""
        data, offset = self._data, self.offset
        end = offset + layout.size
        if self._following >= 0 and end < len(data):
            fields = layout.unpack_from(data, offset)
            stop = end + fields[-1] + 1
            if stop < len(data):
                self.offset = stop
                return fields, data[end:stop]
        return None

    def struct(self, cls: Any) -> Any:
        """One ctypes structure (PySquashfsImage's), copied out of the table."""
        return cls.from_buffer_copy(self.read(sizeof(cls)))

    def unpack(self, fmt: str) -> tuple[int, ...]:
        values: tuple[int, ...] = struct.unpack(fmt, self.read(struct.calcsize(fmt)))
        return values


def read_xattr_pairs(
    cur: Cursor, count: int, value_cursor: Callable[[int], Cursor]
) -> dict[bytes, bytes]:
    """``count`` name/value pairs at ``cur`` (squashfs-tools' xattr.h layout).

    A pair is u16 type (prefix index, 0x100 = value stored elsewhere), u16 name size,
    the name without its prefix, u32 value size and the value, or, out of line, a u64
    reference (resolved by ``value_cursor``) to a u32 size and the value.
    """
    found: dict[bytes, bytes] = {}
    for _ in range(count):  # each pass consumes at least 8 bytes of a bounded table
        kind, name_size = cur.unpack("<HH")
        prefix = XATTR_PREFIXES.get(kind & 0xFF)
        if prefix is None or kind & ~0x1FF or len(prefix) + name_size > XATTR_NAME_MAX:
            raise Malformed(f"invalid xattr name (type {kind:#x}, size {name_size})")
        name = prefix + cur.read(name_size)
        (size,) = cur.unpack("<I")
        source = cur
        if kind & XATTR_VALUE_OOL:
            if size != 8:
                raise Malformed(f"invalid out-of-line reference for xattr {name!r}")
            source = value_cursor(cur.unpack("<Q")[0])
            (size,) = source.unpack("<I")
        if size > XATTR_SIZE_MAX:
            raise Malformed(f"xattr {name!r} is {size} bytes long")
        found[name] = source.read(size)
    return found


def decode_rdev(dev: int) -> tuple[int, int]:
    """(major, minor) from Linux's new_encode_dev layout, which squashfs stores."""
    return (dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00)


class LRU(Generic[K, V]):
    """A bounded map, least recently used out first, safe to share between threads.

    Values are computed by the caller outside the lock: two threads missing the same key
    both compute it (harmless, the image is immutable) but never wait for each other's
    decompression.  ``weight`` lets an entry count for several units (a listing counts
    its entries); an entry heavier than the whole budget stays until the next insertion.
    """

    def __init__(self, capacity: int, weight: Callable[[V], int] | None = None) -> None:
        self._capacity = capacity
        self._weight = weight or (lambda _value: 1)
        self._data: OrderedDict[K, V] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if self._capacity <= 0:
            return
        weight = self._weight(value)
        with self._lock:
            if key in self._data:
                return
            self._data[key] = value
            self._total += weight
            while self._total > self._capacity and len(self._data) > 1:
                _key, old = self._data.popitem(last=False)
                self._total -= self._weight(old)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class _StreamDecompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...


def _bounded(decompressor: _StreamDecompressor, src: bytes, limit: int) -> bytes:
    """Decompress one whole stream, refusing output longer than ``limit``.

    Asking for one byte more than allowed tells "exactly at the limit" from "too long"
    without ever holding more than ``limit + 1`` bytes.
    """
    out = decompressor.decompress(src, limit + 1)
    if len(out) > limit:
        raise Malformed(f"block decompresses to more than {limit} bytes")
    if not decompressor.eof:
        raise Malformed("compressed block is truncated")
    return out


def decode_gzip(src: bytes, limit: int) -> bytes:
    return _bounded(zlib.decompressobj(), src, limit)


def decode_xz(src: bytes, limit: int) -> bytes:
    return _bounded(lzma.LZMADecompressor(lzma.FORMAT_XZ), src, limit)


def decode_lzma(src: bytes, limit: int) -> bytes:
    """squashfs-tools' legacy "lzma" compression: one lzma-alone stream per block."""
    return _bounded(lzma.LZMADecompressor(lzma.FORMAT_ALONE), src, limit)


def lz4_decoder() -> Decoder:
    """Raw LZ4 blocks, as squashfs stores them (PySquashfsImage wrongly uses lz4.frame)."""
    try:
        import lz4.block  # type: ignore[import-not-found, unused-ignore]
    except ImportError as err:
        raise CodecMissingError("lz4") from err
    block = lz4.block

    def decode(src: bytes, limit: int) -> bytes:
        # Given uncompressed_size, lz4 sizes its output buffer to it and fails rather
        # than writing past it.
        out: bytes = block.decompress(src, uncompressed_size=limit)
        return out

    return decode


def zstd_decoder() -> Decoder:
    """zstd with one ZstdDecompressor per thread: sharing one corrupts output."""
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]
    except ImportError as err:
        raise CodecMissingError("zstandard") from err
    local = threading.local()

    def decode(src: bytes, limit: int) -> bytes:
        dctx = getattr(local, "dctx", None)
        if dctx is None:
            dctx = local.dctx = zstandard.ZstdDecompressor()
        # A frame that states its size gets a buffer that large, whatever the limit.
        if zstandard.frame_content_size(src) > limit:
            raise Malformed(f"block decompresses to more than {limit} bytes")
        out: bytes = dctx.decompress(src, max_output_size=limit)
        return out

    return decode
