"""warcio's ``ArchiveIterator`` with ISA-L's inflate for the gzip members a WARC file is made of.

Inflating the records was the largest single part of the extract stage process's own work: on the extract benchmark's
774 pages (114 MB of HTML in 23 MB of gzip) warcio reads every response in 0.33 s with zlib and 0.16 s with ISA-L
(python-isal: the same ``decompressobj`` interface as zlib's, same bytes out, ``unused_data`` at each member's end).
The stage process's own time per page is what bounds the speed-up of several workers on as many cores (README,
extract). Only the file's gzip envelopes are read this way: a response's ``Content-Encoding`` is still decoded by
warcio's own reader. Where python-isal is not installed, this is warcio's iterator as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader

__all__ = ["FastArchiveIterator", "isal_inflate"]


def isal_inflate() -> Any | None:
    """A gzip ``decompressobj`` factory from python-isal, or None where it is not installed."""
    try:
        from isal import isal_zlib
    except ImportError:
        return None
    return lambda: isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)


_INFLATE = isal_inflate()


class _IsalMembersReader(DecompressingBufferedReader):
    """warcio's member-by-member reader of a gzipped WARC file, inflating with ISA-L."""

    # looked up through self in warcio's _init_decomp: every member gets a fresh ISA-L decompressor
    DECOMPRESSORS: ClassVar[dict[str, Any]] = {**DecompressingBufferedReader.DECOMPRESSORS, "gzip": _INFLATE}


class FastArchiveIterator(ArchiveIterator):
    """``ArchiveIterator(fileobj)`` (same records, offsets and errors) reading its gzip members with ISA-L."""

    def __init__(self, fileobj: Any, **kwargs: Any) -> None:
        super().__init__(fileobj, **kwargs)
        if _INFLATE is not None:
            # nothing has been read yet: the reader warcio made is replaced before its first block
            self.reader = _IsalMembersReader(self.fh, block_size=self.reader.block_size)
