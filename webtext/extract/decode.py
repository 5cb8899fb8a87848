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
    head = body[:16].lstrip()
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    sample = body[:4096]
    if sample and sample.count(b"\x00") > len(sample) // 100:  # text never holds NULs; binaries do
        return "binary"
    return None


def _usable(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None


def declared_charsets(body: bytes, content_type: str | None) -> list[str]:
    """Charsets the response declares: the HTTP header first, then a ``<meta>`` tag."""
    found = []
    if content_type:
        m = _CT_CHARSET.search(content_type)
        if m and (name := _usable(m.group(1))):
            found.append(name)
    m = _META.search(body[:8192])
    if m and (name := _usable(m.group(1).decode("ascii", "ignore"))) and name not in found:
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
        except (UnicodeDecodeError, LookupError):
            continue  # a declaration the bytes contradict
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    name = _usable(best.encoding) if best is not None else None
    name = name or "cp1252"
    return body.decode(name, errors="replace"), f"{name} (detected)"
