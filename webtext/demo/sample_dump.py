"""Generate Pushshift-format submission dumps: realistic records, mixed karma, self posts, NSFW,
reposted URLs (in other spellings too), links the filters must drop, and junk lines.

Used by the demo, the tests and the benchmarks, so all three exercise the same shape of data.
Records carry the 57-key layout of real ``RS_v2_`` dumps (compact, key-sorted, ``\\/`` escaped),
so a line costs the parser what a real line does (~1.5 KB).
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

START_UTC = 1_400_000_000  # 2014-05-13

_HOSTS = [f"{w}.example" for w in (
    "news", "blog", "science", "techreview", "dailyplanet", "citypaper", "journal", "gazette", "herald",
    "tribune", "chronicle", "observer", "post", "times", "monitor", "review", "digest", "bulletin",
)]
_WORDS = ("analysis", "report", "city", "court", "budget", "climate", "study", "election", "market",
          "school", "space", "health", "energy", "music", "game", "policy", "river", "history")
_SUBREDDITS = ("news", "worldnews", "science", "technology", "politics", "programming", "books", "space",
               "Economics", "history")
_DROPPED_LINKS = (
    "https://en.wikipedia.org/wiki/Special:Random",
    "http://i.imgur.com/abc123.jpg",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "http://papers.example/paper.PDF",
    "ftp://files.example/pub/data.txt",
    "javascript:alert(1)",
    "http://user:secret@news.example/private",
)
#: Junk lines a real dump can contain; each maps to one drop reason of the urls stage.
JUNK_LINES: tuple[tuple[bytes, str], ...] = (
    (b'{"url": "http://a.example/", "score": 5, ', "invalid_json"),
    (b"\xff\xfe not utf-8 \xc3\x28", "invalid_utf8"),
    (b'{"url": "http://a.example/\xff", "score": 5, "created_utc": 1}', "invalid_utf8"),
    (b'["http://a.example/", 5]', "not_object"),
    (b'{"url": null, "score": 5, "created_utc": 1400000000}', "bad_url_type"),
    (b'{"url": ["http://a.example/"], "score": 5, "created_utc": 1400000000}', "bad_url_type"),
    (b'{"url": 12345, "score": 5, "created_utc": 1400000000}', "bad_url_type"),
    (b'{"url": "http://a.example/", "created_utc": 1400000000}', "missing_score"),
    (b'{"url": "http://a.example/", "score": "many", "created_utc": 1400000000}', "bad_score"),
    (b'{"url": "http://a.example/", "score": 123456789012345678901234567890, "created_utc": 1}', "bad_score"),
    (b'{"url": "http://a.example/", "score": NaN, "created_utc": 1400000000}', "invalid_json"),
    (b'{"url": "http://a.example/", "score": 5, "created_utc": "1400000000"}', "bad_created_utc"),
    (b'{"a":' * 2000 + b"1" + b"}" * 2000, "too_deep"),
    (b"", "blank_line"),
)


def _record(rng: random.Random, i: int, url: str, score: int, is_self: bool, nsfw: bool) -> dict[str, Any]:
    sid = f"{i + 1_000_000:x}"
    sub = rng.choice(_SUBREDDITS)
    title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12))).capitalize()
    host = url.split("/")[2] if "://" in url else "self"
    return {
        "archived": False, "author": f"user{rng.randrange(50_000)}", "author_flair_background_color": None,
        "author_flair_css_class": None, "author_flair_richtext": [], "author_flair_text": None,
        "author_flair_text_color": None, "author_flair_type": "text", "brand_safe": not nsfw,
        "can_gild": True, "contest_mode": False, "created_utc": START_UTC + i * 7, "distinguished": None,
        "domain": f"self.{sub}" if is_self else host, "edited": False, "gilded": 0, "hidden": False,
        "hide_score": False, "id": sid, "is_crosspostable": True, "is_reddit_media_domain": False,
        "is_self": is_self, "is_video": False, "link_flair_css_class": None, "link_flair_richtext": [],
        "link_flair_text": None, "link_flair_text_color": "dark", "link_flair_type": "text", "locked": False,
        "media": None, "media_embed": {}, "no_follow": score < 3, "num_comments": rng.randrange(200),
        "num_crossposts": 0, "over_18": nsfw, "parent_whitelist_status": "all_ads",
        "permalink": f"/r/{sub}/comments/{sid}/{title[:40].lower().replace(' ', '_')}/",
        "rte_mode": "markdown", "score": score, "secure_media": None, "secure_media_embed": {},
        "selftext": title * 3 if is_self else "", "send_replies": True, "spoiler": False, "stickied": False,
        "subreddit": sub, "subreddit_id": f"t5_{zlib.crc32(sub.encode()) % 99999:x}",
        "subreddit_name_prefixed": f"r/{sub}",
        "subreddit_type": "public", "suggested_sort": None, "thumbnail": "default", "thumbnail_height": None,
        "thumbnail_width": None, "title": title, "url": url, "whitelist_status": "all_ads",
    }


def _fresh_url(rng: random.Random, i: int) -> str:
    host = rng.choice(_HOSTS)
    path = f"/{2014 + i % 4}/{rng.choice(_WORDS)}/{rng.choice(_WORDS)}-{i}"
    r = rng.random()
    if r < 0.25:
        return f"http://www.{host}{path}.html"
    if r < 0.35:
        return f"https://{host}{path}?id={i}&amp;page=2"  # Reddit's HTML-escaped ampersand
    if r < 0.45:
        return f"https://{host}{path}/?utm_source=reddit&utm_medium=social"
    return f"https://{host}{path}"


def _respell(url: str, rng: random.Random) -> str:
    """Another spelling of the same page, which normalisation must merge."""
    variants = (
        lambda u: u.replace("https://", "HTTPS://", 1),
        lambda u: u + ("&" if "?" in u else "?") + "utm_campaign=repost",
        lambda u: u + "#comments",
        lambda u: u.replace(".example/", ".example:443/", 1) if u.startswith("https") else u,
    )
    return rng.choice(variants)(url)


def iter_submissions(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` Pushshift-like submission records, deterministic for a seed."""
    rng = random.Random(seed)
    posted: list[str] = []
    for i in range(n):
        r = rng.random()
        is_self = r < 0.15
        nsfw = not is_self and rng.random() < 0.03
        if is_self:
            url = f"https://www.reddit.com/r/{rng.choice(_SUBREDDITS)}/comments/{i:x}/"
        elif r < 0.20:
            url = rng.choice(_DROPPED_LINKS)
        elif posted and r < 0.40:  # a repost, sometimes spelled differently
            url = rng.choice(posted)
            if rng.random() < 0.5:
                url = _respell(url, rng)
        else:
            url = _fresh_url(rng, i)
            if len(posted) < 50_000:
                posted.append(url)
            else:
                posted[rng.randrange(len(posted))] = url
        score = int(rng.paretovariate(1.2)) - 1  # most posts get 0-2 karma, a few get thousands
        yield _record(rng, i, url, score, is_self, nsfw)


def write_sample_dump(
    path: Path, n: int, seed: int = 0, junk_every: int = 0, long_window: bool = False
) -> Counter[str]:
    """Write ``n`` records (plus a junk line every ``junk_every`` records) to ``path``.

    Compression follows the extension (``.zst``, ``.xz``, ``.bz2``, ``.gz`` or none). With
    ``long_window`` a ``.zst`` is written as modern Pushshift dumps are: a 2 GiB window
    (``--long=31``), which a default decoder refuses. Returns the junk reasons written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    junk: Counter[str] = Counter()
    with _open_compressed(path, long_window) as f:
        for i, rec in enumerate(iter_submissions(n, seed)):
            f.write(orjson.dumps(rec).replace(b"/", b"\\/") + b"\n")
            if junk_every and i % junk_every == junk_every - 1:
                line, reason = JUNK_LINES[(i // junk_every) % len(JUNK_LINES)]
                f.write(line + b"\n")
                junk[reason] += 1
    return junk


def _open_compressed(path: Path, long_window: bool):
    suffix = path.suffix.lower()
    if suffix == ".zst":
        import zstandard

        params = zstandard.ZstdCompressionParameters.from_level(
            3, window_log=31 if long_window else 0, enable_ldm=long_window, threads=0
        )
        return zstandard.ZstdCompressor(compression_params=params).stream_writer(open(path, "wb"))
    if suffix == ".xz":
        import lzma

        return lzma.open(path, "wb", preset=1)
    if suffix == ".bz2":
        import bz2

        return bz2.open(path, "wb", compresslevel=1)
    if suffix == ".gz":
        import gzip

        return gzip.open(path, "wb", compresslevel=1)
    return open(path, "wb")
