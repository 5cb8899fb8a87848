"""The dedup stage end to end on the local runner (one test on Ray): planted exact and near copies,
edge cases, determinism, verify, resume, bad input and the CLI."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata import shared_data

from webtext.cli import main
from webtext.data import verify_dataset
from webtext.dedup.config import DedupConfig
from webtext.dedup.dedup_stage import run_dedup
from webtext.dedup.minhash import lsh_params
from webtext.errors import ConfigError
from webtext.paths import STATS_DIR, side_dir
from webtext.runner import LocalRunner

DOCS_SCHEMA = pa.schema([("id", pa.string()), ("url", pa.string()), ("text", pa.string()), ("karma", pa.int64()),
                         ("tags", pa.list_(pa.string()))])
DUPLICATES_COLUMNS = ["id", "duplicate_of", "similarity", "kind"]


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    """Real text: WikiText-2 test paragraphs of >= 60 words (none of them near duplicates)."""
    lines = (shared_data("wikitext-2") / "test.txt").read_text(encoding="utf-8").split("\n")
    return [line.strip() for line in lines if len(line.split()) >= 60]


def _doc(doc_id: str, text: str | None, karma: int | None = 0) -> dict:
    return {"id": doc_id, "url": f"https://example.com/{doc_id}", "text": text, "karma": karma, "tags": [doc_id[:1]]}


def _write(path: Path, rows: list[dict], schema: pa.Schema | None = DOCS_SCHEMA) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _run(inputs, out: Path, runner=None, **kw):
    inputs = [str(p) for p in (inputs if isinstance(inputs, list) else [inputs])]
    return run_dedup(DedupConfig(inputs=inputs, **kw), out, runner or LocalRunner())


def _kept(out: Path) -> list[dict]:
    return [r for f in sorted(out.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def _duplicates(out: Path) -> list[dict]:
    files = sorted(side_dir(out, "duplicates").glob("part-*.parquet"))
    return sorted((r for f in files for r in pq.read_table(f).to_pylist()), key=lambda r: r["id"])


def _removed(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in _duplicates(out)}


def _winner(*docs: dict) -> dict:
    """The representative: highest karma (null lowest), then lowest id."""
    return min(docs, key=lambda d: (-(d["karma"] if d["karma"] is not None else -(2**63)), d["id"]))


def _random_texts(rng: random.Random, n: int, words: tuple[int, int] = (80, 300), vocab_size: int = 20_000):
    return [" ".join(f"w{rng.randrange(vocab_size)}" for _ in range(rng.randint(*words))) for _ in range(n)]


def _edit(text: str, rng: random.Random, n_words: int = 1) -> str:
    words = text.split()
    for j in rng.sample(range(len(words)), n_words):
        words[j] = f"edited{rng.randrange(10**9)}"
    return " ".join(words)


def _respace(text: str, rng: random.Random) -> str:
    """The same text up to case and whitespace."""
    seps = [" ", "  ", "\n", "\t", " \r\n "]
    words = text.split()
    changed = [w.upper() if rng.random() < 0.3 else w for w in words]
    return "  " + "".join(w + rng.choice(seps) for w in changed) + "\n"


def _check_output(out: Path, inputs: list[Path]) -> tuple[list[dict], dict[str, dict]]:
    """Properties every run has: kept + removed = input, in the input's schema, one duplicates file each."""
    kept, removed = _kept(out), _removed(out)
    rows = [r for f in inputs for r in pq.read_table(f).to_pylist()]
    kept_ids = [r["id"] for r in kept]
    assert len(kept_ids) == len(set(kept_ids))
    assert set(kept_ids).isdisjoint(removed)
    assert sorted(kept_ids + list(removed)) == sorted(r["id"] for r in rows)
    by_id = {r["id"]: r for r in rows}
    assert all(by_id[r["id"]] == r for r in kept)  # whole rows, extra columns included, unchanged
    for i, f in enumerate(inputs):
        assert pq.read_schema(out / f"part-{i:05d}.parquet").equals(pq.read_schema(f), check_metadata=True)
        side = pq.read_schema(side_dir(out, "duplicates") / f"part-{i:05d}.parquet")
        assert side.names == DUPLICATES_COLUMNS
    for r in removed.values():
        assert r["duplicate_of"] in kept_ids  # a representative, which is kept
        assert r["kind"] in ("exact", "near")
        assert 0.0 <= r["similarity"] <= 1.0
        if r["kind"] == "exact":
            assert r["similarity"] == 1.0
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["stats"]["documents"] == len(rows) and manifest["stats"]["kept"] == len(kept)
    assert manifest["stats"]["removed"] == len(removed)
    assert manifest["parts"] == ["__signatures", "__buckets", "__clusters"]
    for part in manifest["parts"]:
        assert (out / part / "_manifest.json").exists()
    return kept, removed


@pytest.fixture(scope="module")
def planted(paragraphs, tmp_path_factory) -> tuple[list[Path], dict[str, dict]]:
    """300 real paragraphs in two files and a third file of planted copies: 25 exact (case and
    whitespace changed) and 25 near (one word replaced in a long paragraph). Returns the files
    and, by removed id, the expected duplicates row (without similarity)."""
    rng = random.Random(5)
    base = [_doc(f"w{i:04d}", text, rng.randint(0, 50)) for i, text in enumerate(paragraphs[:300])]
    exact_src = rng.sample(range(300), 25)
    long_docs = [i for i in range(300) if len(base[i]["text"].split()) >= 150 and i not in exact_src]
    near_src = rng.sample(long_docs, 25)
    copies, expected = [], {}
    for kind, sources, prefix in (("exact", exact_src, "x"), ("near", near_src, "n")):
        for j, i in enumerate(sources):
            orig = base[i]
            text = _respace(orig["text"], rng) if kind == "exact" else _edit(orig["text"], rng)
            # higher, lower or equal karma; a tie goes to the lower id ("n.." < "w.." < "x..")
            karma = [orig["karma"] + 10, max(orig["karma"] - 5, 0), orig["karma"]][j % 3]
            copy = _doc(f"{prefix}{j:02d}", text, karma)
            copies.append(copy)
            keep, drop = (orig, copy) if _winner(orig, copy) is orig else (copy, orig)
            expected[drop["id"]] = {"id": drop["id"], "duplicate_of": keep["id"], "kind": kind}
    folder = tmp_path_factory.mktemp("planted")
    files = [_write(folder / "docs-0.parquet", base[:150]), _write(folder / "docs-1.parquet", base[150:]),
             _write(folder / "docs-2.parquet", copies)]
    return files, expected


# ---------------------------------------------------------------------------------------------
# Planted duplicates


def test_planted_exact_and_near_copies_are_removed(planted, tmp_path):
    files, expected = planted
    m = _run(files, tmp_path / "out", partitions=4)
    _, removed = _check_output(tmp_path / "out", files)
    assert {k: {c: v[c] for c in ("id", "duplicate_of", "kind")} for k, v in removed.items()} == expected
    assert m.stats["removed_exact"] == 25 and m.stats["removed_near"] == 25 and m.stats["kept"] == 300
    for r in removed.values():
        if r["kind"] == "near":
            assert 0.8 <= r["similarity"] <= 1.0  # one edited word in >= 150: true Jaccard >= 0.93
    # some copies won (higher karma) and some originals won, ties included
    assert any(k.startswith("w") for k in removed) and any(k.startswith("x") for k in removed)
    assert any(k.startswith("n") for k in removed)
    # each docs file has its own duplicates file listing exactly the ids removed from it
    for i, f in enumerate(files):
        ids = set(pq.read_table(f, columns=["id"])["id"].to_pylist())
        side = pq.read_table(side_dir(tmp_path / "out", "duplicates") / f"part-{i:05d}.parquet")["id"].to_pylist()
        assert set(side) == ids & set(expected)


def test_results_do_not_depend_on_partitions_or_file_split(planted, tmp_path):
    files, expected = planted
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    one_file = _write(tmp_path / "one" / "all.parquet", rows)
    three = [_write(tmp_path / "three" / f"docs-{i}.parquet", rows[i * 120:(i + 1) * 120]) for i in range(3)]
    assert sum(pq.read_metadata(f).num_rows for f in three) == len(rows)
    results = []
    runs = (("a", files, 1, 4096), ("b", files, 7, 4096), ("c", [one_file], 1, 4096), ("d", three, 7, 4096),
            ("e", three, 2, 13))  # batch_rows: documents per kernel call
    for name, inputs, partitions, batch_rows in runs:
        out = tmp_path / name
        _run(inputs, out, partitions=partitions, batch_rows=batch_rows)
        kept, _ = _check_output(out, inputs)
        results.append((sorted(r["id"] for r in kept), _duplicates(out)))
    assert all(r == results[0] for r in results[1:])
    assert set(r["id"] for r in results[0][1]) == set(expected)


def test_no_verify_runs_and_removes_at_least_what_verify_removes(planted, tmp_path):
    files, expected = planted
    verified = _run(files, tmp_path / "verify", partitions=3)
    unverified = _run(files, tmp_path / "no-verify", partitions=3, verify=False)
    _check_output(tmp_path / "no-verify", files)
    assert unverified.config["verify"] is False and verified.config["verify"] is True
    # without verification the bands x rows weigh misses and false candidates equally (datasketch's default)
    assert (unverified.config["bands"], unverified.config["rows"]) == lsh_params(0.8, 128, (0.5, 0.5))
    assert (verified.config["bands"], verified.config["rows"]) == lsh_params(0.8, 128, (0.1, 0.9))
    assert set(_removed(tmp_path / "no-verify")) >= set(_removed(tmp_path / "verify")) == set(expected)
    assert unverified.stats["removed"] >= verified.stats["removed"]


# ---------------------------------------------------------------------------------------------
# Edge cases


def test_empty_and_whitespace_only_texts(tmp_path):
    rng = random.Random(1)
    docs = [_doc(f"d{i:03d}", t) for i, t in enumerate(_random_texts(rng, 40))]
    blanks = [_doc("e0", ""), _doc("e1", "   "), _doc("e2", "\n\t \r\n"), _doc("e3", None), _doc("e4", "\u3000\u00a0")]
    f = _write(tmp_path / "in" / "docs.parquet", docs + blanks)
    m = _run(f, tmp_path / "out", partitions=3)
    kept, removed = _check_output(tmp_path / "out", [f])
    # the texts without words are all the same normalised (empty) text: exact duplicates of one of
    # them, never near duplicates of a document with words
    assert {r["id"] for r in kept} == {d["id"] for d in docs} | {"e0"}
    assert removed == {
        i: {"id": i, "duplicate_of": "e0", "similarity": 1.0, "kind": "exact"} for i in ("e1", "e2", "e3", "e4")}
    sig_stats = json.loads((side_dir(tmp_path / "out", "signatures") / "_manifest.json").read_text())["stats"]
    assert sig_stats["empty_documents"] == 5
    assert m.stats["removed_near"] == 0


def test_distinct_texts_shorter_than_the_shingle_stay_distinct(tmp_path):
    rng = random.Random(2)
    vocab = ["alpha", "beta", "gamma", "delta", "x", "y", "Zeta", "eta"]
    short: list[str] = []
    seen: set[tuple[str, ...]] = set()
    while len(short) < 300:
        words = tuple(rng.choice(vocab) for _ in range(rng.randint(1, 4)))  # 1..4 words < ngram 5
        if tuple(w.lower() for w in words) not in seen:
            seen.add(tuple(w.lower() for w in words))
            short.append(" ".join(words))
    docs = [_doc(f"s{i:03d}", t) for i, t in enumerate(short)]
    variants = [_doc(f"v{i:03d}", short[i].upper() + "  ") for i in range(0, 300, 30)]  # exact copies
    f = _write(tmp_path / "in" / "docs.parquet", docs + variants)
    for verify in (True, False):
        out = tmp_path / f"out-{verify}"
        _run(f, out, verify=verify, partitions=2)
        kept, removed = _check_output(out, [f])
        assert {r["id"] for r in kept} == {d["id"] for d in docs}
        assert removed == {v["id"]: {"id": v["id"], "duplicate_of": f"s{int(v['id'][1:]):03d}", "similarity": 1.0,
                                     "kind": "exact"} for v in variants}


def test_a_huge_document_and_its_copies(paragraphs, tmp_path):
    rng = random.Random(3)
    vocab = sorted({w for p in paragraphs[:200] for w in p.split()})
    huge = " ".join(rng.choices(vocab, k=600_000))
    assert len(huge.encode()) > 3_000_000
    docs = [_doc("big", huge, 10), _doc("big-near", _edit(huge, rng, 50), 3), _doc("big-exact", huge.upper(), 1)]
    docs += [_doc(f"p{i:03d}", p) for i, p in enumerate(paragraphs[:50])]
    f = _write(tmp_path / "in" / "docs.parquet", docs)
    _run(f, tmp_path / "out", partitions=3)
    kept, removed = _check_output(tmp_path / "out", [f])
    assert {r["id"]: (r["duplicate_of"], r["kind"]) for r in removed.values()} == {
        "big-near": ("big", "near"), "big-exact": ("big", "exact")}
    assert removed["big-near"]["similarity"] > 0.95
    assert next(r["text"] for r in kept if r["id"] == "big") == huge


SCRIPTS = {
    "cyrillic": [chr(c) for c in range(0x430, 0x450)],
    "arabic": [chr(c) for c in range(0x627, 0x64B)],
    "cjk": [chr(c) for c in range(0x4E00, 0x4E80)],
    "greek": [chr(c) for c in range(0x3B1, 0x3CA)],
    "emoji": [chr(c) for c in range(0x1F600, 0x1F650)] + ["👨‍👩‍👧", "🇫🇷", "👍🏽"],
    "devanagari": [chr(c) for c in range(0x915, 0x939)] + ["\u093f", "\u094d"],
}


def test_non_ascii_scripts(tmp_path):
    rng = random.Random(4)
    docs, expected = [], {}
    for name, letters in SCRIPTS.items():
        texts = [" ".join("".join(rng.choices(letters, k=rng.randint(1, 6))) for _ in range(rng.randint(150, 250)))
                 for _ in range(15)]
        docs += [_doc(f"{name}-{i:02d}", t, 5) for i, t in enumerate(texts)]
        docs.append(_doc(f"{name}-near", _edit(texts[0], rng), 1))
        docs.append(_doc(f"{name}-exact", " \n ".join(texts[1].upper().split()), 1))
        expected |= {f"{name}-near": (f"{name}-00", "near"), f"{name}-exact": (f"{name}-01", "exact")}
    # NFKC: ligatures, fullwidth letters and case folding make the same text
    latin = "the ﬁnal ﬂight of the ﬁrst ﬂeet left the harbour at dawn and sailed " * 12
    docs += [_doc("latin", latin, 3), _doc("latin-fullwidth", latin.replace("dawn", "ＤＡＷＮ"), 2),
             _doc("latin-plain", latin.replace("ﬁ", "FI").replace("ﬂ", "Fl"), 1)]
    expected |= {"latin-fullwidth": ("latin", "exact"), "latin-plain": ("latin", "exact")}
    f = _write(tmp_path / "in" / "docs.parquet", docs)
    _run(f, tmp_path / "out", partitions=5)
    _, removed = _check_output(tmp_path / "out", [f])
    assert {r["id"]: (r["duplicate_of"], r["kind"]) for r in removed.values()} == expected


def test_identical_texts_with_different_ids_in_two_shards(paragraphs, tmp_path):
    text = paragraphs[10]
    a = _write(tmp_path / "in" / "a.parquet", [_doc("a1", text, 7), _doc("a2", paragraphs[11], 1)])
    b = _write(tmp_path / "in" / "b.parquet", [_doc("b1", paragraphs[12], 1), _doc("b0", text, 7)])
    _run(tmp_path / "in", tmp_path / "out", partitions=2)
    _, removed = _check_output(tmp_path / "out", [a, b])
    assert removed == {"b0": {"id": "b0", "duplicate_of": "a1", "similarity": 1.0, "kind": "exact"}}  # karma tie
    assert pq.read_table(side_dir(tmp_path / "out", "duplicates") / "part-00000.parquet").num_rows == 0
    assert pq.read_table(side_dir(tmp_path / "out", "duplicates") / "part-00001.parquet")["id"].to_pylist() == ["b0"]
    # with more karma, the second shard's copy is the one kept
    _write(b, [_doc("b1", paragraphs[12], 1), _doc("b0", text, 8)])
    _run(tmp_path / "in", tmp_path / "out2", partitions=2)
    assert _removed(tmp_path / "out2") == {"a1": {"id": "a1", "duplicate_of": "b0", "similarity": 1.0,
                                                  "kind": "exact"}}


def test_a_corpus_without_duplicates_keeps_everything(paragraphs, tmp_path):
    rows = [_doc(f"w{i:04d}", p, i % 7) for i, p in enumerate(paragraphs[:600])]
    files = [_write(tmp_path / "in" / f"docs-{i}.parquet", rows[i * 200:(i + 1) * 200]) for i in range(3)]
    m = _run(files, tmp_path / "out", partitions=4)
    kept, removed = _check_output(tmp_path / "out", files)
    assert removed == {} and len(kept) == 600 and m.stats["removed"] == 0
    assert [r["id"] for r in kept] == [r["id"] for r in rows]  # input order is kept


def test_a_corpus_of_duplicates_keeps_one(paragraphs, tmp_path):
    rng = random.Random(6)
    text = max(paragraphs[:100], key=lambda p: len(p.split()))
    karma = rng.sample(range(1000), 60)
    rows = [_doc(f"c{i:02d}", _respace(text, rng) if i % 2 else _edit(text, rng), karma[i]) for i in range(60)]
    files = [_write(tmp_path / "in" / f"docs-{i}.parquet", rows[i::2]) for i in range(2)]
    m = _run(files, tmp_path / "out", partitions=3)
    kept, removed = _check_output(tmp_path / "out", files)
    best = _winner(*rows)
    assert [r["id"] for r in kept] == [best["id"]]
    assert all(r["duplicate_of"] == best["id"] for r in removed.values()) and len(removed) == 59
    assert m.stats["kept"] == 1


def test_input_without_karma_keeps_the_lowest_id(paragraphs, tmp_path):
    schema = pa.schema([("id", pa.string()), ("text", pa.large_string())])
    text = max(paragraphs[:50], key=len)
    rows = [{"id": "k2", "text": text}, {"id": "k10", "text": text.upper()},
            {"id": "k3", "text": paragraphs[1]}, {"id": "k1", "text": _edit(text, random.Random(0))}]
    f = _write(tmp_path / "in" / "docs.parquet", rows, schema)
    _run(f, tmp_path / "out")
    kept, removed = _check_output(tmp_path / "out", [f])  # the output has no karma column either
    assert sorted(r["id"] for r in kept) == ["k1", "k3"]  # "k1" < "k10" < "k2"
    assert {k: (r["duplicate_of"], r["kind"]) for k, r in removed.items()} == {
        "k10": ("k1", "near"), "k2": ("k1", "near")}


def test_null_or_missing_karma_ranks_below_any_karma(paragraphs, tmp_path):
    text = max(paragraphs[:50], key=len)
    no_karma = _write(tmp_path / "in" / "0.parquet", [{"id": "a", "text": text}, {"id": "b", "text": paragraphs[1]}],
                      pa.schema([("id", pa.string()), ("text", pa.string())]))
    with_karma = _write(tmp_path / "in" / "1.parquet", [
        {"id": "c", "text": text.upper(), "karma": None}, {"id": "d", "text": text, "karma": -3},
        {"id": "e", "text": paragraphs[2], "karma": 1}], pa.schema([("id", pa.string()), ("text", pa.string()),
                                                                    ("karma", pa.int32())]))
    _run(tmp_path / "in", tmp_path / "out", partitions=2, batch_rows=1)
    _, removed = _check_output(tmp_path / "out", [no_karma, with_karma])
    assert {k: r["duplicate_of"] for k, r in removed.items()} == {"a": "d", "c": "d"}
    assert pq.read_schema(tmp_path / "out" / "part-00000.parquet").names == ["id", "text"]


def test_missing_or_mistyped_columns_are_config_errors(tmp_path, capsys):
    no_text = _write(tmp_path / "in" / "docs.parquet", [{"id": "a", "body": "x"}], None)
    with pytest.raises(ConfigError) as err:
        _run(no_text, tmp_path / "out")
    assert err.value.key == "inputs" and "`text`" in str(err.value) and "docs.parquet" in str(err.value)
    assert not (tmp_path / "out").exists()
    code = main(["dedup", str(no_text), "--out", str(tmp_path / "out"), "--runner", "local"])
    stderr = capsys.readouterr().err
    assert code == 2
    assert "configuration error" in stderr and "inputs" in stderr and "`text`" in stderr
    for rows, column in (([{"id": 1, "text": "x"}], "id"), ([{"id": "a", "text": "x", "karma": 1.5}], "karma")):
        bad = _write(tmp_path / f"bad-{column}" / "docs.parquet", rows, None)
        with pytest.raises(ConfigError, match=f"`{column}`"):
            _run(bad, tmp_path / "out")
    with pytest.raises(ConfigError) as err:
        _run(tmp_path / "nowhere", tmp_path / "out")
    assert err.value.key == "inputs[0]"


# ---------------------------------------------------------------------------------------------
# Resume, changed config, CLI, Ray


def _mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_rerun_skips_and_a_killed_run_resumes_at_the_unfinished_pass(planted, tmp_path, caplog):
    files, expected = planted
    out = tmp_path / "out"
    first = _run(files, out, partitions=3)
    result = (_kept(out), _duplicates(out))
    everything = _mtimes(out)
    caplog.set_level(logging.INFO, logger="webtext")
    again = _run(files, out, partitions=3)
    assert again.fingerprint == first.fingerprint and again.created_at == first.created_at
    assert _mtimes(out) == everything
    assert caplog.text.count("already complete") == 4
    # killed after the buckets pass: the clusters and filter passes left no manifest
    (out / "_manifest.json").unlink()
    (side_dir(out, "clusters") / "_manifest.json").unlink()
    for p in (side_dir(out, "clusters") / STATS_DIR).iterdir():
        p.unlink()
    (side_dir(out, "clusters") / STATS_DIR).rmdir()
    earlier = {p: json.loads((side_dir(out, p) / "_manifest.json").read_text())["created_at"]
               for p in ("signatures", "buckets")}
    earlier_files = {**_mtimes(side_dir(out, "signatures")), **_mtimes(side_dir(out, "buckets"))}
    caplog.clear()
    resumed = _run(files, out, partitions=3)
    assert "dedup.signatures: already complete" in caplog.text and "dedup.buckets: already complete" in caplog.text
    assert {p: json.loads((side_dir(out, p) / "_manifest.json").read_text())["created_at"]
            for p in ("signatures", "buckets")} == earlier
    assert {**_mtimes(side_dir(out, "signatures")), **_mtimes(side_dir(out, "buckets"))} == earlier_files
    assert (_kept(out), _duplicates(out)) == result
    assert resumed.stats["removed"] == first.stats["removed"] == len(expected)
    assert verify_dataset(out)[1] == []


def test_a_changed_threshold_redoes_the_passes(planted, tmp_path, caplog):
    files, _ = planted
    out = tmp_path / "out"
    strict = _run(files, out, partitions=3, threshold=0.95)
    sig_files = _mtimes(side_dir(out, "signatures"))
    caplog.set_level(logging.INFO, logger="webtext")
    loose = _run(files, out, partitions=3, threshold=0.8)
    assert "redoing" in caplog.text and "already complete" not in caplog.text
    assert loose.fingerprint != strict.fingerprint
    assert json.loads((side_dir(out, "signatures") / "_manifest.json").read_text())["config"]["threshold"] == 0.8
    assert all(p.stat().st_mtime_ns != t for p, t in sig_files.items() if p.exists())
    fresh = tmp_path / "fresh"
    _run(files, fresh, partitions=3, threshold=0.8)
    assert (_kept(out), _duplicates(out)) == (_kept(fresh), _duplicates(fresh))
    assert strict.stats["removed"] <= loose.stats["removed"]
    assert verify_dataset(out)[1] == []


def test_cli_dedup_then_verify(planted, tmp_path, capsys):
    files, expected = planted
    out = tmp_path / "out"
    args = ["dedup", *map(str, files), "--out", str(out), "--runner", "local", "--partitions", "3",
            "--threshold", "0.8", "--num-perm", "64", "--ngram", "4", "--seed", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"dedup: 350 documents -> {350 - len(expected)} kept" in printed
    config = json.loads((out / "_manifest.json").read_text())["config"]
    assert (config["num_perm"], config["ngram"], config["seed"], config["partitions"]) == (64, 4, 3, 3)
    assert set(_removed(out)) == set(expected)
    assert main(["verify", str(out)]) == 0
    assert "verify: OK" in capsys.readouterr().out
    # verify recurses into the passes: a damaged pass file is a problem
    pairs = sorted(side_dir(out, "buckets").glob("part-*.parquet"))[0]
    pairs.write_bytes(pairs.read_bytes()[:-1] + b"\0")
    assert main(["verify", str(out)]) == 1
    assert main(["dedup", *map(str, files), "--out", str(tmp_path / "nv"), "--runner", "local", "--no-verify"]) == 0
    assert json.loads((tmp_path / "nv" / "_manifest.json").read_text())["config"]["verify"] is False


@pytest.mark.ray
def test_ray_runner_matches_local_runner(ray_local, planted, tmp_path):
    from webtext.runner.ray_runner import RayRunner

    files, expected = planted
    runner = RayRunner(max_retries=1)
    on_ray = _run(files, tmp_path / "ray", runner, partitions=3)
    runner.close()
    assert ray_local.is_initialized()
    local = _run(files, tmp_path / "local", partitions=3)
    assert (_kept(tmp_path / "ray"), _duplicates(tmp_path / "ray")) == (
        _kept(tmp_path / "local"), _duplicates(tmp_path / "local"))
    assert on_ray.stats["removed"] == local.stats["removed"] == len(expected)
    assert verify_dataset(tmp_path / "ray")[1] == []
