"""How each kind of stage input (docs Parquet, submission dumps, WARC files) is listed."""

from __future__ import annotations

import pytest

from webtext.errors import ConfigError
from webtext.inputs import dump_files, parquet_files, warc_files
from webtext.paths import MANIFEST, side_dir


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_parquet_files_folder_top_level_files_and_globs_without_repeats(tmp_path):
    a, b = touch(tmp_path / "d" / "part-1.parquet"), touch(tmp_path / "d" / "part-0.parquet")
    touch(tmp_path / "d" / "sub" / "part-9.parquet")  # not top level
    touch(tmp_path / "d" / "notes.txt")
    got = parquet_files([str(tmp_path / "d"), str(a), str(tmp_path / "d" / "*.parquet")])
    assert got == [b.resolve(), a.resolve()]
    with pytest.raises(ConfigError, match="no Parquet files") as exc:
        parquet_files([str(a), str(tmp_path / "nothing-*.parquet")])
    assert exc.value.key == "inputs[1]"


def test_dump_files_take_what_the_stage_accepts(tmp_path):
    z = touch(tmp_path / "dumps" / "RS_2019-01.zst")
    touch(tmp_path / "dumps" / "README.md")
    assert dump_files([str(tmp_path / "dumps")], lambda p: p.suffix == ".zst") == [z.resolve()]
    touch(tmp_path / "empty" / "README.md")
    with pytest.raises(ConfigError, match="no supported input files in folder"):
        dump_files([str(tmp_path / "empty")], lambda p: p.suffix == ".zst")
    with pytest.raises(ConfigError, match="input not found"):
        dump_files([str(tmp_path / "RS_*.zst")], lambda p: True)


def test_warc_files_know_their_crawl_dataset(tmp_path):
    crawl = tmp_path / "crawl"
    w0 = touch(side_dir(crawl, "warc") / "part-00000.warc.gz")
    touch(crawl / MANIFEST)
    loose = touch(tmp_path / "loose" / "a" / "x.warc")
    got = warc_files([str(crawl), str(tmp_path / "loose"), str(loose)])
    assert got == [(w0.resolve(), crawl.resolve()), (loose.resolve(), None)]
    with pytest.raises(ConfigError, match="no WARC files found"):
        warc_files([str(touch(tmp_path / "none" / "x.txt").parent)])
    with pytest.raises(ConfigError, match="input not found"):
        warc_files([str(tmp_path / "missing.warc")])
    old = tmp_path / "old-crawl"  # the layout before side folders were prefixed: refused, not read loose
    touch(old / "warc" / "part-00000.warc.gz")
    touch(old / MANIFEST)
    with pytest.raises(ConfigError, match=r"older webtext \(warc/, now __warc/\): rerun its crawl stage"):
        warc_files([str(old)])
