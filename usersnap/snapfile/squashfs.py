"""Lazy, thread-safe reader for SquashFS 4.0 images (the .snap format).

This is the only module that imports PySquashfsImage.  It borrows the library's ctypes
structures, constants, macros and LZO wrapper but not its reader, whose measured defects
(performance-baseline.md §3) rule it out: it scans the whole tree at open, cannot decode
lz4 blocks, dies on one non-UTF-8 name, ignores xattrs and shares one file position, one
block cache and one zstd context between threads.

Here the image opens in O(1) (superblock, table indexes, id table, root inode);
directories are read when first listed; every read is ``os.pread`` on one descriptor;
names stay bytes; caches are locked, but no lock is held while decompressing, so threads
decompress in parallel.  The caches are shared by every image of the process
(:class:`Caches`) and bounded as a whole, so memory does not grow with the number of
images.  A file read sequentially has its next blocks decompressed ahead in worker
threads (lzma, zlib and the other codecs release the GIL): one sequential reader then
uses every core, which the kernel's own squashfs cannot.

Every number taken from the image is checked before use (mostly the Linux kernel's own
checks, fs/squashfs/super.c), and anything inconsistent raises :class:`CorruptImageError`,
never a struct/ctypes/codec exception.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
import struct
import sys
import threading
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from ctypes import sizeof
from itertools import accumulate
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from PySquashfsImage import SQUASHFS_LOOKUP_TYPE
from PySquashfsImage.compressor import LZOCompressor
from PySquashfsImage.const import (
    SQUASHFS_INVALID_BLK,
    SQUASHFS_INVALID_FRAG,
    SQUASHFS_INVALID_XATTR,
    SQUASHFS_MAGIC,
    SQUASHFS_METADATA_SIZE,
    SQUASHFS_NAME_LEN,
    Compression,
    Type,
)
from PySquashfsImage.macro import (
    SQUASHFS_COMPRESSED,
    SQUASHFS_COMPRESSED_BLOCK,
    SQUASHFS_COMPRESSED_SIZE,
    SQUASHFS_COMPRESSED_SIZE_BLOCK,
    SQUASHFS_FRAGMENT_INDEXES,
    SQUASHFS_ID_BLOCKS,
    SQUASHFS_INODE_BLK,
    SQUASHFS_INODE_OFFSET,
    SQUASHFS_LOOKUP_BLOCKS,
    SQUASHFS_XATTR_BLOCKS,
)
from PySquashfsImage.structure import (
    FragmentEntry,
    Superblock,
    XattrId,
    XattrTable,
)
from PySquashfsImage.structure.inode import InodeHeader, inomap

from usersnap.errors import SnapFileError
from usersnap.snapfile._squashfs_support import (
    LRU,
    CodecMissingError,
    Cursor,
    Decoder,
    Inode,
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

__all__ = [
    "Caches", "CorruptImageError", "Inode", "SquashfsImage", "UnsupportedCompressionError",
]  # fmt: skip

META = SQUASHFS_METADATA_SIZE
SUPERBLOCK_SIZE = sizeof(Superblock)
MAX_META_DISK = 2 + META  # a metadata block on disk: length word + at most 8 KiB
DIR_COUNT_MAX = 256  # SQUASHFS_DIR_COUNT: entries under one directory header
SYMLINK_MAX = 4096  # PATH_MAX; Linux refuses longer targets too

COMPRESSION_NAMES = {
    Compression.ZLIB: "gzip",
    Compression.LZMA: "lzma",
    Compression.LZO: "lzo",
    Compression.XZ: "xz",
    Compression.LZ4: "lz4",
    Compression.ZSTD: "zstd",
}

# Inode types, as plain ints: enum members are slow to compare in the per-entry path.
DIR_TYPES = frozenset({int(Type.DIR), int(Type.LDIR)})
FILE_TYPES = frozenset({int(Type.FILE), int(Type.LREG)})
SYMLINK_TYPES = frozenset({int(Type.SYMLINK), int(Type.LSYMLINK)})
DEVICE_TYPES = frozenset({int(t) for t in (Type.BLKDEV, Type.CHRDEV, Type.LBLKDEV, Type.LCHRDEV)})

Listing = tuple[list[tuple[bytes, Inode]], dict[bytes, Inode]]

MIB = 1 << 20
#: Decompressed data blocks kept, in bytes, for the whole process unless the environment
#: variable ``USERSNAP_BLOCK_CACHE_MIB`` says otherwise.  Sequential reads need only the
#: read-ahead window; the rest serves small and random reads (performance-baseline §2).
DATA_CACHE_BYTES = 32 * MIB
META_CACHE_BYTES = 8 * MIB
#: Listings, by entries (about 400 bytes each with their Inode): the FUSE layer keeps its
#: own index of the directories in use, this one serves the image's own lookups.
DIR_CACHE_ENTRIES = 16384
BLOCKLIST_CACHE_BYTES = 4 * MIB
#: What a cached object costs beyond its payload (key, dict slot, object headers):
#: images of many tiny files have as many entries as blocks.
ENTRY_OVERHEAD = 256
#: Blocks decompressed ahead of a sequential reader (1.5 MiB with 128 KiB blocks): the
#: kernel asks for 256 KiB at a time, and a shorter window let both decompressing threads
#: run dry between its requests (A/B in 8 alternating rounds: 78 -> 89 MiB/s, median).
READ_AHEAD_BLOCKS = 12
#: Blocks of a sequential reader's file whose compressed bytes the kernel is asked to read
#: from the disk ahead of the decompressing threads (up to 8 MiB of the image).
ADVISE_BLOCKS = 64
#: Threads decompressing ahead, for all images: one per core, as the codecs scale so far.
READ_AHEAD_THREADS = min(4, os.cpu_count() or 2)
#: Codecs slow enough for a walk (tar, cp -r) to gain from having the next files' first
#: blocks decompressed on another core; the fast ones (lzo, lz4, zstd) decode a small file
#: sooner than the hand-over to the pool costs (bench tree, lzo, cold `tar | wc -c`, three
#: alternating rounds: 4.48-4.70 s with it, 4.08-4.15 s without).
PREFETCH_CODECS = frozenset({"xz", "lzma", "gzip"})
_tokens = itertools.count(1)  # cache keys of distinct images never collide


#: squashfs_base_inode, then the bodies of the basic directory and file inodes
_HEAD = struct.Struct("<HHHHII")
_DIR_BODY = struct.Struct("<IIHHI")
_FILE_BODY = struct.Struct("<IIII")
_BASIC_BODY_SIZE = 16  # both bodies
_DIR_HEADER = struct.Struct("<III")  # squashfs_dir_header: count - 1, start block, inode
_DIR_ENTRY = struct.Struct("<HhHH")  # squashfs_dir_entry: offset, inode delta, type, size-1
BASIC_DIR, BASIC_FILE = int(Type.DIR), int(Type.FILE)


class CorruptImageError(SnapFileError):
    """The file is a SquashFS image, but inconsistent, truncated or undecodable."""


class UnsupportedCompressionError(SnapFileError):
    """The image's compression needs a Python module that is not installed."""


class _Table(NamedTuple):
    """An indexed table (ids, fragments, xattr ids): one region per metadata block."""

    blocks: tuple[Region, ...]


class _BlockList(NamedTuple):
    words: array[int]  # on-disk size words (bit 24: stored uncompressed; size 0: sparse)
    starts: array[int]  # file position of each block


class Caches:
    """Decompressed blocks, directory listings and block lists, bounded as a whole and
    shared by the images given them (keys carry each image's token)."""

    def __init__(
        self, *, data_bytes: int = DATA_CACHE_BYTES, meta_bytes: int = META_CACHE_BYTES,
        dir_entries: int = DIR_CACHE_ENTRIES, blocklist_bytes: int = BLOCKLIST_CACHE_BYTES,
    ) -> None:  # fmt: skip
        self.data: LRU[tuple[int, int, int], bytes] = LRU(
            data_bytes, lambda block: len(block) + ENTRY_OVERHEAD
        )
        self.meta: LRU[tuple[int, int], tuple[bytes, int]] = LRU(
            meta_bytes, lambda hit: len(hit[0]) + ENTRY_OVERHEAD
        )
        # Listings weigh by entries: a FUSE mount asks for each directory rarely (the
        # kernel caches entries), so bounding RAM beats keeping every listing forever.
        self.dirs: LRU[tuple[int, int], Listing] = LRU(dir_entries, lambda it: len(it[0]) + 1)
        self.blocklists: LRU[tuple[int, int], _BlockList] = LRU(
            blocklist_bytes, lambda blocks: 12 * len(blocks.words) + 2 * ENTRY_OVERHEAD
        )


_shared: Caches | None = None
_pool: ThreadPoolExecutor | None = None
_globals_lock = threading.Lock()


def shared_caches() -> Caches:
    """The process's caches (``USERSNAP_BLOCK_CACHE_MIB`` sizes the data blocks)."""
    global _shared
    with _globals_lock:
        if _shared is None:
            mib = os.environ.get("USERSNAP_BLOCK_CACHE_MIB", "")
            size = int(mib) * MIB if mib.isdigit() else DATA_CACHE_BYTES
            _shared = Caches(data_bytes=size)
        return _shared


def _read_ahead_pool() -> ThreadPoolExecutor:
    global _pool
    with _globals_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(READ_AHEAD_THREADS, thread_name_prefix="squashfs-ahead")
        return _pool


class SquashfsImage:
    """A SquashFS 4.0 image, read lazily; one instance may serve many threads.

    ``caches`` defaults to the process's shared ones; ``close()`` must not race reads
    still running in other threads (it waits for its own read-ahead).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, caches: Caches | None = None,
        read_ahead: int = READ_AHEAD_BLOCKS,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self._token = next(_tokens)
        self._caches = caches or shared_caches()
        self._read_ahead = read_ahead
        self._lock = threading.Lock()
        # blocks being decompressed (by a reader or ahead of one): others wait, not redo
        self._inflight: dict[tuple[int, int, int], Future[bytes | None]] = {}
        self._ahead_jobs: set[Future[None]] = set()
        self._next_block: dict[int, int] = {}  # file inode ref -> block after its last read
        self._advised: dict[int, int] = {}  # file inode ref -> image offset read ahead to
        self._dir_refs: dict[int, int] = {}  # directory inode number -> ref (cycle check)
        self._stats = {"metadata_blocks": 0, "data_blocks": 0}
        self._xattr_ids: _Table | None = None
        self._xattr_region = Region(0, 0)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise SnapFileError(f'cannot open "{self.path}": {_strerror(err)}') from err
        try:
            with self._guard():
                self._load()
        except BaseException:
            self.close()
            raise

    # -- public API ---------------------------------------------------------------------

    def listdir(self, dir: Inode) -> list[tuple[bytes, Inode]]:  # noqa: A002
        """Entries of ``dir`` in stored (byte-sorted) order, without "." and ".."."""
        return self._listing(dir)[0]

    def lookup(self, dir: Inode, name: bytes) -> Inode | None:  # noqa: A002
        return self._listing(dir)[1].get(name)

    def resolve(self, path: str | bytes) -> Inode:
        """The inode at ``path`` (from the root; ".." is lexical), following no symlink."""
        raw = os.fsencode(path)
        trail = [self.root]
        for part in raw.split(b"/"):
            if part == b".." and len(trail) > 1:
                trail.pop()
            elif part in (b"", b".", b".."):
                continue
            elif not trail[-1].is_dir:
                raise _oserror(NotADirectoryError, errno.ENOTDIR, raw)
            else:
                child = self.lookup(trail[-1], part)
                if child is None:
                    raise _oserror(FileNotFoundError, errno.ENOENT, raw)
                trail.append(child)
        if raw.endswith(b"/") and not trail[-1].is_dir:
            raise _oserror(NotADirectoryError, errno.ENOTDIR, raw)
        return trail[-1]

    def read(self, ino: Inode, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset``; short at end of file, zeros where sparse."""
        if not ino.is_reg:
            code = errno.EISDIR if ino.is_dir else errno.EINVAL
            raise _oserror(IsADirectoryError if ino.is_dir else OSError, code, b"")
        if offset < 0 or size < 0:
            raise ValueError("negative offset or size")
        end = min(ino.size, offset + size)
        if offset >= end:
            return b""
        bs = self.block_size
        first, last = offset // bs, (end - 1) // bs
        with self._guard():
            self._keep_ahead(ino, first, last)
            blocks = [self._file_block(ino, index) for index in range(first, last + 1)]
        return self._join(blocks, offset - first * bs, end - first * bs)

    def read_ready(self, ino: Inode, offset: int, size: int) -> bytes | None:
        """What :meth:`read` would return, if that needs neither I/O nor decompression
        (every block it spans is cached); None otherwise.  It never blocks, so the FUSE
        loop answers such reads itself: a worker-thread hop per 128 KiB read was a large
        part of a sequential read's cost, its blocks being mostly decompressed ahead."""
        end = min(ino.size, offset + size)
        if not ino.is_reg or offset < 0 or size < 0 or offset >= end:
            return None
        bs = self.block_size
        first, last = offset // bs, (end - 1) // bs
        found = self._caches.blocklists.get((self._token, ino.ref))
        if found is None or last >= len(found.words):
            return None  # the block list or a fragment is needed: a thread reads them
        blocks: list[bytes] = []
        for index in range(first, last + 1):
            word, length = found.words[index], min(bs, ino.size - index * bs)
            if SQUASHFS_COMPRESSED_SIZE_BLOCK(word) == 0:
                blocks.append(self._zeros[:length])
                continue
            block = self._caches.data.get((self._token, found.starts[index], word))
            if block is None or len(block) != length:
                return None
            blocks.append(block)
        with self._guard():
            self._keep_ahead(ino, first, last, found)
        return self._join(blocks, offset - first * bs, end - first * bs)

    def prefetch(self, files: list[Inode]) -> None:
        """Start decompressing the first block of each of ``files`` in the read-ahead
        pool, for a walk about to read them; returns at once (a damaged file is
        reported to its reader, not here); a no-op for the fast codecs."""
        if not self._read_ahead or self.compression not in PREFETCH_CODECS:
            return
        with self._lock:
            if self._fd < 0:
                return
            job = _read_ahead_pool().submit(self._prefetch, files)
            self._ahead_jobs.add(job)
        job.add_done_callback(self._job_done)

    def _prefetch(self, files: list[Inode]) -> None:
        for ino in files:
            with contextlib.suppress(SnapFileError), self._guard():
                self._start_read_ahead(ino, 0, 1)

    def _keep_ahead(self, ino: Inode, first: int, last: int,
                    blocks: _BlockList | None = None) -> None:
        if self._read_ahead and self._sequential(ino, first, last):
            self._start_read_ahead(ino, last + 1, blocks=blocks)

    @staticmethod
    def _join(blocks: list[bytes], lo: int, hi: int) -> bytes:
        """Bytes ``lo`` to ``hi`` of the blocks laid end to end."""
        if len(blocks) == 1:  # a whole cached block needs no copy
            return blocks[0] if lo == 0 and hi == len(blocks[0]) else blocks[0][lo:hi]
        parts = [memoryview(block) for block in blocks]
        parts[-1] = parts[-1][: hi - sum(map(len, blocks[:-1]))]
        parts[0] = parts[0][lo:]
        return b"".join(parts)

    def read_all(self, ino: Inode) -> bytes:
        return self.read(ino, 0, ino.size)

    def readlink(self, ino: Inode) -> bytes:
        if not ino.is_symlink:
            raise _oserror(OSError, errno.EINVAL, b"")
        return ino._target

    def xattrs(self, ino: Inode) -> dict[bytes, bytes]:
        """Extended attributes by full name (b"user.foo")."""
        if ino.xattr == SQUASHFS_INVALID_XATTR or self._xattr_ids is None:
            return {}
        with self._guard():
            raw = self._table_entry(self._xattr_ids, ino.xattr, sizeof(XattrId))
            xid = XattrId.from_buffer_copy(raw)
            return read_xattr_pairs(self._xattr_cursor(xid.xattr), xid.count, self._xattr_cursor)

    def stats(self) -> dict[str, int]:
        """Blocks read from the file so far (cache misses): for tests and diagnostics."""
        with self._lock:
            return dict(self._stats)

    def close(self) -> None:
        # A job must never pread a descriptor closed (and maybe reused) under it, and a
        # prefetch job submits more: wait until none is left, then close in the same
        # locked step, which also keeps new ones from being submitted.
        while True:
            with self._lock:
                jobs = [job for job in getattr(self, "_ahead_jobs", ()) if not job.done()]
                if not jobs:
                    fd, self._fd = getattr(self, "_fd", -1), -1
                    break
            wait(jobs)
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> SquashfsImage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    # -- opening ------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            size = os.lseek(self._fd, 0, os.SEEK_END)
            head = os.pread(self._fd, SUPERBLOCK_SIZE, 0)
        except OSError as err:
            raise SnapFileError(f'cannot read "{self.path}": {_strerror(err)}') from err
        if head[:4] != SQUASHFS_MAGIC.to_bytes(4, "little"):
            raise SnapFileError(f'cannot open "{self.path}": not a SquashFS image')
        if len(head) < SUPERBLOCK_SIZE:
            raise Malformed(f"truncated superblock ({size} bytes)")
        sb = Superblock.from_buffer_copy(head)
        if (sb.s_major, sb.s_minor) != (4, 0):
            raise Malformed(f"unsupported SquashFS version {sb.s_major}.{sb.s_minor}")
        bs = int(sb.block_size)
        if not 4096 <= bs <= 1 << 20 or bs & (bs - 1) or sb.block_log != bs.bit_length() - 1:
            raise Malformed(f"invalid block size {bs} (log {sb.block_log})")
        if not SUPERBLOCK_SIZE <= sb.bytes_used <= size:
            raise Malformed(f"truncated: the image is {sb.bytes_used} bytes, the file {size}")
        if sb.no_ids == 0 or sb.inodes == 0:
            raise Malformed("no ids or no inodes")
        self.block_size = bs
        self.bytes_used = int(sb.bytes_used)
        self.inode_count = int(sb.inodes)
        self.compression = self._select_codec(int(sb.compression))
        self._fragments = int(sb.fragments)
        self._zeros = bytes(bs)
        self._read_tables(sb)
        self.root = self._inode(int(sb.root_inode))
        if not self.root.is_dir:
            raise Malformed("the root inode is not a directory")
        self._dir_refs[self.root.number] = self.root.ref

    def _select_codec(self, compression: int) -> str:
        name = COMPRESSION_NAMES.get(compression)
        if name is None:
            raise Malformed(f"unknown compression {compression}")
        factories = {
            "gzip": lambda: decode_gzip,
            "xz": lambda: decode_xz,
            "lzma": lambda: decode_lzma,
            "lzo": _lzo_decoder,
            "lz4": lz4_decoder,
            "zstd": zstd_decoder,
        }
        try:
            self._decode: Decoder = factories[name]()
        except CodecMissingError as err:
            raise UnsupportedCompressionError(
                f"cannot read squashfs image {self.path}: {name} compression needs the "
                f'Python module "{err.module}", which is not installed'
            ) from err
        return name

    def _read_tables(self, sb: Any) -> None:
        """Read the table indexes back to front, each bounding the one before (as Linux)."""
        next_table = self.bytes_used
        if sb.xattr_id_table_start != SQUASHFS_INVALID_BLK:
            start = int(sb.xattr_id_table_start)
            header = XattrTable.from_buffer_copy(self._pread(start, sizeof(XattrTable)))
            if header.xattr_ids == 0:
                raise Malformed("empty xattr id table")
            index_start = start + sizeof(XattrTable)
            count = SQUASHFS_XATTR_BLOCKS(header.xattr_ids)
            self._xattr_ids = self._read_index("xattr id", index_start, count, next_table, start)
            self._xattr_count = int(header.xattr_ids)
            next_table = int(header.xattr_table_start)
            self._xattr_region = Region(next_table, self._xattr_ids.blocks[0].start)
            if not SUPERBLOCK_SIZE <= next_table < self._xattr_region.end:
                raise Malformed("xattr table out of range")
        start = int(sb.id_table_start)
        ids = self._read_index("id", start, SQUASHFS_ID_BLOCKS(sb.no_ids), next_table, start)
        next_table = ids.blocks[0].start
        if sb.lookup_table_start != SQUASHFS_INVALID_BLK:
            start = int(sb.lookup_table_start)
            count = SQUASHFS_LOOKUP_BLOCKS(sb.inodes)
            next_table = self._read_index("export", start, count, next_table, start).blocks[0].start
        self._fragment_table = _Table(())
        if self._fragments:
            start = int(sb.fragment_table_start)
            count = SQUASHFS_FRAGMENT_INDEXES(self._fragments)
            self._fragment_table = self._read_index("fragment", start, count, next_table, start)
            next_table = self._fragment_table.blocks[0].start
        inode_start, dir_start = int(sb.inode_table_start), int(sb.directory_table_start)
        if not SUPERBLOCK_SIZE <= inode_start < dir_start < next_table:
            raise Malformed("inode or directory table out of range")
        self._inode_region = Region(inode_start, dir_start)
        self._dir_region = Region(dir_start, next_table)
        raw = b"".join(self._meta_block(block, block.start)[0] for block in ids.blocks)
        if len(raw) < 4 * sb.no_ids:
            raise Malformed("the id table is short")
        self._ids: tuple[int, ...] = struct.unpack_from(f"<{sb.no_ids}I", raw)

    def _read_index(
        self, name: str, start: int, count: int, next_table: int, blocks_end: int
    ) -> _Table:
        """A table's index: ``count`` u64 block positions, ending exactly at ``next_table``;
        each block ends where the next starts, the last one at ``blocks_end``."""
        if start + 8 * count != next_table:
            raise Malformed(f"{name} table index out of range")
        starts = struct.unpack(f"<{count}Q", self._pread(start, 8 * count))
        blocks = tuple(map(Region, starts, (*starts[1:], blocks_end)))
        if any(not SUPERBLOCK_SIZE <= s < e <= s + MAX_META_DISK for s, e in blocks):
            raise Malformed(f"{name} table index is invalid")
        return _Table(blocks)

    # -- metadata -----------------------------------------------------------------------

    def _meta_block(self, region: Region, pos: int) -> tuple[bytes, int]:
        """The decompressed metadata block at ``pos`` and the position of the next one."""
        hit = self._caches.meta.get((self._token, pos))
        if hit is None:
            if not region.start <= pos <= region.end - 2:
                raise Malformed(f"metadata block at {pos} is outside its table")
            raw = self._pread(pos, min(MAX_META_DISK, region.end - pos))
            (word,) = struct.unpack_from("<H", raw)
            length = SQUASHFS_COMPRESSED_SIZE(word)
            if length > META or 2 + length > len(raw):
                raise Malformed(f"metadata block at {pos} has invalid length {length}")
            data = raw[2 : 2 + length]
            if SQUASHFS_COMPRESSED(word):
                data = self._decompress(data, META, f"metadata block at {pos}")
            hit = (data, pos + 2 + length)
            self._count("metadata_blocks")
            self._caches.meta.put((self._token, pos), hit)
        elif not region.start <= pos < hit[1] <= region.end:
            raise Malformed(f"metadata block at {pos} is outside its table")
        return hit

    def _table_entry(self, table: _Table, index: int, size: int) -> bytes:
        block, offset = divmod(index * size, META)
        region = table.blocks[block]
        data = self._meta_block(region, region.start)[0]
        if offset + size > len(data):
            raise Malformed(f"table entry {index} is past its block")
        return data[offset : offset + size]

    def _inode(self, ref: int) -> Inode:
        block, offset = SQUASHFS_INODE_BLK(ref), SQUASHFS_INODE_OFFSET(ref)
        if ref >> 48 or offset >= META:
            raise Malformed(f"invalid inode reference {ref:#x}")
        region = self._inode_region
        data = self._meta_block(region, region.start + block)[0]
        basic = self._basic_inode(ref, data, region.start + block, offset)
        if basic is not None:
            return basic
        cur = Cursor(self._meta_block, region, region.start + block, offset)
        head: Any = cur.struct(InodeHeader)
        kind = int(head.inode_type)
        if kind not in inomap:
            raise Malformed(f"inode {ref:#x} has invalid type {kind}")
        body: Any = cur.struct(inomap[kind])
        self._check_head(ref, head.uid, head.guid, head.inode_number)
        fields: dict[str, Any] = {
            "ref": ref, "number": int(head.inode_number),
            "mode": SQUASHFS_LOOKUP_TYPE[kind] | (head.mode & 0o7777),
            "uid": self._ids[head.uid], "gid": self._ids[head.guid], "mtime": int(head.mtime),
            "size": 0, "nlink": int(getattr(body, "nlink", 1)), "rdev": 0,
            "xattr": int(body.xattr),
        }  # fmt: skip
        if kind in DIR_TYPES:
            self._check_dir(ref, body.file_size, body.offset)
            fields.update(size=int(body.file_size), _start=int(body.start_block),
                          _offset=int(body.offset), _parent=int(body.parent_inode))  # fmt: skip
        elif kind in FILE_TYPES:
            size, fragment = int(body.file_size), int(body.fragment)
            self._check_fragment(ref, fragment, body.offset, size)
            fields.update(size=size, _start=int(body.start_block), _offset=int(body.offset),
                          _fragment=fragment, _blocklist=cur.block << 16 | cur.offset)  # fmt: skip
        elif kind in SYMLINK_TYPES:
            if not 0 < body.symlink_size <= SYMLINK_MAX:
                raise Malformed(f"symlink inode {ref:#x} has invalid size {body.symlink_size}")
            fields.update(size=int(body.symlink_size), _target=cur.read(body.symlink_size))
            if kind == Type.LSYMLINK:
                fields["xattr"] = cur.unpack("<I")[0]
        elif kind in DEVICE_TYPES:
            fields["rdev"] = os.makedev(*decode_rdev(int(body.rdev)))
        xattr = fields["xattr"]
        if xattr != SQUASHFS_INVALID_XATTR and (
            self._xattr_ids is None or xattr >= self._xattr_count
        ):
            raise Malformed(f"inode {ref:#x} has invalid xattr index {xattr}")
        return Inode(**fields)

    def _check_head(self, ref: int, uid: int, gid: int, number: int) -> None:
        if max(uid, gid) >= len(self._ids):
            raise Malformed(f"inode {ref:#x} has an invalid uid/gid index")
        if not 1 <= number <= self.inode_count:
            raise Malformed(f"inode {ref:#x} has invalid number {number}")

    @staticmethod
    def _check_dir(ref: int, size: int, offset: int) -> None:
        if size < 3 or offset >= META:
            raise Malformed(f"directory inode {ref:#x} is invalid")

    def _check_fragment(self, ref: int, fragment: int, offset: int, size: int) -> None:
        bs = self.block_size
        if fragment != SQUASHFS_INVALID_FRAG and (
            fragment >= self._fragments or offset + size % bs > bs
        ):
            raise Malformed(f"file inode {ref:#x} has an invalid fragment")

    def _basic_inode(self, ref: int, data: bytes, block: int, offset: int) -> Inode | None:
        """A basic directory or file inode (nearly every entry of a snap) lying wholly
        inside its metadata block ``data``, unpacked in one step with the same checks as
        :meth:`_inode`: parsing them field by field cost three quarters of listing a
        directory.  None for any other."""
        end = offset + _HEAD.size + _BASIC_BODY_SIZE
        if end >= len(data):  # the block list must start inside this block too
            return None
        kind, mode, uid, gid, mtime, number = _HEAD.unpack_from(data, offset)
        if kind != BASIC_DIR and kind != BASIC_FILE:
            return None
        self._check_head(ref, uid, gid, number)
        ids = self._ids
        if kind == BASIC_DIR:
            start, nlink, size, at, parent = _DIR_BODY.unpack_from(data, offset + _HEAD.size)
            self._check_dir(ref, size, at)
            return Inode(ref, number, stat.S_IFDIR | (mode & 0o7777), ids[uid], ids[gid],
                         mtime, size, nlink, 0, SQUASHFS_INVALID_XATTR, start, at,
                         SQUASHFS_INVALID_FRAG, 0, parent)  # fmt: skip
        start, fragment, at, size = _FILE_BODY.unpack_from(data, offset + _HEAD.size)
        self._check_fragment(ref, fragment, at, size)
        return Inode(ref, number, stat.S_IFREG | (mode & 0o7777), ids[uid], ids[gid], mtime,
                     size, 1, 0, SQUASHFS_INVALID_XATTR, start, at, fragment,
                     block << 16 | end)  # fmt: skip

    # -- directories --------------------------------------------------------------------

    def _listing(self, d: Inode) -> Listing:
        if not d.is_dir:
            raise _oserror(NotADirectoryError, errno.ENOTDIR, b"")
        listing = self._caches.dirs.get((self._token, d.ref))
        if listing is None:
            with self._guard():
                listing = self._read_dir(d)
            self._caches.dirs.put((self._token, d.ref), listing)
        return listing

    def _read_dir(self, d: Inode) -> Listing:
        """Parse a listing.  ``remaining`` counts down the stated size and every step
        consumes bytes, so a lying size ends in an error, never in a loop.  Each header's
        inodes share one inode-table block, fetched once (a cache lookup per entry was a
        fifth of a cold walk's listing time).  Every entry must agree with its inode (kind
        and number); the names are checked all at once after the loop, and the
        subdirectories under one lock: per entry, these calls were a tenth of listing."""
        region, table = self._dir_region, self._inode_region
        cur = Cursor(self._meta_block, region, region.start + d._start, d._offset)
        remaining = d.size - 3  # squashfs counts "." and ".." as 3 bytes
        entries: list[tuple[bytes, Inode]] = []
        subdirs: list[Inode] = []
        named, basic, inode = cur.unpack_named, self._basic_inode, self._inode
        lookup_type = SQUASHFS_LOOKUP_TYPE
        while remaining > 0:
            count, start_block, base = cur.unpack_struct(_DIR_HEADER)
            remaining -= _DIR_HEADER.size
            if remaining < 0 or count >= DIR_COUNT_MAX:
                raise Malformed(f"directory inode {d.number} has an invalid header")
            block = table.start + start_block
            data = self._meta_block(table, block)[0]
            for _ in range(count + 1):
                found = named(_DIR_ENTRY)
                if found is None:
                    offset, delta, kind, size = cur.unpack_struct(_DIR_ENTRY)
                else:
                    (offset, delta, kind, size), name = found
                length = size + 1
                remaining -= _DIR_ENTRY.size + length
                if remaining < 0 or length > SQUASHFS_NAME_LEN:
                    raise Malformed(f"directory inode {d.number} has an invalid entry")
                if found is None:
                    name = cur.read(length)
                ref = start_block << 16 | offset
                child = None
                if offset < META:
                    child = basic(ref, data, block, offset)
                if child is None:
                    child = inode(ref)
                mode = child.mode & 0o170000  # stat.S_IFMT, without a call per entry
                if (
                    not 1 <= kind <= 7  # directory entries carry the basic types only
                    or lookup_type[kind] != mode
                    or child.number != (base + delta) & 0xFFFFFFFF
                ):
                    raise Malformed(f"directory inode {d.number} has an inconsistent entry")
                if mode == stat.S_IFDIR:
                    subdirs.append(child)
                entries.append((name, child))
        names = dict(entries)
        joined = b"/".join(names)  # n names, n - 1 slashes: any more is inside a name
        if entries and (
            len(names) != len(entries) or b"." in names or b".." in names
            or b"\0" in joined or joined.count(b"/") >= len(names)
        ):  # fmt: skip
            self._bad_name(d, entries)
        if subdirs:
            self._check_subdirs(d, subdirs)
        return entries, names

    @staticmethod
    def _bad_name(d: Inode, entries: list[tuple[bytes, Inode]]) -> None:
        """Name the first bad name (the check above is over all names at once)."""
        seen: set[bytes] = set()
        for name, _ in entries:
            if name in seen or name in (b".", b"..") or b"/" in name or b"\0" in name:
                raise Malformed(f"directory inode {d.number} has invalid name {name!r}")
            seen.add(name)

    def _check_subdirs(self, d: Inode, subdirs: list[Inode]) -> None:
        """Each subdirectory must name ``d`` as its parent and be the only directory with
        its number.  With the root never listed, that makes the directories a tree, so no
        walker can loop."""
        root = self.root.ref
        with self._lock:
            known = self._dir_refs
            for child in subdirs:
                if (
                    child._parent != d.number
                    or known.setdefault(child.number, child.ref) != child.ref
                    or child.ref == root
                ):
                    raise Malformed(f"directory inode {child.number} is linked more than once")

    # -- file data ----------------------------------------------------------------------

    def _file_block(self, ino: Inode, index: int) -> bytes:
        bs = self.block_size
        length = min(bs, ino.size - index * bs)
        blocks = self._blocklist(ino)
        if index < len(blocks.words):
            word = blocks.words[index]
            if SQUASHFS_COMPRESSED_SIZE_BLOCK(word) == 0:
                return self._zeros[:length]
            return self._data_block(blocks.starts[index], word, length)
        entry = FragmentEntry.from_buffer_copy(
            self._table_entry(self._fragment_table, ino._fragment, sizeof(FragmentEntry))
        )
        block = self._data_block(int(entry.start_block), int(entry.size), None)
        if ino._offset + length > len(block):
            raise Malformed(f"fragment {ino._fragment} is too short")
        return block[ino._offset : ino._offset + length]

    def _blocklist(self, ino: Inode) -> _BlockList:
        blocks = self._caches.blocklists.get((self._token, ino.ref))
        if blocks is None:
            bs = self.block_size
            full = ino._fragment == SQUASHFS_INVALID_FRAG
            count = (ino.size + bs - 1) // bs if full else ino.size // bs
            pos, offset = ino._blocklist >> 16, ino._blocklist & 0xFFFF
            words = array("I", Cursor(self._meta_block, self._inode_region, pos, offset).read(
                4 * count
            ))  # fmt: skip
            if sys.byteorder == "big":
                words.byteswap()
            sizes = (SQUASHFS_COMPRESSED_SIZE_BLOCK(word) for word in words)
            # Each block is checked against the data area when it is read.
            blocks = _BlockList(words, array("Q", accumulate(sizes, initial=ino._start)))
            self._caches.blocklists.put((self._token, ino.ref), blocks)
        return blocks

    def _sequential(self, ino: Inode, first: int, last: int) -> bool:
        """Whether this read continues the previous one of the file (or starts it); the
        kernel may have the next read in flight already, so a little slack is allowed."""
        with self._lock:
            before = self._next_block.pop(ino.ref, None)
            if len(self._next_block) >= 1024:  # forget the oldest readers
                del self._next_block[next(iter(self._next_block))]
            self._next_block[ino.ref] = last + 1
        return first == 0 or (before is not None and before - 2 <= first <= before + 2)

    def _start_read_ahead(self, ino: Inode, index: int, count: int | None = None,
                          blocks: _BlockList | None = None) -> None:
        """Have the pool decompress ``count`` of the file's blocks from ``index`` on (the
        window by default); each is marked in flight at once, so that the reader waits
        for it, not redoes it.  Given its block list (``read_ready``), this never reads
        or waits for the disk: the FUSE loop calls it."""
        if blocks is None:
            blocks = self._blocklist(ino)
        if count is None:  # a sequential reader: it reads on
            self._advise(ino, blocks, index)
        end = index + (self._read_ahead if count is None else count)
        for i in range(index, min(len(blocks.words), end)):
            start, word = blocks.starts[i], blocks.words[i]
            key = (self._token, start, word)
            if SQUASHFS_COMPRESSED_SIZE_BLOCK(word) == 0 or self._caches.data.get(key):
                continue
            with self._lock:
                if key in self._inflight or self._fd < 0:
                    continue
                pending: Future[bytes | None] = Future()
                self._inflight[key] = pending
                job = _read_ahead_pool().submit(self._ahead, key, pending)
                self._ahead_jobs.add(job)
            job.add_done_callback(self._job_done)

    def _advise(self, ino: Inode, blocks: _BlockList, index: int) -> None:
        """Have the kernel read the compressed blocks after the read-ahead window from
        the disk in the background (``POSIX_FADV_WILLNEED``), so that a decompressing
        thread rarely waits for the disk: on a cold image it waited in ``pread`` for
        about 15 % of its time (py-spy).  Asked again only when half of what was asked
        for has been reached."""
        count = len(blocks.words)
        if index >= count:
            return
        near = blocks.starts[min(count, index + self._read_ahead + ADVISE_BLOCKS // 2)]
        with self._lock:
            done = self._advised.get(ino.ref, 0)
            if done >= near or self._fd < 0:
                return
            if len(self._advised) >= 1024:
                del self._advised[next(iter(self._advised))]
            upto = self._advised[ino.ref] = blocks.starts[min(count, index + ADVISE_BLOCKS)]
            lo = max(done, blocks.starts[index])
            # in the pool: the call may wait for the disk's queue, and the loop calls this
            job = _read_ahead_pool().submit(self._fadvise, lo, upto - lo)
            self._ahead_jobs.add(job)
        job.add_done_callback(self._job_done)

    def _fadvise(self, offset: int, length: int) -> None:
        with contextlib.suppress(OSError):  # only advice; close() outwaits this job
            os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_WILLNEED)

    def _ahead(self, key: tuple[int, int, int], pending: Future[bytes | None]) -> None:
        """Decompress one block for a reader to come; a bad block is reported to the
        reader that asks for it (it tries again itself), not here."""
        data: bytes | None = None
        try:
            data = self._load_block(key[1], key[2])
        except Exception:  # see the docstring
            pass
        finally:
            with self._lock:
                del self._inflight[key]
            pending.set_result(data)

    def _job_done(self, job: Future[None]) -> None:
        with self._lock:
            self._ahead_jobs.discard(job)

    def _data_block(self, start: int, word: int, expected: int | None) -> bytes:
        """A decompressed data or fragment block; data blocks have an ``expected`` size.
        A block another thread is decompressing is waited for, not decompressed twice."""
        key = (self._token, start, word)
        data = self._caches.data.get(key)
        if data is None:
            with self._lock:
                pending = self._inflight.get(key)
                mine = pending is None
                if pending is None:
                    pending = self._inflight[key] = Future()
            if mine:
                try:
                    data = self._load_block(start, word)
                finally:
                    with self._lock:
                        del self._inflight[key]
                    pending.set_result(data)  # None on error: a waiter tries for itself
            else:
                data = pending.result() or self._load_block(start, word)
        if expected is not None and len(data) != expected:
            raise Malformed(f"data block at {start} holds {len(data)} bytes, not {expected}")
        return data

    def _load_block(self, start: int, word: int) -> bytes:
        size = SQUASHFS_COMPRESSED_SIZE_BLOCK(word)
        if size > self.block_size or word >> 25:
            raise Malformed(f"data block at {start} has invalid size {size}")
        if not SUPERBLOCK_SIZE <= start <= self._inode_region.start - size:
            raise Malformed(f"data block at {start} is outside the data area")
        data = self._pread(start, size)
        if SQUASHFS_COMPRESSED_BLOCK(word):
            data = self._decompress(data, self.block_size, f"data block at {start}")
        self._count("data_blocks")
        self._caches.data.put((self._token, start, word), data)
        return data

    def _xattr_cursor(self, ref: int) -> Cursor:
        offset = ref & 0xFFFF
        if ref >> 48 or offset >= META:
            raise Malformed(f"invalid xattr reference {ref:#x}")
        region = self._xattr_region
        return Cursor(self._meta_block, region, region.start + (ref >> 16), offset)

    # -- low level ----------------------------------------------------------------------

    def _pread(self, pos: int, length: int) -> bytes:
        fd = self._fd
        if fd < 0:
            raise SnapFileError(f"cannot read squashfs image {self.path}: it is closed")
        try:
            data = os.pread(fd, length, pos)
        except OSError as err:
            raise SnapFileError(
                f"cannot read squashfs image {self.path}: {_strerror(err)}"
            ) from err
        if len(data) != length:
            raise Malformed(f"truncated: cannot read {length} bytes at {pos}")
        return data

    def _decompress(self, src: bytes, limit: int, what: str) -> bytes:
        try:
            return self._decode(src, limit)
        except Exception as err:  # each codec module raises its own error types
            raise Malformed(f"cannot decompress {what}: {err}") from err

    def _count(self, counter: str) -> None:
        with self._lock:
            self._stats[counter] += 1

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn Malformed, and any low-level error bad input could still cause, into a
        CorruptImageError naming the image."""
        try:
            yield
        except (Malformed, struct.error, ValueError, IndexError, OverflowError) as err:
            what = str(err) if isinstance(err, Malformed) else f"malformed data ({err})"
            raise CorruptImageError(f"cannot read squashfs image {self.path}: {what}") from err


def _lzo_decoder() -> Decoder:
    """PySquashfsImage's LZO wrapper is sound: python-lzo bounds output by ``outsize``."""
    try:
        compressor = LZOCompressor()
    except ImportError as err:
        raise CodecMissingError("lzo") from err

    def decode(src: bytes, limit: int) -> bytes:
        out: bytes = compressor.uncompress(src, len(src), limit)
        return out

    return decode


def _strerror(err: OSError) -> str:
    text = err.strerror or str(err)
    return text[:1].lower() + text[1:]


def _oserror(cls: type[OSError], code: int, path: bytes) -> OSError:
    if path:
        return cls(code, os.strerror(code), os.fsdecode(path))
    return cls(code, os.strerror(code))
