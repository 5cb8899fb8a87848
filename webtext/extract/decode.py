"""Bytes of an HTTP body -> text, before any HTML parser sees it.

The charset comes from the HTTP header, then a ``<meta>`` declaration, then detection
(charset-normalizer); a declared charset that does not decode the bytes is treated as a lie and
skipped. Bodies that are plainly not HTML (PDF, images, archives, compressed streams sent
without Content-Encoding) are recognised by their magic bytes and never parsed, so no
decompressor or image decoder ever runs on untrusted bytes.
"""

from __future__ import annotations

import codecs
import re

_META = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]{1,40})""", re.IGNORECASE)
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_\-:.]{1,40})", re.IGNORECASE)
MAGIC = {
    b"%PDF": "pdf", b"\x89PNG": "png", b"GIF8": "gif", b"\xff\xd8\xff": "jpeg", b"PK\x03\x04": "zip",
    b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"7z\xbc\xaf": "7z",
    b"Rar!": "rar", b"OggS": "ogg", b"ID3": "mp3", b"\x00\x00\x00": "binary", b"RIFF": "riff",
    b"\x7fELF": "elf", b"MZ": "executable",
}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def sniff_binary(body: bytes) -> str | None:
    """The kind of a non-HTML body (``pdf``, ``png``, ``gzip``...), or None if it may be HTML."""
    if body.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None  # text with a byte-order mark (UTF-16 text is full of NULs)
    head = body[:16].lstrip()
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    sample = body[:4096]
    if sample and sample.count(b"\x00") > len(sample) // 100:  # text never holds NULs; binaries do
        return "binary"
    return None


#: Encodings a web page may declare (WHATWG's list, as Python's codec names). Anything else —
#: ``utf-7``, ``unicode_escape``, ``undefined``... — is ignored: those are not page encodings.
WEB_ENCODINGS = frozenset(
    codecs.lookup(n).name
    for n in (
        "utf-8", "utf-16-le", "utf-16-be", "utf-16", "cp866", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5",
        "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15",
        "iso8859-16", "koi8-r", "koi8-u", "mac-roman", "cp874", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254",
        "cp1255", "cp1256", "cp1257", "cp1258", "mac-cyrillic", "gbk", "gb18030", "big5", "big5hkscs", "euc-jp",
        "iso2022_jp", "shift_jis", "euc-kr", "cp932", "cp949", "cp950",
    )
)
#: Labels browsers read as windows-1252 (the bytes 0x80-0x9F are quotes and the euro sign, not controls).
AS_WINDOWS_1252 = frozenset(codecs.lookup(n).name for n in ("latin-1", "ascii"))


def _usable(name: str | None, from_meta: bool = False) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    if codec in AS_WINDOWS_1252:
        return "cp1252"
    if from_meta and codec.startswith("utf-16"):
        return "utf-8"  # a page that can declare itself in ASCII is not UTF-16 (WHATWG)
    return codec if codec in WEB_ENCODINGS else None


def declared_charsets(body: bytes, content_type: str | None) -> list[str]:
    """Charsets the response declares: the HTTP header first, then a ``<meta>`` tag."""
    found = []
    if content_type:
        m = _CT_CHARSET.search(content_type)
        if m and (name := _usable(m.group(1))):
            found.append(name)
    m = _META.search(body[:8192])
    if m and (name := _usable(m.group(1).decode("ascii", "ignore"), from_meta=True)) and name not in found:
        found.append(name)
    return found


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, how): the body decoded by its declared charset, else UTF-8, else a detected one."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body.decode(name, errors="replace"), name
    for name in declared_charsets(body, content_type):
        try:
            return body.decode(name), name
        except (UnicodeError, LookupError, ValueError):
            continue  # a declaration the bytes contradict
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(body[:200_000])
    best = matches.best()
    name = _usable(best.encoding) if best is not None else None
    # Western pages are by far the most common; detectors often name an obscure code page that
    # decodes the same bytes (cp775 for café): prefer windows-1252 when it fits as well.
    if best is not None and any(m.encoding == "cp1252" and m.chaos <= best.chaos for m in matches):
        name = "cp1252"
    name = name or "cp1252"
    return body.decode(name, errors="replace"), f"{name} (detected)"
