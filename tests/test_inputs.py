"""How each kind of stage input (docs Parquet, submission dumps, WARC files) is listed, and how a dataset
input is read only through its manifest (exactly the files it lists, checked)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from webtext.data import Manifest, describe_file
from webtext.errors import ConfigError, InputError
from webtext.inputs import (
    CHEAP_SHA256_BYTES,
    InputsConfig,
    checking,
    dump_files,
    is_incomplete_dataset,
    parquet_files,
    warc_files,
)
from webtext.paths import MANIFEST, STATS_DIR, side_dir
from webtext.runner import input_identity


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def finish(folder, stage="extract"):
    """Write ``folder``'s manifest listing every file in it now (as a stage does, last)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    entries = [asdict(describe_file(folder, p, rows=0)) for p in files]
    Manifest(stage=stage, fingerprint="f", config={}, inputs=[],
             shards=[{"index": 0, "label": "x", "files": entries, "counts": {}, "seconds": 0}], stats={}).write(folder)
    (folder / STATS_DIR).mkdir(exist_ok=True)
    return folder


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
    finish(crawl, "crawl")
    loose = touch(tmp_path / "loose" / "a" / "x.warc")
    got = warc_files([str(crawl), str(tmp_path / "loose"), str(loose)])
    assert got == [(w0.resolve(), crawl.resolve()), (loose.resolve(), None)]
    with pytest.raises(ConfigError, match="no WARC files found"):
        warc_files([str(touch(tmp_path / "none" / "x.txt").parent)])
    with pytest.raises(ConfigError, match="input not found"):
        warc_files([str(tmp_path / "missing.warc")])
    old = tmp_path / "old-crawl"  # the layout before side folders were prefixed: refused, not read loose
    touch(old / "warc" / "part-00000.warc.gz")
    finish(old, "crawl")
    with pytest.raises(ConfigError, match=r"older webtext \(warc/, now __warc/\): rerun its crawl stage"):
        warc_files([str(old)])


def test_a_dataset_is_read_through_its_manifest_only(tmp_path):
    ds = tmp_path / "docs"
    a, b = touch(ds / "part-00000.parquet", b"aa"), touch(ds / "part-00001.parquet", b"bbb")
    touch(ds / "__dropped" / "part-00000.parquet")  # side data: listed, never the main table
    finish(ds)
    touch(ds / "part-00099.parquet")  # added after the stage finished: not part of the dataset
    touch(ds / "backup-00000.parquet")
    assert parquet_files([str(ds)]) == [a.resolve(), b.resolve()]
    with pytest.raises(InputError, match=r"backup-00000.parquet is not listed in .*_manifest.json"):
        parquet_files([str(ds / "*.parquet")])  # named explicitly, an unlisted file is refused
    assert parquet_files([str(a)]) == [a.resolve()]


def test_a_missing_or_changed_listed_file_is_refused_naming_it_and_the_stage(tmp_path):
    ds = finish(tmp_path / "docs", "dedup")
    touch(ds / "part-00000.parquet", b"abcd")
    finish(ds, "dedup")
    touch(ds / "part-00000.parquet", b"abcde")  # other size
    with pytest.raises(InputError, match=r"part-00000.parquet has 5 bytes, its manifest says 4: rerun "
                                         r"`webtext-build dedup`"):
        parquet_files([str(ds)])
    touch(ds / "part-00000.parquet", b"abce")  # same size, other bytes: small files are hashed anyway
    with pytest.raises(InputError, match=r"has sha256 .* its manifest says"):
        parquet_files([str(ds)])
    (ds / "part-00000.parquet").unlink()
    with pytest.raises(InputError, match=r"part-00000.parquet is listed in .* but missing"):
        parquet_files([str(ds)])


def test_full_verification_hashes_big_files_that_size_mode_only_measures(tmp_path):
    ds = tmp_path / "docs"
    big = touch(ds / "part-00000.parquet", bytes(CHEAP_SHA256_BYTES + 1))
    finish(ds)
    touch(big, b"\x01" + bytes(CHEAP_SHA256_BYTES))
    assert parquet_files([str(ds)]) == [big.resolve()]
    with checking(InputsConfig(verify_inputs="full")), pytest.raises(InputError, match="sha256"):
        parquet_files([str(ds)])


def test_an_unfinished_dataset_is_refused_unless_allowed_and_then_recorded(tmp_path):
    ds = tmp_path / "docs"
    part = touch(ds / "part-00000.parquet")
    loose = tmp_path / "loose"
    touch(loose / "part-00000.parquet")
    assert not is_incomplete_dataset(loose)  # Parquet files from elsewhere: read as a plain folder
    assert parquet_files([str(loose)])
    (ds / STATS_DIR).mkdir()  # a stage started writing it and never wrote the manifest
    assert is_incomplete_dataset(ds)
    for item in (ds, part):
        with pytest.raises(InputError, match=r"has no _manifest.json: the stage writing it did not finish; rerun "
                                             r"that stage .* --allow-incomplete"):
            parquet_files([str(item)])
    with checking(InputsConfig(allow_incomplete=True)):
        assert parquet_files([str(ds)]) == [part.resolve()]
    assert input_identity(part)["incomplete"] is True
    assert "incomplete" not in input_identity(loose / "part-00000.parquet")


def test_a_crawl_datasets_warcs_are_those_its_manifest_lists(tmp_path):
    crawl = tmp_path / "crawl"
    w0 = touch(side_dir(crawl, "warc") / "part-00000.warc.gz")
    w1 = touch(side_dir(crawl, "warc") / "part-00001.warc.gz")
    finish(crawl, "crawl")
    touch(side_dir(crawl, "warc") / "part-00002.warc.gz")  # not listed: not read
    assert warc_files([str(crawl)]) == [(w0.resolve(), crawl.resolve()), (w1.resolve(), crawl.resolve())]
    w1.unlink()
    with pytest.raises(InputError, match=r"part-00001.warc.gz is listed in .* but missing: rerun `webtext-build "
                                         r"crawl`"):
        warc_files([str(crawl)])


def test_a_dumps_folder_with_a_manifest_gives_its_listed_dumps(tmp_path):
    dumps = tmp_path / "dumps"
    z = touch(dumps / "RS_2019-01.zst")
    finish(dumps, "fetch-dumps")
    touch(dumps / "RS_2019-02.zst")
    assert dump_files([str(dumps)], lambda p: p.suffix == ".zst") == [z.resolve()]
