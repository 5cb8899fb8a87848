"""Streaming, bounded-memory line reading from plain and compressed files.

Real Pushshift dumps are tens of GB: they are decompressed chunk by chunk and never held whole.
Every decoder is driven by hand so that a truncated file is *detected* (python-zstandard's
readers return partial data without raising): if the input ends while a frame is still open,
the file's shard fails with a ``ShardError`` naming the byte offset. Multi-frame / multi-stream
files (``zstd`` frames, concatenated ``.gz`` members, ``.xz`` streams, ``.bz2`` streams) are
read to the end.
"""

from __future__ import annotations

import bz2
import codecs
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from webtext.errors import ShardError

#: Modern Pushshift dumps are compressed with --long=31: the decoder needs a 2 GiB window.
ZSTD_MAX_WINDOW = 2**31
COMPRESSIONS = {".zst": "zst", ".zstd": "zst", ".xz": "xz", ".lzma": "xz", ".bz2": "bz2", ".gz": "gz"}
_READ_SIZE = 1 << 18  # compressed bytes per step: bounds the output a single step can produce


class _Decoder(Protocol):
    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes) -> bytes: ...


def compression_of(path: Path) -> str | None:
    """``zst``/``xz``/``bz2``/``gz`` from the file name, or None for a plain file."""
    return COMPRESSIONS.get(Path(path).suffix.lower())


def _new_decoder(kind: str) -> _Decoder:
    if kind == "zst":
        import zstandard

        return zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).decompressobj()
    if kind == "xz":
        return lzma.LZMADecompressor()
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind == "gz":
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    raise ValueError(f"unknown compression {kind!r}")


def _decode_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    return (zstandard.ZstdError, lzma.LZMAError, OSError, EOFError, zlib.error, ValueError)


def iter_chunks(path: Path, kind: str | None, read_size: int = _READ_SIZE) -> Iterator[tuple[bytes, int]]:
    """Yield (decompressed chunk, compressed bytes read so far) for the whole file.

    Raises ShardError on a corrupt frame or a file that ends inside a frame.
    """
    path = Path(path)
    with open(path, "rb") as f:
        if kind is None:
            offset = 0
            while chunk := f.read(read_size):
                offset += len(chunk)
                yield chunk, offset
            return
        errors = _decode_errors()
        decoder = _new_decoder(kind)
        fed = False  # has the current decoder received input (is a frame open)?
        offset = 0
        while data := f.read(read_size):
            start = offset
            offset += len(data)
            while data:
                try:
                    out = decoder.decompress(data)
                except errors as exc:
                    raise ShardError(f"corrupt {kind} data ({exc})", path=str(path), offset=start) from exc
                fed = True
                if out:
                    yield out, offset
                if decoder.eof:
                    # End of one frame/stream; whatever follows belongs to the next one.
                    data = decoder.unused_data
                    start = offset - len(data)
                    decoder = _new_decoder(kind)
                    fed = False
                else:
                    data = b""
        if fed and not decoder.eof:
            raise ShardError(
                f"truncated {kind} file: input ends inside a compressed frame", path=str(path), offset=offset
            )


#: A single line longer than this is not a submission record: the file is not what it claims.
MAX_LINE_BYTES = 64 << 20


class Lines(NamedTuple):
    """Whole lines ``data[start:stop]`` of a decompressed chunk, read in place (no copy)."""

    data: bytes
    start: int
    stop: int

    def view(self) -> memoryview:
        return memoryview(self.data)[self.start : self.stop]

    def tobytes(self) -> bytes:
        if self.start == 0 and self.stop == len(self.data):
            return self.data
        return self.data[self.start : self.stop]

    def count(self, sub: bytes) -> int:
        return self.data.count(sub, self.start, self.stop)

    def is_utf8(self) -> bool:
        if self.data.isascii():  # the whole chunk: cheap, and true for most dumps
            return True
        try:
            codecs.utf_8_decode(self.view(), "strict", True)
        except UnicodeDecodeError:
            return False
        return True

    def endswith(self, suffix: bytes) -> bool:
        return self.data.endswith(suffix, self.start, self.stop)


def iter_blocks(path: Path, kind: str | None, block_bytes: int = 4 << 20) -> Iterator[tuple[Lines, bool, int]]:
    """Yield (block of whole lines, last line lacks its newline, compressed offset) for a file.

    Every block but the last ends with ``\n``; the last one may not, and then the flag is True
    so a caller that cannot parse that line knows the file was cut off mid-record. A block is
    the lines of one chunk read in place, except that a line split across chunks (and short
    chunks) are joined: at most one copy of the data, usually none.
    """
    pending: list[bytes] = []  # chunks (or a chunk's tail) not yet yielded
    size = 0
    offset = 0
    for chunk, offset in iter_chunks(path, kind, block_bytes if kind is None else max(block_bytes // 4, 1024)):
        pending.append(chunk)
        size += len(chunk)
        big = len(chunk) >= block_bytes // 2
        if size < block_bytes and not big:
            continue
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:  # no line ends in this chunk: keep reading
            if size > MAX_LINE_BYTES:
                raise ShardError(f"a line is longer than {MAX_LINE_BYTES} bytes", path=str(path), offset=offset)
            continue
        if big:  # the line split across chunks on its own, then this chunk's lines in place
            head = chunk.find(b"\n") + 1 if len(pending) > 1 else 0
            if head:
                pending[-1] = chunk[:head]
                data = b"".join(pending)
                yield Lines(data, 0, len(data)), False, offset
            if head < cut:
                yield Lines(chunk, head, cut), False, offset
        else:  # small chunks: joined (one copy)
            pending[-1] = memoryview(chunk)[:cut]  # type: ignore[call-overload]
            data = b"".join(pending)
            yield Lines(data, 0, len(data)), False, offset
        pending = [chunk[cut:]] if cut < len(chunk) else []
        size = len(chunk) - cut
    data = b"".join(pending)
    if data:
        yield Lines(data, 0, len(data)), not data.endswith(b"\n"), offset


def block_lines(block: Lines | bytes) -> list[bytes]:
    """The lines of a block, without their newlines."""
    data = block.tobytes() if isinstance(block, Lines) else block
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines
