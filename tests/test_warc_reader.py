"""FastArchiveIterator reads exactly what warcio's ArchiveIterator reads (records, payloads, offsets, errors)."""

from __future__ import annotations

import gzip
import importlib
import io
import sys

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from webtext.extract import warc_reader
from webtext.extract.warc_reader import FastArchiveIterator


def _warc(pages: int = 5, gzipped: bool = True) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzipped)
    for i in range(pages):
        body = (f"<html><body><p>page {i} " + "word " * (3000 * i + 7) + "</p></body></html>").encode()
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(f"http://x.example/{i}", "response", payload=io.BytesIO(body),
                                                      http_headers=headers))
    return out.getvalue()


def _read(cls: type, data: bytes) -> list[tuple]:
    """(type, uri, offset, payload) of every record; ('error', type name, message) if reading raises."""
    got: list[tuple] = []
    records = cls(io.BytesIO(data))
    try:
        for rec in records:
            payload = rec.content_stream().read()
            got.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI"), records.get_record_offset(),
                        payload))
    except Exception as exc:  # the same error as warcio's, whatever it is
        got.append(("error", type(exc).__name__, str(exc)))
    return got


def test_isal_is_what_reads_the_members():
    assert warc_reader.isal_inflate() is not None  # a dependency: installed with the project
    records = FastArchiveIterator(io.BytesIO(_warc(1)))
    assert "isal" in type(records.reader.decompressor).__module__


@pytest.mark.parametrize("gzipped", [True, False])
def test_the_same_records_offsets_and_payloads(gzipped):
    data = _warc(6, gzipped)
    ours = _read(FastArchiveIterator, data)
    assert ours == _read(ArchiveIterator, data)
    assert [r[0] for r in ours] == ["response"] * 6 and ours[5][3].count(b"word ") == 15007


def test_the_same_at_damaged_bytes():
    data = _warc(4)
    second = data.index(b"\x1f\x8b", 10)  # where the second record's gzip member starts
    damaged = [
        data[: len(data) - 100],  # cut off inside the last member
        data[:second + 40] + b"\x00" * 64 + data[second + 104:],  # garbage inside a member
        data[:second] + b"not gzip at all" + data[second:],  # bytes between members
        data + gzip.compress(b"WARC/1.0\r\nbroken"),  # a member that is not a record
    ]
    for bad in damaged:
        assert _read(FastArchiveIterator, bad) == _read(ArchiveIterator, bad)


def test_not_a_warc_file_fails_the_same():
    for data in (b"", b"hello world\n" * 10, gzip.compress(b"hello world\n" * 10)):
        ours = _read(FastArchiveIterator, data)
        assert ours == _read(ArchiveIterator, data)
    with pytest.raises(ArchiveLoadFailed):
        list(FastArchiveIterator(io.BytesIO(b"hello world\n" * 10)))


def test_without_isal_it_is_warcios_iterator(monkeypatch):
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal now fails
    try:
        plain = importlib.reload(warc_reader)
        assert plain.isal_inflate() is None
        data = _warc(2)
        records = plain.FastArchiveIterator(io.BytesIO(data))
        assert type(records.reader.decompressor).__module__ == "zlib"
        assert _read(plain.FastArchiveIterator, data) == _read(ArchiveIterator, data)
    finally:
        monkeypatch.undo()
        importlib.reload(warc_reader)
