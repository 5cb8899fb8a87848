"""The contamination stage end to end (local runner) against an independent computation of
GPT-2's overlap, the report it writes, and both decontamination methods.

The independent computation is the acceptance check's: words are ``[a-z0-9]+`` of the lower-cased
text, 8-grams per benchmark line or document, overlap % = share of the test set's 8-gram
occurrences whose 8-gram occurs anywhere in the corpus.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata import shared_data

from webtext.cli import main
from webtext.contamination.bloom import BloomFilter, false_positive_bound
from webtext.contamination.config import ContaminationConfig, DecontaminateConfig
from webtext.contamination.contamination_stage import run_contamination
from webtext.contamination.decontaminate import run_decontaminate
from webtext.data import Manifest, verify_dataset
from webtext.errors import ConfigError
from webtext.paths import side_dir
from webtext.runner import LocalRunner

N = 8
WORD = re.compile(r"[a-z0-9]+")


def words(text: str | None) -> list[str]:
    return WORD.findall((text or "").lower())


def grams(text: str | None, n: int = N) -> list[str]:
    w = words(text)
    return [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)]


def nonempty_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ending_long(lines: list[str]) -> list[str]:
    """The lines up to the last one with at least N words (see test_benchmark_ending_with_a_short_example)."""
    while lines and len(words(lines[-1])) < N:
        lines = lines[:-1]
    return lines


def chunks(text: str, size: int = 300) -> list[str]:
    w = text.split()
    return [" ".join(w[i:i + size]) for i in range(0, len(w), size)]


def rows(folder: Path) -> list[dict]:
    return [r for f in sorted(folder.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def write_docs(folder: Path, docs: list[dict], parts: int = 2) -> list[Path]:
    folder.mkdir(parents=True)
    size = math.ceil(len(docs) / parts)
    paths = []
    schema = pa.schema([("id", pa.string()), ("url", pa.string()), ("text", pa.string()), ("karma", pa.int64()),
                        ("lang", pa.string()), ("tags", pa.list_(pa.string()))])
    for i in range(parts):
        part = docs[i * size:(i + 1) * size]
        path = folder / f"part-{i:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(
            [{"lang": "en", "tags": ["t"], **d} for d in part], schema=schema), path)
        paths.append(path)
    return paths


def overlap(examples: list[str], corpus: set[str]) -> tuple[float, int, int]:
    occ = [g for e in examples for g in grams(e)]
    found = sum(g in corpus for g in occ)
    return (100.0 * found / len(occ) if occ else 0.0), found, len(occ)


def contamination(world, out: Path, **kw) -> tuple[Manifest, dict]:
    cfg = ContaminationConfig(inputs=[str(world.docs)], benchmarks=world.specs, random_check=20_000, **kw)
    cfg.validate("")
    manifest = run_contamination(cfg, out, LocalRunner())
    return manifest, json.loads((out / "report.json").read_text())


class World:
    """Real text from ../shared/data: WikiText-2 valid, PTB valid and Tiny Shakespeare chunks, plus
    documents with planted WikiText-2 and PTB test lines; benchmarks: parts of both test sets."""

    def __init__(self, root: Path) -> None:
        wt2 = ending_long(nonempty_lines(shared_data("wikitext-2") / "test.txt")[:400])
        ptb = ending_long(nonempty_lines(shared_data("ptb") / "ptb.test.txt")[:600])
        self.examples = {"wikitext2": wt2, "ptb": ptb}
        self.bench_files = {"wikitext2": root / "wt2.test.txt", "ptb": root / "ptb.test.txt"}
        for name, lines in self.examples.items():
            self.bench_files[name].write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.specs = [f"{n}={p}" for n, p in self.bench_files.items()]
        train = {"wikitext2": nonempty_lines(shared_data("wikitext-2") / "valid.txt")[:1500],
                 "ptb": nonempty_lines(shared_data("ptb") / "ptb.valid.txt")[:1500]}
        self.train_files = {n: root / f"{n}.train.txt" for n in train}
        for n, lines in train.items():
            self.train_files[n].write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.train = train

        texts = chunks(" ".join((shared_data("wikitext-2") / "valid.txt").read_text(encoding="utf-8").split()[:24_000]))
        texts += chunks(" ".join((shared_data("ptb") / "ptb.valid.txt").read_text().split()[:9_000]))
        texts += chunks(" ".join((shared_data("tinyshakespeare") / "input.txt").read_text().split()[:9_000]))
        rng = random.Random(7)
        self.planted: dict[str, list[str]] = {"wikitext2": [], "ptb": []}
        docs = [{"id": f"d{i:04d}", "text": t} for i, t in enumerate(texts)]
        for name, count, min_words in (("wikitext2", 12, 40), ("ptb", 5, 20)):
            for _ in range(count):
                lines = rng.sample([x for x in self.examples[name] if len(x.split()) > min_words], 2)
                host = rng.choice(texts)
                text = host[:500] + "\n" + "\n".join(lines) + "\n" + host[500:900]
                docs.append({"id": f"d{len(docs):04d}", "text": text})
                self.planted[name].append(docs[-1]["id"])
        for d in docs:
            d["url"] = f"http://corpus.example/{d['id']}"
            d["karma"] = int(d["id"][1:]) % 50 + 3
        rng.shuffle(docs)
        self.docs_list = docs
        self.docs = root / "docs"
        self.doc_files = write_docs(self.docs, docs)
        self.corpus = {g for d in docs for g in grams(d["text"])}
        self.expected = {n: overlap(ex, self.corpus) for n, ex in self.examples.items()}
        self.bench_sets = {n: {g for e in ex for g in grams(e)} for n, ex in self.examples.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("contamination-world"))


@pytest.fixture(scope="module")
def exact(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("exact") / "report"
    manifest, report = contamination(world, out, mode="exact")
    return out, manifest, report


@pytest.fixture(scope="module")
def bloom(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("bloom") / "report"
    manifest, report = contamination(world, out, mode="bloom", bloom_parts=2)
    return out, manifest, report


# ---------------------------------------------------------------------------------------------
# Exact mode


def test_exact_mode_equals_the_independent_computation(world, exact):
    _, manifest, report = exact
    assert report["mode"] == "exact" and report["ngram"] == N and "bloom" not in report
    for name, (want, found, occurrences) in world.expected.items():
        b = report["benchmarks"][name]
        assert b["overlap_percent"] == pytest.approx(want, abs=1e-9), name
        assert b["exact_overlap_percent"] == pytest.approx(want, abs=1e-9)
        assert (b["found"], b["ngrams"]) == (found, occurrences)
        assert b["examples"] == len(world.examples[name])
        assert b["distinct_ngrams"] == len(world.bench_sets[name])
        contaminated = sum(any(g in world.corpus for g in grams(e)) for e in world.examples[name])
        assert b["contaminated_examples"] == contaminated
    assert world.expected["wikitext2"][0] > 1.0  # the planted lines make the comparison non-trivial
    assert world.expected["ptb"][1] > 0
    corpus = report["corpus"]
    assert corpus["documents"] == len(world.docs_list)
    assert corpus["ngrams"] == sum(len(grams(d["text"])) for d in world.docs_list)
    assert corpus["text_bytes"] == sum(len(d["text"].encode()) for d in world.docs_list)
    assert manifest.stats[f"overlap_ppm_{'wikitext2'}"] == round(world.expected["wikitext2"][0] * 1e4)


def test_per_document_hits_match_independent_counts(world, exact):
    out = exact[0]
    got = {(r["id"], r["benchmark"]): r for r in rows(out / "hits")}
    want = {}
    for d in world.docs_list:
        g = grams(d["text"])
        for name, bench in world.bench_sets.items():
            hits = sum(x in bench for x in g)
            if hits:
                want[(d["id"], name)] = (hits, len(g), d["url"], d["karma"])
    assert set(got) == set(want)
    for key, (hits, total, url, karma) in want.items():
        r = got[key]
        assert (r["n_hits"], r["n_ngrams"]) == (hits, total) and r["fraction"] == pytest.approx(hits / total)
        assert (r["url"], r["karma"]) == (url, karma)
    schema = pq.read_schema(sorted((out / "hits").glob("part-*.parquet"))[0])
    assert {"id", "benchmark", "n_hits", "fraction"} <= set(schema.names)
    assert len(list((out / "hits").glob("part-*.parquet"))) == len(world.doc_files)


def test_planted_documents_are_flagged(world, exact, bloom):
    for out in (exact[0], bloom[0]):
        flagged = {(r["id"], r["benchmark"]) for r in rows(out / "hits")}
        for name, ids in world.planted.items():
            assert {(i, name) for i in ids} <= flagged, name
    report = exact[2]
    top = report["top_documents"]
    assert top and top[0]["id"] in world.planted["wikitext2"]  # two whole test lines: the most hits
    assert [t["n_hits"] for t in top] == sorted((t["n_hits"] for t in top), reverse=True)
    assert all(t["url"].endswith(t["id"]) and t["karma"] >= 3 for t in top)


def test_per_example_overlap(world, exact):
    out = exact[0]
    for name, examples in world.examples.items():
        table = pq.read_table(out / "examples" / f"{name}.parquet").to_pylist()
        assert [r["text"] for r in table] == examples
        assert [r["example"] for r in table] == list(range(len(examples)))
        for r, e in zip(table, examples, strict=True):
            g = grams(e)
            found = sum(x in world.corpus for x in g)
            assert (r["n_ngrams"], r["n_found"]) == (len(g), found)
            if g:
                assert r["overlap_percent"] == pytest.approx(100.0 * found / len(g))
            else:
                assert r["overlap_percent"] is None or math.isnan(r["overlap_percent"])
            assert r["train_overlap_percent"] is None or math.isnan(r["train_overlap_percent"])


def test_report_files_and_plots(world, exact, bloom):
    for out, mode in ((exact[0], "exact"), (bloom[0], "bloom")):
        for f in ("report.json", "report.md", "report.html", "plots/overlap.svg", "plots/per_example_overlap.svg"):
            assert (out / f).is_file() and (out / f).stat().st_size > 0, f
        svg = ET.fromstring((out / "plots" / "overlap.svg").read_text())
        assert svg.tag == "{http://www.w3.org/2000/svg}svg" and "wikitext2" in ET.tostring(svg, encoding="unicode")
        md = (out / "report.md").read_text()
        assert f"{mode} mode" in md and "| this corpus |" in md and "| | wikitext2 | ptb |" in md
        assert f"{world.expected['wikitext2'][0]:.2f}%" in md or mode == "bloom"
        assert "own training split" not in md
        page = (out / "report.html").read_text()
        assert page.startswith("<!doctype html>") and "plots/overlap.svg" in page and "wikitext2" in page
        assert '<a href="http://corpus.example/' in page  # lineage of the most contaminated documents, as links
        assert page.count("<table>") == 4 and "Most contaminated benchmark examples" in md  # as many tables as md
        assert verify_dataset(out)[1] == []
        assert main(["-q", "verify", str(out)]) == 0
    assert (bloom[0] / "corpus.bloom").is_file() and not (exact[0] / "corpus.bloom").exists()
    assert "Bloom filter: m =" in (bloom[0] / "report.md").read_text()


def test_verify_notices_a_changed_report(exact, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(exact[0], copy)
    (copy / "report.md").write_text("edited\n")
    assert main(["-q", "verify", str(copy)]) == 1


# ---------------------------------------------------------------------------------------------
# Bloom mode


def test_bloom_mode_is_at_least_exact_and_within_the_bound(world, bloom, exact):
    out, _, report = bloom
    assert report["mode"] == "bloom"
    for name, (want, found, occurrences) in world.expected.items():
        b = report["benchmarks"][name]
        assert b["exact_overlap_percent"] == pytest.approx(want, abs=1e-9)
        assert want - 1e-9 <= b["overlap_percent"] <= want + 0.01, name  # the acceptance check's bound
        assert b["found"] >= found and b["ngrams"] == occurrences
    bl = report["bloom"]
    assert bl["m_bits"] % 512 == 0 and bl["fp_rate_target"] == 1e-8 and bl["fp_bound"] <= 1e-8
    assert bl["items"] == report["corpus"]["ngrams"] and bl["bytes"] == bl["m_bits"] // 8
    assert bl["random_strings"] == 20_000 and bl["random_string_hits"] <= 1
    assert bl["file"] == "corpus.bloom" and (out / bl["file"]).is_file()  # relative: the report can move
    # The per-document hits do not depend on the mode.
    assert sorted(map(str, rows(out / "hits"))) == sorted(map(str, rows(exact[0] / "hits")))


def test_saved_filter_is_made_of_the_slices_and_holds_every_corpus_ngram(world, bloom):
    """--bloom-parts 2: two slices (half the partitions each, smaller than the filter) that put
    together give the saved filter, which equals one built whole and holds every corpus n-gram."""
    from webtext.contamination.ngrams import hash_texts

    out = bloom[0]
    parts = sorted((out / "bloom").glob("part-*.bloom"))
    assert len(parts) == 2
    loaded = [BloomFilter.load(p) for p in parts]
    assert [s.partitions for s in loaded] == [(0, 2048), (2048, 4096)]
    assert all(not s.whole and s.bits.size < s.m // 64 for s in loaded)
    with pytest.raises(ValueError, match="slice"):
        loaded[0].contains(np.zeros(1, np.uint64))
    saved = BloomFilter.load(out / "corpus.bloom")
    assert saved.whole and saved.items == sum(p.items for p in loaded) == bloom[2]["corpus"]["ngrams"]
    put_together = BloomFilter.empty(saved.m, saved.k, saved.ngram)
    for s in loaded:
        put_together.merge(s)
    assert np.array_equal(saved.bits, put_together.bits)
    hashes = hash_texts([d["text"] for d in world.docs_list], N).hashes
    whole = BloomFilter.empty(saved.m, saved.k, saved.ngram)
    whole.add(hashes)
    assert np.array_equal(saved.bits, whole.bits)
    assert saved.ngram == N
    assert saved.contains(hashes).all()


def test_whole_filter_built_by_two_threads_equals_one_built_by_one(world, bloom, tmp_path, monkeypatch):
    """--bloom-parts 1 with a second core: the upper half of the partitions goes into a slice of
    its own, ORed in afterwards; the saved filter (bits, header) and the report are those of a
    one-thread build, and equal the filter of the two-slice run."""
    from webtext.contamination import scan

    monkeypatch.setattr(scan.os, "sched_getaffinity", lambda pid: {0, 1})
    inserted: list[tuple[int, int]] = []
    insert_range = scan._insert_range

    def recorded(into, runs, p0, p1):
        inserted.append((p0, p1))
        insert_range(into, runs, p0, p1)

    monkeypatch.setattr(scan, "_insert_range", recorded)
    runs, ranges = {}, {}
    for label, split in (("two-threads", 0), ("one-thread", 1 << 62)):
        monkeypatch.setattr(scan, "SPLIT_ITEMS", split)
        runs[label] = contamination(world, tmp_path / label, mode="bloom", bloom_parts=1)[1]
        ranges[label] = sorted(inserted)
        inserted.clear()
    assert ranges == {"two-threads": [(0, 2048), (2048, 4096)], "one-thread": [(0, 4096)]}
    two, one = (BloomFilter.load(tmp_path / label / "corpus.bloom") for label in ("two-threads", "one-thread"))
    assert two.whole and two.partitions == one.partitions
    assert np.array_equal(two.bits, one.bits)
    assert np.array_equal(two.bits, BloomFilter.load(bloom[0] / "corpus.bloom").bits)
    assert (two.items, two.planned) == (one.items, one.planned) == (bloom[2]["corpus"]["ngrams"], one.planned)
    assert runs["two-threads"] == runs["one-thread"]


def test_bloom_and_exact_agree_up_to_the_false_positive_bound(world, tmp_path):
    """A loose filter (fp 1e-3) so false positives occur: the report's Bloom count equals the
    filter's answer for the benchmark n-grams, exceeds the exact count only by n-grams absent from
    the corpus, and by about the expected number."""
    from webtext.contamination.ngrams import ngram_hash

    out = tmp_path / "loose"
    _, report = contamination(world, out, mode="bloom", fp_rate=1e-3)
    saved = BloomFilter.load(out / "corpus.bloom")
    bound = false_positive_bound(saved.m, saved.k, saved.bound_items)
    assert bound <= 1e-3 and report["bloom"]["fp_bound"] == pytest.approx(bound)
    # Sized for the distinct n-grams (HyperLogLog + margin), which the corpus's repeats keep below
    # the occurrences; the plan covers the true distinct count.
    distinct = len({g for d in world.docs_list for g in grams(d["text"])})
    assert distinct <= saved.planned <= saved.items == report["corpus"]["ngrams"]
    for name, examples in world.examples.items():
        occ = [g for e in examples for g in grams(e)]
        says = saved.contains(np.array([ngram_hash(g) for g in occ], dtype=np.uint64))
        b = report["benchmarks"][name]
        assert b["found"] == int(says.sum())
        assert all(says[i] for i, g in enumerate(occ) if g in world.corpus)  # no false negatives
        absent = sorted({g for g in occ if g not in world.corpus})
        extra = sum(says[i] for i, g in enumerate(occ) if g not in world.corpus)
        extra_distinct = int(saved.contains(np.array([ngram_hash(g) for g in absent], dtype=np.uint64)).sum())
        mean = bound * len(absent)
        assert extra_distinct <= 1.3 * mean + 4 * math.sqrt(mean) + 1, (name, extra_distinct, mean)
        assert b["found"] - world.expected[name][1] == extra
        per_ex = pq.read_table(out / "examples" / f"{name}.parquet").column("n_found").to_pylist()
        exact_per_ex = [sum(g in world.corpus for g in grams(e)) for e in examples]
        assert all(a >= e for a, e in zip(per_ex, exact_per_ex, strict=True))


def test_reusing_a_saved_filter(world, bloom, tmp_path):
    saved = bloom[0] / "corpus.bloom"
    before = saved.read_bytes()
    out = tmp_path / "reuse"
    ptb_only = world.specs[1:]
    cfg = ContaminationConfig(inputs=[str(world.docs)], benchmarks=ptb_only, mode="bloom", bloom=str(saved),
                              random_check=1000)
    run_contamination(cfg, out, LocalRunner())
    report = json.loads((out / "report.json").read_text())
    assert report["benchmarks"]["ptb"]["overlap_percent"] == bloom[2]["benchmarks"]["ptb"]["overlap_percent"]
    assert report["bloom"]["file"] == str(saved) and report["bloom"]["items"] == bloom[2]["bloom"]["items"]
    assert not (out / "bloom").exists() and not (out / "corpus.bloom").exists()  # nothing rebuilt
    assert saved.read_bytes() == before
    assert verify_dataset(out)[1] == []
    # A filter of other n-grams is refused.
    rc = main(["-q", "contamination", str(world.docs), "--benchmark", ptb_only[0], "--mode", "bloom",
               "--bloom", str(saved), "--ngram", "13", "--out", str(tmp_path / "r13"), "--runner", "local"])
    assert rc == 2


def test_reusing_the_filter_of_the_same_report_folder(world, bloom, tmp_path):
    """BUG (webtext/contamination/contamination_stage.py run_contamination + runner/stage.py _clear):
    querying OUT/corpus.bloom against a new benchmark with the same --out redoes the report stage,
    whose side_dirs include corpus.bloom, so the filter is deleted before report_task loads it: the
    stage fails (FileNotFoundError) and the saved filter is lost."""
    out = tmp_path / "report"
    shutil.copytree(bloom[0], out)
    saved = out / "corpus.bloom"
    before = saved.read_bytes()
    rc = main(["-q", "contamination", str(world.docs), "--benchmark", world.specs[1], "--mode", "bloom",
               "--bloom", str(saved), "--out", str(out), "--runner", "local", "--random-check", "1000"])
    assert saved.is_file() and saved.read_bytes() == before, "the saved Bloom filter was deleted"
    assert rc in (0, 2)


def test_corrupt_saved_filter_is_a_clear_error_not_a_traceback(world, bloom, tmp_path, capsys):
    """BUG (webtext/contamination/contamination_stage.py / webtext/cli.py main): BloomFileError is
    neither a ConfigError nor caught by main(), so `webtext-build contamination --bloom BROKEN`
    dies with a traceback instead of printing the reason and exiting non-zero (2 would fit: a bad
    --bloom argument)."""
    broken = tmp_path / "broken.bloom"
    broken.write_bytes((bloom[0] / "corpus.bloom").read_bytes()[:-64])
    argv = ["-q", "contamination", str(world.docs), "--benchmark", world.specs[1], "--mode", "bloom",
            "--bloom", str(broken), "--out", str(tmp_path / "r"), "--runner", "local"]
    try:
        rc = main(argv)
    except Exception as exc:
        pytest.fail(f"main() raised {type(exc).__name__}: {exc}")
    assert rc in (1, 2) and "truncated" in capsys.readouterr().err


def test_bloom_sizing_is_logged_before_building(world, tmp_path, caplog):
    caplog.set_level("INFO", logger="webtext.contamination.contamination_stage")
    contamination(world, tmp_path / "logged", mode="bloom", bloom_parts=1)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert re.search(r"bloom: [\d,]+ n-grams, ~[\d,]+ distinct \(HyperLogLog, \+5 standard errors: [\d,]+\) "
                     r"at fp <= 1e-08 -> m = [\d,]+ bits \([\d.]+ MiB, built in \d+ slice", text), text
    assert ", k = " in text


# ---------------------------------------------------------------------------------------------
# Own training split (Table 6's first row)


def test_benchmark_train_overlap(world, tmp_path):
    out = tmp_path / "train"
    _, report = contamination(world, out, mode="exact",
                              benchmark_train=[f"{n}={p}" for n, p in world.train_files.items()])
    for name, examples in world.examples.items():
        train = {g for t in world.train[name] for g in grams(t)}
        want, _, _ = overlap(examples, train)
        b = report["benchmarks"][name]
        assert b["train_overlap_percent"] == pytest.approx(want, abs=1e-9)
        assert b["train_ngrams"] == sum(len(grams(t)) for t in world.train[name])
        assert b["overlap_percent"] == pytest.approx(world.expected[name][0], abs=1e-9)
        table = pq.read_table(out / "examples" / f"{name}.parquet").to_pylist()
        for r, e in zip(table, examples, strict=True):
            g = grams(e)
            if g:
                assert r["train_overlap_percent"] == pytest.approx(100.0 * sum(x in train for x in g) / len(g))
    assert world.expected["wikitext2"][0] != report["benchmarks"]["wikitext2"]["train_overlap_percent"]
    md = (out / "report.md").read_text()
    assert "| own training split |" in md and "| this corpus |" in md
    assert md.index("own training split") < md.index("| this corpus |")  # GPT-2's row order


def test_benchmark_train_must_name_a_benchmark(world, tmp_path, capsys):
    rc = main(["-q", "contamination", str(world.docs), "--benchmark", world.specs[0],
               "--benchmark-train", f"ptb={world.train_files['ptb']}", "--out", str(tmp_path / "o"),
               "--runner", "local", "--mode", "exact"])
    assert rc == 2 and "benchmark-train" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Edge cases, reruns, the command line


@pytest.mark.parametrize("mode", ["exact", "bloom"])
def test_empty_corpus(world, tmp_path, mode):
    docs = tmp_path / "empty"
    docs.mkdir()
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}),
                   docs / "part-00000.parquet")
    out = tmp_path / "out"
    cfg = ContaminationConfig(inputs=[str(docs)], benchmarks=world.specs, mode=mode, random_check=1000)
    run_contamination(cfg, out, LocalRunner())
    report = json.loads((out / "report.json").read_text())
    for name in world.examples:
        b = report["benchmarks"][name]
        assert b["overlap_percent"] == 0.0 and b["found"] == 0 and b["ngrams"] == world.expected[name][2]
    assert report["corpus"]["documents"] == 0 and report["top_documents"] == []
    assert rows(out / "hits") == []
    assert verify_dataset(out)[1] == []
    if mode == "bloom":
        assert report["bloom"]["random_string_hits"] == 0


@pytest.mark.parametrize("mode", ["exact", "bloom"])
def test_benchmark_shorter_than_n(world, tmp_path, mode):
    short = tmp_path / "short.txt"
    short.write_text("just a few words\n\nseven words are not enough here\n")
    out = tmp_path / "out"
    cfg = ContaminationConfig(inputs=[str(world.docs)], benchmarks=[f"tiny=lines:{short}", world.specs[1]],
                              mode=mode, random_check=1000)
    run_contamination(cfg, out, LocalRunner())
    report = json.loads((out / "report.json").read_text())
    tiny = report["benchmarks"]["tiny"]
    assert (tiny["examples"], tiny["ngrams"], tiny["found"], tiny["overlap_percent"]) == (2, 0, 0, 0.0)
    assert tiny["contaminated_examples"] == 0
    assert report["benchmarks"]["ptb"]["exact_overlap_percent"] == pytest.approx(world.expected["ptb"][0])
    table = pq.read_table(out / "examples" / "tiny.parquet").to_pylist()
    assert [r["n_ngrams"] for r in table] == [0, 0] and [r["n_found"] for r in table] == [0, 0]
    assert not any(r["benchmark"] == "tiny" for r in rows(out / "hits"))
    assert (out / "report.html").is_file()


@pytest.mark.parametrize("mode", ["exact", "bloom"])
def test_benchmark_ending_with_a_short_example(world, tmp_path, mode):
    """BUG (webtext/contamination/report.py:65, per_example): np.add.reduceat(found, starts[:-1])
    raises IndexError when the benchmark's *last* example has fewer than n words (its start equals
    len(found)), so the report shard fails. WikiText-2 test's first 600 non-empty lines end with
    ' <unk> <unk> ', for instance; 963 of WikiText-2 test's lines have fewer than 8 words."""
    bench = tmp_path / "b.txt"
    bench.write_text(world.examples["wikitext2"][0] + "\n" + world.examples["wikitext2"][-1] + "\nshort last line\n")
    out = tmp_path / "out"
    cfg = ContaminationConfig(inputs=[str(world.docs)], benchmarks=[f"b=lines:{bench}"], mode=mode, random_check=1000)
    run_contamination(cfg, out, LocalRunner())
    report = json.loads((out / "report.json").read_text())
    examples = nonempty_lines(bench)
    assert report["benchmarks"]["b"]["overlap_percent"] == pytest.approx(overlap(examples, world.corpus)[0])
    table = pq.read_table(out / "examples" / "b.parquet").to_pylist()
    assert [r["n_ngrams"] for r in table][-1] == 0 and table[-1]["n_found"] == 0


def test_rerun_skips_finished_work(world, tmp_path):
    out = tmp_path / "out"
    contamination(world, out, mode="bloom", bloom_parts=2)
    watched = [out / "_manifest.json", out / "hits" / "_manifest.json", out / "bloom" / "_manifest.json",
               out / "report.json", out / "corpus.bloom", out / "ngrams" / "table.npz"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched}
    contamination(world, out, mode="bloom", bloom_parts=2)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched} == before
    # A changed benchmark redoes the work.
    line = next(e for e in world.examples["wikitext2"]
                if len(grams(e)) > 20 and any(g in world.corpus for g in grams(e)))
    extra = tmp_path / "extra.txt"
    extra.write_text(line + "\n")
    cfg = ContaminationConfig(inputs=[str(world.docs)], benchmarks=[*world.specs, f"extra=lines:{extra}"],
                              mode="bloom", bloom_parts=2, random_check=1000)
    run_contamination(cfg, out, LocalRunner())
    report = json.loads((out / "report.json").read_text())
    assert report["benchmarks"]["extra"]["overlap_percent"] == pytest.approx(overlap([line], world.corpus)[0])
    assert report["benchmarks"]["extra"]["overlap_percent"] > 0
    assert verify_dataset(out)[1] == []


def test_cli_exact_run_and_config_errors(world, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["-q", "contamination", str(world.docs), *[a for s in world.specs for a in ("--benchmark", s)],
            "--mode", "exact", "--out", str(out), "--runner", "local"]
    assert main(argv) == 0
    assert "wikitext2" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["benchmarks"]["ptb"]["overlap_percent"] == pytest.approx(world.expected["ptb"][0], abs=1e-9)
    assert main(["-q", "verify", str(out)]) == 0

    missing = ["-q", "contamination", str(world.docs), "--out", str(tmp_path / "x"), "--runner", "local"]
    assert main(missing) == 2
    assert "--benchmark" in capsys.readouterr().err
    misspelt = "wikitxt2=" + world.specs[0].partition("=")[2]  # an existing file under an unknown name
    for bad in (["--benchmark", "no-equals-sign"], ["--benchmark", f"ptb={tmp_path / 'missing.txt'}"],
                ["--benchmark", misspelt], ["--benchmark", world.specs[0], "--benchmark-train", misspelt],
                ["--benchmark", world.specs[0], "--benchmark", world.specs[0]],
                ["--benchmark", world.specs[0], "--ngram", "0"], ["--benchmark", world.specs[0], "--fp-rate", "0.7"],
                ["--benchmark", world.specs[0], "--bloom", str(tmp_path / "none.bloom")]):
        assert main([*missing, *bad]) == 2, bad
        assert "configuration error" in capsys.readouterr().err
    assert not (tmp_path / "x" / "_manifest.json").exists()
    with pytest.raises(ConfigError):
        ContaminationConfig(inputs=[str(world.docs)], benchmarks=[]).validate("")


@pytest.mark.ray
def test_ray_runner_matches_local_runner(ray_local, world, bloom, tmp_path):
    from webtext.runner.ray_runner import RayRunner

    out = tmp_path / "ray"
    cfg = ContaminationConfig(inputs=[str(world.docs)], benchmarks=world.specs, mode="bloom", bloom_parts=2,
                              random_check=20_000)
    run_contamination(cfg, out, RayRunner(max_retries=0))
    report = json.loads((out / "report.json").read_text())
    for name in world.examples:
        assert report["benchmarks"][name] == bloom[2]["benchmarks"][name]
    assert (out / "corpus.bloom").read_bytes() == (bloom[0] / "corpus.bloom").read_bytes()
    assert sorted(map(str, rows(out / "hits"))) == sorted(map(str, rows(bloom[0] / "hits")))


# ---------------------------------------------------------------------------------------------
# Decontamination


def _ascii(line: str) -> bool:
    return line.isascii() and len(line.lower()) == len(line)


class DecoWorld:
    """Shakespeare filler (no benchmark n-grams) with WikiText-2 test lines planted in chosen
    shapes: mid-document, at the start, in a short document, many times in one document, a line
    planted in 12 documents (a 'common' n-gram set), and a 12-word fragment."""

    def __init__(self, root: Path) -> None:
        bench = ending_long(nonempty_lines(shared_data("wikitext-2") / "test.txt")[:600])
        self.bench_file = root / "wt2.txt"
        self.bench_file.write_text("\n".join(bench) + "\n", encoding="utf-8")
        self.bench = {g for line in bench for g in grams(line)}
        picked: list[str] = []
        seen: set[str] = set()
        for line in bench:  # long, plain-ASCII lines whose n-grams no other pick shares
            g = set(grams(line))
            if 25 <= len(line.split()) <= 120 and _ascii(line) and not g & seen and len(g) == len(grams(line)):
                picked.append(line.strip())
                seen |= g
        assert len(picked) >= 16
        self.filler_text = " ".join((shared_data("tinyshakespeare") / "input.txt").read_text().split()[:40_000])
        self.at = 0
        lines = iter(picked)
        docs: dict[str, str] = {}
        for i in range(5):
            docs[f"clean{i}"] = self.fill(1500)
        self.mid_line = next(lines)
        docs["mid"] = self.fill(1200) + "\n" + self.mid_line + "\n" + self.fill(1200)
        docs["start"] = next(lines) + "\n" + self.fill(1500)
        docs["small"] = self.fill(120) + " " + next(lines) + " " + self.fill(120)
        many = self.fill(700)
        for _ in range(11):
            many += "\n" + next(lines) + "\n" + self.fill(700)
        docs["many"] = many
        self.common_line = next(lines)
        for i in range(12):
            docs[f"common{i}"] = self.fill(600) + "\n" + self.common_line + "\n" + self.fill(600)
        fragment = " ".join(next(lines).split()[:12])
        docs["partial"] = self.fill(800) + " " + fragment + " " + self.fill(800)
        self.texts = docs
        order = list(docs)
        random.Random(3).shuffle(order)
        self.docs = root / "docs"
        self.doc_files = write_docs(self.docs, [{"id": k, "text": docs[k], "url": f"http://d.example/{k}",
                                                 "karma": 5} for k in order])
        self.doc_freq = Counter(g for t in docs.values() for g in set(grams(t)))
        for k, t in docs.items():
            if k.startswith("clean"):
                assert not set(grams(t)) & self.bench, k

    def fill(self, chars: int) -> str:
        """The next ~``chars`` characters of Shakespeare, cut at spaces."""
        end = self.filler_text.rfind(" ", self.at, self.at + chars)
        piece = self.filler_text[self.at:end]
        self.at = end + 1
        return piece

    def fraction(self, text: str) -> float:
        g = grams(text)
        return sum(x in self.bench for x in g) / len(g) if g else 0.0

    def gpt3(self, text: str, cfg: DecontaminateConfig) -> tuple[str | None, str]:
        """GPT-3's rule, computed here: (new text or None if dropped, reason)."""
        spans = [m.span() for m in WORD.finditer(text.lower())]
        g = grams(text)
        colliding = [i for i, x in enumerate(g) if x in self.bench and self.doc_freq[x] <= cfg.max_ngram_docs]
        if not colliding:
            return text, "kept_common_ngrams_only" if any(x in self.bench for x in g) else "clean"
        cuts = sorted((max(0, spans[i][0] - cfg.context_chars), min(len(text), spans[i + N - 1][1] + cfg.context_chars))
                      for i in colliding)
        merged: list[list[int]] = []
        for s, e in cuts:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        bounds = [0, *[x for m in merged for x in m], len(text)]
        pieces = [text[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2)]
        pieces = [p.strip() for p in pieces if len(p.strip()) >= cfg.min_piece_chars]
        if not pieces:
            return None, "dropped_nothing_left"
        if len(pieces) > cfg.max_pieces:
            return None, "dropped_too_many_pieces"
        return "\n\n".join(pieces), "trimmed"


@pytest.fixture(scope="module")
def deco(tmp_path_factory):
    root = tmp_path_factory.mktemp("decontaminate")
    w = DecoWorld(root)
    w.report = root / "report"
    cfg = ContaminationConfig(inputs=[str(w.docs)], benchmarks=[f"wikitext2={w.bench_file}"], mode="exact")
    run_contamination(cfg, w.report, LocalRunner())
    return w


def _docs(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in rows(folder)}


def _removed(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in rows(side_dir(folder, "removed"))}


@pytest.mark.parametrize("max_fraction", [0.0, 0.05, 0.3])
def test_drop_removes_exactly_the_documents_over_the_threshold(deco, tmp_path, max_fraction):
    out = tmp_path / "drop"
    cfg = DecontaminateConfig(inputs=[str(deco.docs)], report=str(deco.report), method="drop",
                              max_fraction=max_fraction)
    cfg.validate("")
    manifest = run_decontaminate(cfg, out, LocalRunner())
    want_dropped = {k for k, t in deco.texts.items() if deco.fraction(t) > max_fraction}
    assert want_dropped and want_dropped != set(deco.texts)
    kept = _docs(out)
    assert set(kept) == set(deco.texts) - want_dropped
    assert all(kept[k]["text"] == deco.texts[k] for k in kept)  # kept documents are untouched
    removed = _removed(out)
    assert set(removed) == want_dropped
    for k, r in removed.items():
        assert r["reason"] == "dropped_contaminated" and r["benchmarks"] == ["wikitext2"]
        assert r["removed_text"] == deco.texts[k] and r["removed_chars"] == len(deco.texts[k])
    assert manifest.stats["kept"] == len(kept) and manifest.stats["dropped_contaminated"] == len(want_dropped)
    assert manifest.stats["documents"] == len(deco.texts)
    assert verify_dataset(out)[1] == []


def test_kept_schema_equals_the_input_schema(deco, tmp_path):
    for method in ("drop", "gpt3"):
        out = tmp_path / method
        run_decontaminate(DecontaminateConfig(inputs=[str(deco.docs)], report=str(deco.report), method=method),
                          out, LocalRunner())
        src = pq.read_schema(deco.doc_files[0])
        for f in sorted(out.glob("part-*.parquet")):
            assert pq.read_schema(f).equals(src, check_metadata=False), method


@pytest.fixture(scope="module")
def gpt3(deco, tmp_path_factory):
    out = tmp_path_factory.mktemp("gpt3") / "out"
    cfg = DecontaminateConfig(inputs=[str(f) for f in reversed(deco.doc_files)], report=str(deco.report),
                              method="gpt3")  # files in another order than the report's: matched by path
    cfg.validate("")
    manifest = run_decontaminate(cfg, out, LocalRunner())
    return out, manifest, cfg


def test_gpt3_cuts_collisions_with_context(deco, gpt3):
    out, manifest, cfg = gpt3
    kept, removed = _docs(out), _removed(out)
    reasons = {}
    for k, text in deco.texts.items():
        new, reason = deco.gpt3(text, cfg)
        reasons[k] = reason
        if new is None:
            assert k not in kept and removed[k]["reason"] == reason, k
            assert removed[k]["removed_text"] == text and removed[k]["removed_chars"] == len(text)
        else:
            assert kept[k]["text"] == new, k
            assert (kept[k]["url"], kept[k]["karma"], kept[k]["lang"], kept[k]["tags"]) == (
                f"http://d.example/{k}", 5, "en", ["t"])
        if reason == "trimmed":
            assert removed[k]["reason"] == "trimmed" and removed[k]["removed_chars"] == len(text) - len(new)
            assert removed[k]["benchmarks"] == ["wikitext2"]
        elif reason in ("clean", "kept_common_ngrams_only"):
            assert k not in removed
    # The fixture exercises every branch of the rule.
    assert reasons["mid"] == reasons["start"] == reasons["partial"] == "trimmed"
    assert reasons["small"] == "dropped_nothing_left" and reasons["many"] == "dropped_too_many_pieces"
    assert all(reasons[f"common{i}"] == "kept_common_ngrams_only" for i in range(12))
    assert kept["mid"]["text"].count("\n\n") == 1  # two pieces
    assert deco.mid_line not in kept["mid"]["text"] and deco.mid_line in removed["mid"]["removed_text"]
    head = deco.texts["mid"].split("\n")[0]
    assert kept["mid"]["text"].startswith(head[:len(head) - 200 - 5])  # 200 characters of context removed
    assert not kept["mid"]["text"].startswith(head)
    s = manifest.stats
    assert (s["trimmed"], s["dropped_nothing_left"], s["dropped_too_many_pieces"]) == (3, 1, 1)
    assert s["kept_common_ngrams_only"] == 12 and s["documents"] == len(deco.texts)
    assert s["kept"] == len(deco.texts) - 2
    assert verify_dataset(out)[1] == []


def test_gpt3_settings_change_the_outcome(deco, tmp_path):
    cfg = DecontaminateConfig(inputs=[str(deco.docs)], report=str(deco.report), method="gpt3", max_pieces=20,
                              max_ngram_docs=20, context_chars=50, min_piece_chars=10)
    out = tmp_path / "o"
    run_decontaminate(cfg, out, LocalRunner())
    kept, removed = _docs(out), _removed(out)
    for k, text in deco.texts.items():
        new, _ = deco.gpt3(text, cfg)
        assert (kept[k]["text"] if k in kept else None) == new, k
    assert removed["many"]["reason"] == "trimmed" and kept["many"]["text"].count("\n\n") == 11
    assert removed["common0"]["reason"] == "trimmed"  # no longer ignored as common
    assert "small" in kept


def test_recontamination_after_gpt3_finds_only_common_ngrams(deco, gpt3, tmp_path):
    out = gpt3[0]
    report_dir = tmp_path / "again"
    cfg = ContaminationConfig(inputs=[str(out)], benchmarks=[f"wikitext2={deco.bench_file}"], mode="exact")
    run_contamination(cfg, report_dir, LocalRunner())
    report = json.loads((report_dir / "report.json").read_text())
    texts = [r["text"] for r in rows(out)]
    left = {g for t in texts for g in grams(t)} & deco.bench
    common = {g for g in deco.bench if deco.doc_freq[g] > gpt3[2].max_ngram_docs}
    assert left and left <= common  # only the phrase planted in 12 documents is left
    examples = nonempty_lines(deco.bench_file)
    want, _, _ = overlap(examples, {g for t in texts for g in grams(t)})
    assert report["benchmarks"]["wikitext2"]["overlap_percent"] == pytest.approx(want, abs=1e-9)
    flagged = {r["id"] for r in rows(report_dir / "hits")}
    assert flagged == {f"common{i}" for i in range(12)}


def test_decontaminate_errors(deco, tmp_path, capsys):
    base = ["-q", "decontaminate", str(deco.docs), "--out", str(tmp_path / "o"), "--runner", "local"]
    assert main([*base, "--report", str(tmp_path / "no-report"), "--method", "drop"]) == 2
    assert "report" in capsys.readouterr().err
    assert main([*base, "--report", str(deco.report), "--method", "drop", "--max-fraction", "1.5"]) == 2
    other = tmp_path / "other"
    write_docs(other, [{"id": "x", "text": "unrelated", "url": None, "karma": 1}], parts=1)
    rc = main(["-q", "decontaminate", str(other), "--out", str(tmp_path / "o2"), "--runner", "local",
               "--report", str(deco.report), "--method", "drop"])
    assert rc == 2 and "was not scanned" in capsys.readouterr().err
    assert main([*base, "--report", str(deco.report), "--method", "gpt3"]) == 0
    assert "decontaminate:" in capsys.readouterr().out


def test_spilled_hashes_digest_is_that_of_the_file(bloom):
    """The scan hashes its spill file's bytes as it writes them (no re-read after the scan): the manifest's sha256
    of every ``.u64`` equals the file's, and the hits dataset verifies."""
    from webtext.data import file_sha256, verify_dataset

    out = bloom[0]
    manifest = json.loads((out / "hits" / "_manifest.json").read_text())
    entries = {e["path"]: e for shard in manifest["shards"] for e in shard["files"]}
    spills = sorted((out / "hits").rglob("*.u64"))
    assert spills
    for path in spills:
        assert entries[str(path.relative_to(out / "hits"))]["sha256"] == file_sha256(path)[0]
    _, problems = verify_dataset(out / "hits")
    assert problems == []


def test_random_strings_drawn_ahead_are_those_the_report_checks(world, tmp_path, monkeypatch):
    """The local runner draws the random strings while the corpus is scanned; the report takes them (none left
    over), with the count the filter reports for the strings drawn in the report itself; a rerun over a finished
    report draws none."""
    from webtext.contamination import report as report_module
    from webtext.contamination.bloom import BloomFilter, random_string_check

    drawn = []
    prefetch = report_module.prefetch_random_strings
    monkeypatch.setattr(report_module, "prefetch_random_strings", lambda *a: (drawn.append(a), prefetch(*a)))
    out = tmp_path / "report"
    _, report = contamination(world, out, mode="bloom")
    assert drawn == [(20_000, 8)] and report_module._PREFETCHED == {}
    assert report["bloom"]["random_string_hits"] == random_string_check(BloomFilter.load(out / "corpus.bloom"), 20_000)
    contamination(world, out, mode="bloom")
    assert drawn == [(20_000, 8)]
    with pytest.raises(ConfigError):  # a run that fails leaves no strings behind
        contamination(world, tmp_path / "failed", mode="bloom", bloom=str(tmp_path / "missing.bloom"))
    assert len(drawn) == 2 and report_module._PREFETCHED == {}
