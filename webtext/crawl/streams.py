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
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

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


def iter_chunks(path: Path, kind: str | None) -> Iterator[tuple[bytes, int]]:
    """Yield (decompressed chunk, compressed bytes read so far) for the whole file.

    Raises ShardError on a corrupt frame or a file that ends inside a frame.
    """
    path = Path(path)
    with open(path, "rb") as f:
        if kind is None:
            offset = 0
            while chunk := f.read(_READ_SIZE):
                offset += len(chunk)
                yield chunk, offset
            return
        errors = _decode_errors()
        decoder = _new_decoder(kind)
        fed = False  # has the current decoder received input (is a frame open)?
        offset = 0
        while data := f.read(_READ_SIZE):
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


class LineReader:
    """Iterate over the lines (without newline) of a plain or compressed file.

    ``offset`` is the compressed byte offset read so far (for error messages). ``at_tail`` turns
    True just before the last line is yielded if that line had no trailing newline: a caller
    that cannot parse it knows the file was cut off mid-record.
    """

    def __init__(self, path: Path, kind: str | None = None) -> None:
        self.path = Path(path)
        self.kind = kind
        self.offset = 0
        self.at_tail = False

    def __iter__(self) -> Iterator[bytes]:
        rest = b""
        for chunk, offset in iter_chunks(self.path, self.kind):
            self.offset = offset
            if rest:
                chunk = rest + chunk
            lines = chunk.split(b"\n")
            rest = lines.pop()
            yield from lines
        if rest:
            self.at_tail = True
            yield rest
