"""URL normalisation: documented rules, rejection reasons, idempotence (property-tested)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webtext.crawl.urls import (
    Blocklist,
    UrlFilter,
    UrlRejected,
    domain_of,
    normalise_url,
    path_extension,
    url_host,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://WWW.Example.COM", "http://www.example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("http://example.com/a#section", "http://example.com/a"),
        ("http://example.com/?b=2&a=1&utm_source=reddit&fbclid=x&gclid=y", "http://example.com/?a=1&b=2"),
        ("http://example.com/?utm_medium=social", "http://example.com/"),
        ("http://example.com/?id=3&amp;page=2", "http://example.com/?id=3&page=2"),
        ("http://example.com/%7euser/%41b%2fc", "http://example.com/~user/Ab%2Fc"),
        ("http://example.com/a b/ü", "http://example.com/a%20b/%C3%BC"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://example.com./x", "http://example.com/x"),
        ("  http://example.com/x  ", "http://example.com/x"),
        ("http://example.com/x?q=a%2bb", "http://example.com/x?q=a%2Bb"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://@xkcd.com/c257.html", "http://xkcd.com/c257.html"),
        ("http://www.geocities.com/speeding@sbcglobal.net/SPEEDING.html",
         "http://www.geocities.com/speeding@sbcglobal.net/SPEEDING.html"),
    ],
)
def test_normalise_examples(raw, expected):
    assert normalise_url(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ftp://example.com/file", "url_scheme"),
        ("file:///etc/passwd", "url_scheme"),
        ("data:text/html,hi", "url_scheme"),
        ("javascript:alert(1)", "url_scheme"),
        ("mailto:someone@example.com", "url_scheme"),
        ("http://user:pass@example.com/", "url_credentials"),
        ("http://user@example.com/", "url_credentials"),
        ("www.example.com/no-scheme", "url_malformed"),
        ("http:///nohost", "url_malformed"),
        ("http://exa mple.com/", "url_malformed"),
        ("http://example.com:99999/", "url_malformed"),
        ("http://example.com/\x00", "url_malformed"),
        ("", "url_malformed"),
        ("http://example.com/" + "a" * 3000, "url_too_long"),
    ],
)
def test_rejections_carry_their_reason(raw, reason):
    with pytest.raises(UrlRejected) as err:
        normalise_url(raw)
    assert err.value.reason == reason


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1,
                 max_size=12).filter(lambda s: not s.startswith("-") and not s.endswith("-"))
_unicode_label = st.sampled_from(["bücher", "münchen", "пример", "例え", "café"])
_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12
) | st.sampled_from(["%7e", "%7E", "%2f", "%41", "%zz", "%", ".", "..", "a b", "%C3%BC"])
_param = st.tuples(
    st.sampled_from(["a", "B", "id", "utm_source", "fbclid", "q", "page", "x%20y", "gclid"]),
    st.text(alphabet="abc123%+=/?:é ", max_size=6),
)


@st.composite
def urls(draw):
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "hTtPs"]))
    labels = draw(st.lists(_label | _unicode_label, min_size=1, max_size=4))
    host = ".".join(labels) + draw(st.sampled_from(["", ".com", ".example", ".org."]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/".join(draw(st.lists(_segment, max_size=5)))
    params = draw(st.lists(_param, max_size=5))
    query = "&".join(f"{k}={v}" for k, v in params)
    amp = draw(st.booleans())
    if amp:
        query = query.replace("&", "&amp;")
    frag = draw(st.sampled_from(["", "#top", "#!/x"]))
    return f"{scheme}://{host}{port}/{path}{'?' + query if query else ''}{frag}"


@settings(max_examples=600, deadline=None)
@given(urls())
def test_normalisation_is_idempotent(raw):
    try:
        once = normalise_url(raw)
    except UrlRejected:
        return
    assert normalise_url(once) == once
    assert once == once.strip()
    assert "#" not in once
    if "?" in once:
        keys = [p.split("=", 1)[0].lstrip("?").lower() for p in once.split("?", 1)[1].split("&")]
        assert not any(k.startswith("utm_") or k in ("fbclid", "gclid") for k in keys)
    assert once.split("://", 1)[0] in ("http", "https")
    assert once.isascii()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_crashes(text):
    try:
        once = normalise_url(text)
    except UrlRejected:
        return
    assert normalise_url(once) == once


def test_host_domain_and_extension_helpers():
    url = normalise_url("https://www.Example.com:8443/a/b/File.PDF?x=1")
    assert url_host(url) == "www.example.com"
    assert domain_of(url_host(url)) == "example.com"
    assert path_extension(url) == "pdf"
    assert path_extension("http://example.com/") == ""


def test_shipped_blocklists_are_versioned_and_used():
    domains = Blocklist.load(None, "media-domains.txt")
    exts = Blocklist.load(None, "non-html-extensions.txt")
    assert domains.version != "unversioned" and "imgur.com" in domains and len(domains) > 30
    assert "jpg" in exts and "pdf" in exts and "html" not in exts
    f = UrlFilter(2048, domains, exts, drop_wikipedia=True)
    for raw, reason in [
        ("https://en.wikipedia.org/wiki/GPT-2", "wikipedia"),
        ("https://en.m.wikipedia.org/wiki/GPT-2", "wikipedia"),
        ("http://i.imgur.com/x", "domain_blocklist"),
        ("https://www.youtube.com/watch?v=1", "domain_blocklist"),
        ("http://example.com/paper.pdf", "extension_blocklist"),
        ("http://example.com/pic.JPG?size=large", "extension_blocklist"),
    ]:
        with pytest.raises(UrlRejected) as err:
            f(raw)
        assert err.value.reason == reason, raw
    assert f("http://notimgur.com/x") == ("http://notimgur.com/x", "notimgur.com")
    assert f("http://www.example.com/story.html")[1] == "example.com"


def test_user_blocklist_replaces_the_shipped_one(tmp_path):
    own = tmp_path / "domains.txt"
    own.write_text("# version: mine-1\nexample.org\n")
    bl = Blocklist.load(own, "media-domains.txt")
    assert bl.version == "mine-1" and bl.entries == frozenset({"example.org"})
    f = UrlFilter(2048, bl, None, drop_wikipedia=True)
    assert f("http://imgur.com/x")[0] == "http://imgur.com/x"
    with pytest.raises(UrlRejected):
        f("http://news.example.org/x")


def _reference(f: UrlFilter, raw: str):
    """The documented rules composed one by one: what UrlFilter must reproduce."""
    from webtext.crawl.urls import host_suffixes, is_wikipedia

    try:
        url = normalise_url(raw, f.max_length)
    except UrlRejected as exc:
        return exc.reason
    host = url_host(url)
    if f.drop_wikipedia and is_wikipedia(host):
        return "wikipedia"
    if f.domains is not None and any(s in f.domains for s in host_suffixes(host)):
        return "domain_blocklist"
    if f.extensions is not None and path_extension(url) in f.extensions:
        return "extension_blocklist"
    return url, domain_of(host)


_FILTER = UrlFilter(300, Blocklist.load(None, "media-domains.txt"), Blocklist.load(None, "non-html-extensions.txt"),
                    drop_wikipedia=True)
_simple_urls = st.builds(
    "{}://{}{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["example.com", "WWW.Example.org", "en.wikipedia.org", "i.imgur.com", "a_b.c-d.net", "x.io."]),
    st.sampled_from(["", "/", "/a/b", "/a/./b", "/file.PDF", "/x.jpg/", "/a&amp;b", "/.well-known/x", "/%41"]),
    st.sampled_from(["", "?", "?b=2&a=1", "?utm_source=x", "?a=1&amp;b=2", "??x", "?q=%2f"]),
    st.sampled_from(["", "#top", "#"]),
    st.sampled_from(["", " ", ":8080"]),
)


@settings(max_examples=500, deadline=None)
@given(_simple_urls | urls())
def test_filter_matches_the_rules(raw):
    try:
        got = _FILTER(raw)
    except UrlRejected as exc:
        got = exc.reason
    assert got == _reference(_FILTER, raw)


def _scalar(f: UrlFilter, raw: str):
    try:
        return f(raw)
    except UrlRejected as exc:
        return exc.reason


def _column(f: UrlFilter, raws: list[str]) -> list:
    import pyarrow as pa

    from webtext.crawl.url_columns import filter_url_column

    url, domain, reason = filter_url_column(pa.array(raws, pa.string()), f, {})
    return [r if r is not None else (u, d) for u, d, r in zip(url.to_pylist(), domain.to_pylist(),
                                                             reason.to_pylist(), strict=True)]


_EDGE_URLS = [
    "https://Example.com", "http://example.com/a?b=2&a=1&b=1", "http://x.io/?utm_source=a&UTM_x=2&fbclid=3",
    "http://x.io/p?&&a=&=b", "http://x.io/p??x=1&y", "http://x.io/p?", "http://x.io/p#frag?x", "http://x.io/a.PDF",
    "http://x.io/a.pdf/", "http://x.io/a.", "http://x.io/.jpg", "http://WWW.x.io/", "http://www.en.wikipedia.org/x",
    "https://i.imgur.com/a.png", "http://x.io/a&amp;b", "http://x.io/" + "a" * 400, "ftp://x.io/", "http://a..b/",
    "http://" + "a" * 300 + ".com/", "http://x.io/a/../b", "http://x.io:80/", "", " http://x.io/ ",
]


@settings(max_examples=60, deadline=None)
@given(st.lists(_simple_urls | urls(), min_size=1, max_size=40))
def test_column_filter_matches_the_scalar_filter(raws):
    assert _column(_FILTER, raws) == [_scalar(_FILTER, r) for r in raws]


@pytest.mark.parametrize("f", [_FILTER, UrlFilter(2048, None, None, drop_wikipedia=False)])
def test_column_filter_matches_on_edge_urls_and_crc(f):
    import zlib

    import pyarrow as pa

    from webtext.crawl.url_columns import crc32_column

    assert _column(f, _EDGE_URLS) == [_scalar(f, r) for r in _EDGE_URLS]
    assert _column(f, []) == []
    strings = ["", "a", "http://x.io/ü", None]
    assert crc32_column(pa.array(strings, pa.string()).slice(1)).tolist() == [
        zlib.crc32((s or "").encode()) for s in strings[1:]]
