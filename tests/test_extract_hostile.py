"""Hostile HTML through the extract stage: every record gets a disposition and the worker survives.

One WARC file holds every hostile body of the issue (a 20 MB page of 700k ``<p>``, 10k nested ``<div>``s, a huge
colspan, a 10 MB text node, gzip/zstd/brotli bombs served as text/html, billion laughs, XXE, lying and unknown
charsets, a 0-byte body, PDF/PNG bytes as text/html) next to a few ordinary articles; ``run_extract`` runs over it once
(module fixture) and each URL's disposition is checked. The watchdog process is tested directly for the per-document
deadline, for surviving a timeout and for its peak RSS; ``decode_html``/``sniff_binary`` get unit tests.
"""

from __future__ import annotations

import codecs
import gzip
import io
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from webtext.errors import StageFailedError
from webtext.extract.config import ExtractConfig
from webtext.extract.decode import decode_html, sniff_binary
from webtext.extract.extract_stage import run_extract
from webtext.extract.worker import Extractor, ExtractSettings
from webtext.paths import side_dir
from webtext.runner import LocalRunner

# --- pages ---------------------------------------------------------------------------------------------------------

PARAGRAPHS = [
    "The city council voted on Tuesday to extend the night bus service for another year, after a trial that ran "
    "through the winter drew more riders than the transit agency had expected. Officials said the buses carried "
    "about four thousand passengers a week, many of them hospital and restaurant workers whose shifts end late.",
    "The extension will cost roughly two million dollars, which the council plans to cover from parking revenue "
    "rather than from the general budget. Several members argued that the routes should reach the industrial "
    "district as well, and the agency promised to publish a study of that option before the summer.",
    "Riders who spoke at the meeting welcomed the decision but asked for shelters and better lighting at the stops. "
    "One nurse described waiting in the rain for forty minutes after a double shift, and said that the service had "
    "changed how safe she felt on her way home through the quiet streets of the old town.",
    "Farmers in the valley began the harvest two weeks early this year because of the long dry spell in August. "
    "Most of them said the grapes were smaller than usual but unusually sweet, and the cooperative expects a good "
    "vintage even though the total volume will probably be about a fifth lower than last season.",
    "The regional library reopened its reading room after a renovation that took almost eighteen months and went "
    "well over budget. Visitors found new windows, quieter heating and a children's corner with low shelves, while "
    "the old card catalogue has been kept in the entrance hall as a reminder of how the building used to work.",
    "Scientists at the university have spent the last decade counting the birds that nest along the river, and "
    "their latest report suggests that several species are slowly returning. They credit the cleaner water and "
    "the wide strips of meadow that farmers now leave between their fields and the banks of the stream.",
]

ACCENTED = (
    "Anna Müller opened the small café on the corner of the market square last spring, and within a month the room "
    "was full every morning. She bakes the bread herself before dawn and says the secret is patience rather than "
    "any special flour. Her neighbour, a retired teacher, calls the place naïve in the best possible way."
)


def article(title: str, paragraphs: list[str], head: str = "", charset_meta: str | None = None) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (
        f"{head}<html><head>{meta}<title>{title}</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<article><h1>{title}</h1>\n{body}</article><footer>Contact us</footer></body></html>"
    )


def normal(i: int) -> str:
    return article(f"Local news {i}", [PARAGRAPHS[(i + k) % len(PARAGRAPHS)] for k in range(3)])


def billion_laughs() -> str:
    ents = ['<!ENTITY lol "lol">']
    ents += [f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)]
    head = "<!DOCTYPE html [\n" + "\n".join(ents) + "\n]>\n"
    return article("Laughs", [PARAGRAPHS[0] + " &lol9;", PARAGRAPHS[1], PARAGRAPHS[2] + " &lol5;"], head=head)


def xxe(secret: Path, xhtml: bool = False) -> str:
    uri = secret.as_uri()
    head = f'<!DOCTYPE html [\n<!ENTITY xxe SYSTEM "{uri}">\n<!ENTITY % pe SYSTEM "{uri}">\n%pe;\n]>\n'
    paras = [PARAGRAPHS[3] + " &xxe;", PARAGRAPHS[4], PARAGRAPHS[5] + " &xxe;"]
    if not xhtml:
        return article("Entities", paras, head=head)
    body = "".join(f"<p>{p}</p>" for p in paras)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{head}'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:xi="http://www.w3.org/2001/XInclude">'
        f"<head><title>Entities</title></head><body><article><h1>Entities</h1>{body}"
        f'<xi:include href="{uri}" parse="text"/></article></body></html>'
    )


def many_paragraphs(n: int) -> str:
    return "<html><body>" + "".join(f"<p>paragraph number {i} says hello</p>\n" for i in range(n)) + "</body></html>"


def nested_divs(depth: int = 10_000) -> str:
    inner = "".join(f"<p>{p}</p>" for p in PARAGRAPHS[:3])
    return "<html><body>" + "<div>" * depth + inner + "</div>" * depth + "</body></html>"


def huge_colspan() -> str:
    n = 9007199254740991
    table = (
        f"<table><tr><td colspan={n} rowspan={n}>x</td><td colspan=-{n}>y</td></tr>"
        f"<tr><td colspan='{n}{n}'>a</td><td colspan=1e308>b</td></tr></table>"
    )
    return article("Tables", PARAGRAPHS[:3]).replace("</article>", table + "</article>")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n" + b"stream\n" + bytes(range(256)) * 4 + b"\nendstream\n%%EOF"
HTML = "text/html"
HTML_UTF8 = "text/html; charset=utf-8"


def hostile_records(secret: Path) -> list[tuple[str, bytes, str]]:
    """(url, body, Content-Type) of every record of the main WARC file."""
    import brotli
    import zstandard

    zeros = b"\0" * 100_000_000
    big_text = "<html><body><p>" + "a" * 10_000_000 + "</p></body></html>"
    recs = [(f"http://news.test/article-{i}", normal(i).encode(), HTML_UTF8) for i in range(3)]
    recs += [
        ("http://hostile.test/700k-paragraphs", many_paragraphs(700_000).encode(), HTML),
        ("http://hostile.test/nested-divs", nested_divs().encode(), HTML),
        ("http://hostile.test/colspan", huge_colspan().encode(), HTML),
        ("http://hostile.test/10mb-text-node", big_text.encode(), HTML),
        ("http://hostile.test/gzip-bomb", gzip.compress(zeros, 1), HTML),
        ("http://hostile.test/zstd-bomb", zstandard.ZstdCompressor().compress(zeros), HTML),
        ("http://hostile.test/brotli-bomb", brotli.compress(zeros, quality=1), HTML),
        ("http://hostile.test/billion-laughs", billion_laughs().encode(), HTML),
        ("http://hostile.test/xxe", xxe(secret).encode(), HTML),
        ("http://hostile.test/xxe-xhtml", xxe(secret, xhtml=True).encode(), "application/xhtml+xml"),
        ("http://hostile.test/empty", b"", HTML),
        ("http://hostile.test/whitespace", b" \r\n\t \n", HTML),
        ("http://hostile.test/pdf", PDF, HTML),
        ("http://hostile.test/png", PNG, HTML_UTF8),
        # declares UTF-8 in the header, is cp1252
        ("http://charset.test/lying-header", article("Cafe", [ACCENTED, *PARAGRAPHS[:2]]).encode("cp1252"),
         HTML_UTF8),
        # declares UTF-8 in a <meta>, is Latin-1
        ("http://charset.test/lying-meta",
         article("Cafe", [ACCENTED, *PARAGRAPHS[2:4]], charset_meta="utf-8").encode("latin-1"), HTML),
        # a charset that does not exist, UTF-8 bytes
        ("http://charset.test/unknown-header", article("Cafe", [ACCENTED, *PARAGRAPHS[4:6]]).encode(),
         "text/html; charset=x-no-such-charset"),
        # a nonsense <meta> charset, cp1252 bytes
        ("http://charset.test/unknown-meta",
         article("Cafe", [ACCENTED, *PARAGRAPHS[1:3]], charset_meta="klingon-8").encode("cp1252"), HTML),
        # the header lies (UTF-8), the <meta> tells the truth (windows-1252)
        ("http://charset.test/header-lies-meta-right",
         article("Cafe", [ACCENTED, *PARAGRAPHS[3:5]], charset_meta="windows-1252").encode("cp1252"), HTML_UTF8),
        # a UTF-16 page with its BOM (see test_utf16_page_with_bom_is_a_document)
        ("http://charset.test/utf16-bom",
         codecs.BOM_UTF16_LE + article("Cafe", [ACCENTED, *PARAGRAPHS[:2]]).encode("utf-16-le"), HTML),
    ]
    return recs


def write_warc(path: Path, records: list[tuple[str, bytes, str]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, body, ctype in records:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=headers)
            )


def read_rows(out: Path) -> tuple[list[dict], list[dict]]:
    docs = [r for f in sorted(out.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    dropped = [r for f in sorted(side_dir(out, "dropped").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return docs, dropped


# --- the stage over the hostile WARC file --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    marker = f"SECRET-{uuid.uuid4().hex}"
    secret = root / "secret.txt"
    secret.write_text(marker + "\n")
    warcs = root / "warcs"
    warcs.mkdir()
    records = hostile_records(secret)
    write_warc(warcs / "hostile.warc.gz", records)
    out = root / "out"
    start = time.perf_counter()
    manifest = run_extract(ExtractConfig(inputs=[str(warcs)], doc_timeout=30.0), out, LocalRunner())
    seconds = time.perf_counter() - start
    docs, dropped = read_rows(out)
    return {
        "urls": [u for u, _, _ in records], "manifest": manifest, "seconds": seconds, "marker": marker,
        "docs": {d["url"]: d for d in docs}, "dropped": {d["url"]: d for d in dropped},
        "doc_list": docs, "dropped_list": dropped,
    }


def test_every_record_has_exactly_one_disposition(hostile):
    urls = hostile["urls"]
    seen = [d["url"] for d in hostile["doc_list"]] + [d["url"] for d in hostile["dropped_list"]]
    assert sorted(seen) == sorted(urls)
    stats = hostile["manifest"].stats
    assert stats["records"] == len(urls)
    assert stats["kept"] == len(hostile["docs"])
    assert sum(v for k, v in stats.items() if k.startswith("dropped_")) == len(hostile["dropped"])
    assert stats["shards"] == 1
    assert hostile["seconds"] < 60, "one hostile WARC file must not take minutes"


def test_normal_articles_are_documents(hostile):
    for i in range(3):
        doc = hostile["docs"].get(f"http://news.test/article-{i}")
        assert doc is not None, hostile["dropped"].get(f"http://news.test/article-{i}")
        assert doc["n_words"] >= 150
        assert doc["lang"] == "en"
        assert doc["title"] == f"Local news {i}"
        assert PARAGRAPHS[i].split(",")[0] in doc["text"]


@pytest.mark.parametrize("path", ["700k-paragraphs", "10mb-text-node"])
def test_over_the_size_cap_is_too_large(hostile, path):
    row = hostile["dropped"][f"http://hostile.test/{path}"]
    assert row["reason"] == "too_large"
    assert str(5 * 1024 * 1024) in row["detail"]


@pytest.mark.parametrize("path", ["pdf", "png", "gzip-bomb", "zstd-bomb"])
def test_binary_bodies_served_as_html_are_not_html(hostile, path):
    row = hostile["dropped"][f"http://hostile.test/{path}"]
    assert row["reason"] == "not_html"
    assert path.split("-")[0] in row["detail"]


def test_brotli_bomb_is_dropped_without_decompression(hostile):
    # brotli has no magic bytes: any drop reason will do, but never a document
    assert "http://hostile.test/brotli-bomb" in hostile["dropped"]


@pytest.mark.parametrize("path", ["empty", "whitespace"])
def test_empty_bodies_are_empty(hostile, path):
    assert hostile["dropped"][f"http://hostile.test/{path}"]["reason"] == "empty"


@pytest.mark.parametrize("path", ["nested-divs", "colspan", "billion-laughs", "xxe", "xxe-xhtml"])
def test_parser_bombs_get_a_disposition(hostile, path):
    url = f"http://hostile.test/{path}"
    assert (url in hostile["docs"]) != (url in hostile["dropped"])
    if url in hostile["dropped"]:
        assert hostile["dropped"][url]["reason"] != "timeout"


def test_huge_colspan_does_not_blow_up_the_text(hostile):
    doc = hostile["docs"].get("http://hostile.test/colspan")
    if doc is not None:
        assert doc["n_chars"] < 100_000


def test_no_entity_expansion(hostile):
    for row in hostile["doc_list"] + hostile["dropped_list"]:
        assert "lol" * 10 not in (row.get("text") or "")
        assert "lol" * 10 not in (row.get("detail") or "")
    # the page is real prose: it must come out as a document, so the check above is not vacuous
    doc = hostile["docs"].get("http://hostile.test/billion-laughs")
    assert doc is not None, hostile["dropped"].get("http://hostile.test/billion-laughs")
    assert len(doc["text"]) < 5000


def test_no_external_entity_is_read(hostile):
    marker = hostile["marker"]
    for path in ("xxe", "xxe-xhtml"):  # real prose: documents, so the check below is not vacuous
        assert f"http://hostile.test/{path}" in hostile["docs"], hostile["dropped"].get(f"http://hostile.test/{path}")
    for row in hostile["doc_list"] + hostile["dropped_list"]:
        assert marker not in (row.get("text") or "")
        assert marker not in (row.get("title") or "")
        assert marker not in (row.get("detail") or "")


@pytest.mark.parametrize(
    "path",
    ["lying-header", "lying-meta",
     "unknown-header", "unknown-meta", "header-lies-meta-right"],
)
def test_lying_and_unknown_charsets_still_decode(hostile, path):
    url = f"http://charset.test/{path}"
    doc = hostile["docs"].get(url)
    assert doc is not None, hostile["dropped"].get(url)
    for word in ("café", "Müller", "naïve"):
        assert word in doc["text"]
    assert "\ufffd" not in doc["text"]


def test_utf16_page_with_bom_is_a_document(hostile):
    doc = hostile["docs"].get("http://charset.test/utf16-bom")
    assert doc is not None, hostile["dropped"].get("http://charset.test/utf16-bom")
    assert "Müller" in doc["text"]


# --- the watchdog process ------------------------------------------------------------------------------------------


def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def test_deadline_kills_the_worker_and_the_next_document_still_extracts():
    slow = many_paragraphs(30_000)  # ~1 MB, well under the cap; trafilatura needs seconds, not 50 ms
    with Extractor(ExtractSettings(), deadline=0.05) as extractor:
        start = time.perf_counter()
        disposition, result = extractor.extract(slow, "http://slow.test/")
        assert (disposition, result) == ("timeout", None)
        assert time.perf_counter() - start < 10
        assert extractor.restarts == 1
        assert extractor._proc is None
        extractor.deadline = 30.0
        disposition, result = extractor.extract(normal(0), "http://news.test/after-timeout")
        assert disposition == "ok"
        assert result is not None and PARAGRAPHS[0][:40] in result["text"]
        assert extractor.restarts == 1


@pytest.mark.slow  # ~16 s: a large page through the worker, its peak RSS sampled
def test_worker_peak_rss_stays_bounded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("nothing\n")
    pages = [
        "<html><body><p>" + "a" * 4_900_000 + "</p></body></html>",  # a text node just under the cap
        many_paragraphs(40_000),
        nested_divs(),
        huge_colspan(),
        billion_laughs(),
        xxe(secret),
        xxe(secret, xhtml=True),
        normal(1),
    ]
    with Extractor(ExtractSettings(), deadline=60.0, max_rss_mb=1e9) as extractor:
        for i, html in enumerate(pages):
            disposition, _ = extractor.extract(html, f"http://rss.test/{i}")
            assert disposition == "ok" or (disposition.startswith("error: ") and "worker died" not in disposition)
        assert extractor.restarts == 0
        peak = vm_hwm_mb(extractor._proc.pid)
    assert peak < 1536, f"extraction worker peaked at {peak:.0f} MB"


def test_stage_counts_dropped_timeout(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    # pages big enough (~150 kB) that trafilatura cannot finish them in 10 ms
    filler = "".join(f"<p>{PARAGRAPHS[i % len(PARAGRAPHS)]}</p>\n" for i in range(400))
    pages = [normal(i).replace("</article>", filler + "</article>") for i in range(2)]
    write_warc(warcs / "slow.warc.gz", [(f"http://slow.test/{i}", p.encode(), HTML_UTF8) for i, p in enumerate(pages)])
    out = tmp_path / "out"
    manifest = run_extract(ExtractConfig(inputs=[str(warcs)], doc_timeout=0.01), out, LocalRunner())
    assert manifest.stats["dropped_timeout"] == 2
    assert manifest.stats["worker_restarts"] == 2
    assert manifest.stats.get("kept", 0) == 0
    docs, dropped = read_rows(out)
    assert docs == []
    assert sorted(r["url"] for r in dropped) == ["http://slow.test/0", "http://slow.test/1"]
    assert {r["reason"] for r in dropped} == {"timeout"}


def test_stage_survives_an_undefined_charset(tmp_path):
    warcs = tmp_path / "warcs"
    warcs.mkdir()
    page = article("Cafe", [ACCENTED, *PARAGRAPHS[:2]], charset_meta="undefined")
    write_warc(warcs / "undefined.warc.gz", [("http://charset.test/undefined", page.encode(), HTML)])
    out = tmp_path / "out"
    try:
        run_extract(ExtractConfig(inputs=[str(warcs)]), out, LocalRunner())
    except StageFailedError as exc:
        pytest.fail(f"a <meta charset=undefined> page failed the whole shard: {exc}")
    docs, dropped = read_rows(out)
    assert len(docs) + len(dropped) == 1


# --- decode_html / sniff_binary -----------------------------------------------------------------------------------

CAFE = "<html><body><p>Anna Müller's café</p></body></html>"


@pytest.mark.parametrize(
    ("body", "ctype", "how"),
    [
        (codecs.BOM_UTF8 + CAFE.encode(), "text/html; charset=iso-8859-1", "utf-8-sig"),  # the BOM beats the header
        (codecs.BOM_UTF16_LE + CAFE.encode("utf-16-le"), None, "utf-16"),
        (codecs.BOM_UTF16_BE + CAFE.encode("utf-16-be"), "text/html; charset=utf-8", "utf-16"),
    ],
)
def test_decode_bom(body, ctype, how):
    text, used = decode_html(body, ctype)
    assert used == how
    assert text.lstrip("\ufeff") == CAFE


def test_decode_header_charset():
    text, used = decode_html(CAFE.encode("cp1252"), 'text/html; charset="Windows-1252"')
    assert (text, used) == (CAFE, "cp1252")
    text, used = decode_html(CAFE.encode("utf-8"), "text/html;charset=UTF-8")
    assert (text, used) == (CAFE, "utf-8")


def test_decode_header_beats_meta():
    body = ('<meta charset="utf-8">' + CAFE).encode("cp1252")
    text, used = decode_html(body, "text/html; charset=windows-1252")
    assert used == "cp1252" and "Müller" in text


@pytest.mark.parametrize(
    "meta",
    ['<meta charset="windows-1251">', "<meta charset=windows-1251>",
     '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
     "<META HTTP-EQUIV='content-type' CONTENT='text/html;charset=WINDOWS-1251'>"],
)
def test_decode_meta_charset(meta):
    page = f"<html><head>{meta}</head><body><p>Привет, мир</p></body></html>"
    text, used = decode_html(page.encode("cp1251"), "text/html")
    assert used == "cp1251"
    assert "Привет, мир" in text


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (CAFE.encode("cp1252"), "text/html; charset=utf-8"),  # header lies
        (('<meta charset="utf-8">' + CAFE).encode("latin-1"), None),  # meta lies
        (('<meta charset="ascii">' + CAFE).encode("cp1252"), "text/html; charset=us-ascii"),  # both lie
    ],
)
def test_decode_lying_charset_falls_back(body, ctype):
    text, _ = decode_html(body, ctype)
    assert "Müller" in text and "café" in text
    assert "\ufffd" not in text


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "text/html; charset=x-no-such-charset", None])
def test_decode_lying_charset_on_a_real_article(ctype):
    text, used = decode_html(article("Cafe", [ACCENTED, *PARAGRAPHS[:2]]).encode("cp1252"), ctype)
    for word in ("café", "Müller", "naïve"):
        assert word in text, used


@pytest.mark.parametrize(
    "ctype",
    ["text/html; charset=x-no-such-charset", "text/html; charset=", "text/html; charset=\"\"", "text/html; charset=;;",
     "text/html; charset=utf-8\x00", "text/html; charset=" + "x" * 500, "text/html; charset=rot13",
     "text/html; charset=zlib", "text/html; charset=base64", "text/html; charset=hex", "text/html; charset=uu"],
)
def test_decode_unknown_or_non_text_charset_names_are_tolerated(ctype):
    text, _ = decode_html(CAFE.encode(), ctype)
    assert text == CAFE


def test_decode_unknown_meta_charset_and_undeclared_bytes():
    text, _ = decode_html(('<meta charset="klingon-8">' + CAFE).encode(), None)
    assert "Müller" in text
    text, used = decode_html(b"<p>\xff\xfe\xfa\x80 caf\xe9 " + b"M\xfcller " * 20 + b"</p>", None)
    assert isinstance(text, str) and used.endswith("(detected)")
    assert decode_html(b"", None) == ("", "utf-8")


@pytest.mark.parametrize("where", ["header", "meta"])
def test_decode_undefined_codec_is_tolerated(where):
    if where == "header":
        body, ctype = CAFE.encode(), "text/html; charset=undefined"
    else:
        body, ctype = ('<meta charset="undefined">' + CAFE).encode(), None
    text, _ = decode_html(body, ctype)
    assert "Müller" in text


@pytest.mark.parametrize("name", ["unicode_escape", "raw_unicode_escape", "utf-7"])
def test_decode_non_web_codecs_are_ignored(name):
    para = r"<p>Mueller keeps C:\new\u0041 and +AGEAYgBj- as typed</p>"
    text, _ = decode_html(f'<meta charset="{name}">{para}'.encode("ascii"), None)
    assert para in text


def test_decode_meta_utf16_without_bom_is_utf8():
    body = ('<html><head><meta charset="utf-16"></head>' + CAFE[6:]).encode()
    body += b" " * (len(body) % 2)  # even length: it would decode as UTF-16 without complaint
    text, _ = decode_html(body, None)
    assert "Müller" in text


def test_decode_latin1_label_means_windows_1252():
    text, _ = decode_html(b"<p>It\x92s \x93quoted\x94 \x80 5</p>", "text/html; charset=iso-8859-1")
    assert "It\u2019s \u201cquoted\u201d \u20ac 5" in text


@pytest.mark.parametrize(
    ("body", "kind"),
    [(PDF, "pdf"), (PNG, "png"), (b"  \r\n%PDF-1.4", "pdf"), (gzip.compress(b"<html></html>"), "gzip"),
     (b"\x28\xb5\x2f\xfd" + b"\x00" * 20, "zstd"), (b"PK\x03\x04rest", "zip"), (b"GIF89a", "gif"),
     (b"\xff\xd8\xff\xe0", "jpeg"), (b"<html>" + b"\x00" * 200 + b"</html>", "binary")],
)
def test_sniff_binary(body, kind):
    assert sniff_binary(body) == kind


@pytest.mark.parametrize("body", [CAFE.encode(), b"", b"   <!doctype html><p>x</p>", CAFE.encode("cp1252")])
def test_sniff_binary_lets_html_through(body):
    assert sniff_binary(body) is None


@pytest.mark.parametrize("bom,codec", [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_sniff_binary_lets_utf16_html_through(bom, codec):
    assert sniff_binary(bom + CAFE.encode(codec)) is None
