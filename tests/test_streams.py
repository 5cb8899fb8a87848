"""Streaming decompression: multi-frame files, the 2 GiB zstd window, truncation, corruption."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest
import zstandard

from webtext.crawl.streams import block_lines, compression_of, iter_blocks, iter_chunks
from webtext.errors import ShardError

LINES = [f'{{"n": {i}, "text": "line {i}"}}'.encode() for i in range(5000)]
BODY = b"\n".join(LINES) + b"\n"


def _read_all(path: Path) -> bytes:
    return b"".join(c for c, _ in iter_chunks(path, compression_of(path)))


def _long_window_zst(path: Path, data: bytes) -> None:
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31, enable_ldm=True)
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(open(path, "wb")) as w:
        w.write(data)


def test_long_window_zstd_needs_and_gets_a_2gib_window(tmp_path):
    path = tmp_path / "RS_2019-01.zst"
    _long_window_zst(path, BODY)
    with pytest.raises(zstandard.ZstdError, match="too much memory"):  # a default reader
        zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    assert _read_all(path) == BODY


@pytest.mark.parametrize("suffix", [".zst", ".xz", ".bz2", ".gz"])
def test_multi_frame_files_are_read_to_the_end(tmp_path, suffix):
    half = len(BODY) // 2
    parts = [BODY[:half], BODY[half:]]
    compress = {
        ".zst": lambda d: zstandard.ZstdCompressor().compress(d),
        ".xz": lzma.compress,
        ".bz2": bz2.compress,
        ".gz": gzip.compress,
    }[suffix]
    path = tmp_path / f"dump{suffix}"
    path.write_bytes(b"".join(compress(p) for p in parts))
    assert _read_all(path) == BODY
    lines = [x for block, _, _ in iter_blocks(path, compression_of(path), block_bytes=4096) for x in block_lines(block)]
    assert lines == LINES


@pytest.mark.parametrize("suffix", [".zst", ".xz", ".bz2", ".gz"])
def test_truncated_file_fails_with_path_and_offset(tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    if suffix == ".zst":
        _long_window_zst(full, BODY * 4)
    else:
        opener = {".xz": lzma.open, ".bz2": bz2.open, ".gz": gzip.open}[suffix]
        with opener(full, "wb") as f:
            f.write(BODY * 4)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ShardError) as err:
        _read_all(cut)
    assert str(cut) in str(err.value)
    assert err.value.offset == len(data) * 2 // 3
    assert "truncated" in str(err.value)


def test_python_zstandard_alone_does_not_notice_truncation(tmp_path):
    """Why we drive the decoder by hand: the library's own reader returns partial data silently."""
    path = tmp_path / "cut.zst"
    data = zstandard.ZstdCompressor().compress(BODY * 4)
    path.write_bytes(data[: len(data) // 2])
    with open(path, "rb") as f:
        reader = zstandard.ZstdDecompressor().stream_reader(f)
        partial = b"".join(iter(lambda: reader.read(1 << 16), b""))
    assert len(partial) < len(BODY * 4)  # short, and no exception
    with pytest.raises(ShardError, match="truncated"):
        _read_all(path)


def test_corrupt_frame_fails_with_offset(tmp_path):
    data = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(BODY))
    for i in range(200, 260):
        data[i] ^= 0xFF
    path = tmp_path / "bad.zst"
    path.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="corrupt zst") as err:
        _read_all(path)
    assert err.value.path == str(path)
    assert err.value.offset is not None


def test_blocks_hold_whole_lines_and_mark_a_missing_final_newline(tmp_path):
    path = tmp_path / "plain.jsonl"
    path.write_bytes(b"a\n" * 3000 + b"\nlast")
    blocks = list(iter_blocks(path, None, block_bytes=1000))
    assert len(blocks) >= 2
    assert all(b.endswith(b"\n") and not partial for b, partial, _ in blocks[:-1])
    assert blocks[-1][1] is True and blocks[-1][0].endswith(b"last")
    lines = [x for b, _, _ in blocks for x in block_lines(b)]
    assert lines == [b"a"] * 3000 + [b"", b"last"]
    path.write_bytes(b"a\nb\n")
    assert [(b.tobytes(), partial, offset) for b, partial, offset in iter_blocks(path, None)] == [(b"a\nb\n", False, 4)]


@pytest.mark.parametrize("block_bytes", [64, 1000, 1 << 20])
def test_blocks_read_in_place_give_every_line_once(tmp_path, block_bytes):
    """Big chunks are read in place, a line split across two chunks comes out whole."""
    body = b"".join(b'{"i": %d, "pad": "%s"}\n' % (i, b"x" * (i % 97)) for i in range(5000))
    for suffix, compress in [(".jsonl", lambda b: b), (".zst", lambda b: zstandard.ZstdCompressor().compress(b))]:
        path = tmp_path / f"lines{suffix}"
        path.write_bytes(compress(body))
        blocks = list(iter_blocks(path, compression_of(path), block_bytes=block_bytes))
        assert b"".join(b.tobytes() for b, _, _ in blocks) == body
        assert all(b.endswith(b"\n") and b.count(b"\n") == len(block_lines(b)) for b, _, _ in blocks)
