"""Token shards: the Arrow IPC format and its reader (memory-mapped, zero-copy, verified).

A small tokens dataset is made once per module from generated text with a tokenizer trained on
it (no real data needed): three docs files, three shards per split.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from webtext.cli import main
from webtext.errors import ConfigError, VerifyError
from webtext.runner import LocalRunner
from webtext.tokenize.bpe import EOT, BpeTokenizer, load_tokenizer, train_bpe
from webtext.tokenize.config import TokenizeConfig
from webtext.tokenize.encode import in_val, run_tokenize
from webtext.tokenize.shards import FORMAT, TokenDataset, describe, open_shard, write_shard

SYLLABLES = ["ka", "to", "ri", "mon", "el", "sa", "the", "ing", "qu", "ux", "pre", "lo", "ve", "an", "dor"]
EXTRAS = ["café", "東京", "🚀", "naïve", "1999", "3.14", "—", "Ελλάδα"]


def generated_docs(n: int, seed: int, prefix: str) -> tuple[list[str], list[str]]:
    """``n`` documents of made-up words, punctuation, numbers and some non-ASCII."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(300)]
    texts = []
    for _ in range(n):
        paragraphs = []
        for _ in range(rng.randint(1, 4)):
            sentence = [rng.choice(words) if rng.random() > 0.05 else rng.choice(EXTRAS)
                        for _ in range(rng.randint(5, 60))]
            paragraphs.append(" ".join(sentence).capitalize() + rng.choice([".", "!", "?", "..."]))
        texts.append("\n\n".join(paragraphs))
    return [f"{prefix}-{i:04d}" for i in range(n)], texts


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("tokshards")
    docs = root / "docs"
    docs.mkdir()
    all_ids, all_texts = [], []
    for f in range(3):
        ids, texts = generated_docs(60, seed=f, prefix=f"d{f}")
        pq.write_table(pa.table({"id": ids, "text": texts}), docs / f"part-{f:05d}.parquet")
        all_ids += ids
        all_texts += texts
    tok = train_bpe(all_texts, 400)
    tok.save(root / "tokenizer")
    cfg = TokenizeConfig(inputs=[str(docs)], tokenizer=str(root / "tokenizer"), val_fraction=0.2, shard_tokens=1000)
    cfg.validate("")
    manifest = run_tokenize(cfg, root / "tokens", LocalRunner())
    return SimpleNamespace(root=root, docs=docs, out=root / "tokens", tok=tok, manifest=manifest,
                           texts=dict(zip(all_ids, all_texts, strict=True)))


def test_shards_are_arrow_files_with_their_metadata(built):
    tok = built.tok
    for split in ("train", "val"):
        paths = sorted((built.out / split).glob("*.arrow"))
        assert [p.name for p in paths] == ["tokens-00000.arrow", "tokens-00001.arrow", "tokens-00002.arrow"]
        for path in paths:
            with pa.memory_map(str(path)) as source:
                reader = pa.ipc.open_file(source)
                table = reader.read_all()
                assert reader.num_record_batches == 1
            assert table.schema.field("id").type == pa.string()
            assert table.schema.field("tokens").type == pa.list_(pa.uint16())
            meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
            lengths = [len(t) for t in table["tokens"].to_pylist()]
            assert meta == {
                "webtext.format": FORMAT, "webtext.tokenizer_hash": tok.content_hash,
                "webtext.tokenizer_source": "tokenizer", "webtext.vocab_size": "400",  # its name, not where it lay
                "webtext.eot_id": "399", "webtext.n_tokens": str(sum(lengths)),
                "webtext.n_documents": str(table.num_rows), "webtext.split": split,
            }
            assert table.num_rows > 0


def test_documents_are_the_encoded_texts_with_eot(built):
    tok = load_tokenizer(built.root / "tokenizer")
    seen = {}
    for split in ("train", "val"):
        ds = TokenDataset(built.out, split, tokenizer_hash=tok.content_hash)
        assert (ds.vocab_size, ds.eot_id) == (400, 399)
        for doc_id, tokens in ds.documents():
            assert in_val(doc_id, 0.2) == (split == "val")
            assert doc_id not in seen
            seen[doc_id] = tokens
    assert set(seen) == set(built.texts)
    ids = list(seen)
    want = tok.tiktoken.encode_ordinary_batch([built.texts[i] for i in ids])
    for doc_id, w in zip(ids, want, strict=True):
        assert seen[doc_id].tolist() == [*w, 399], doc_id
        assert tok.decode(seen[doc_id][:-1].tolist()) == built.texts[doc_id]


def test_counts_agree_with_manifest_and_describe(built):
    stats = built.manifest.stats
    train, val = TokenDataset(built.out, "train"), TokenDataset(built.out, "val")
    assert train.n_documents == stats["train_documents"] and val.n_documents == stats["val_documents"]
    assert train.n_tokens == stats["train_tokens"] and val.n_tokens == stats["val_tokens"]
    assert train.n_documents + val.n_documents == len(built.texts) == stats["documents_in"]
    assert 0 < val.n_documents < train.n_documents
    assert describe(built.out) == {
        "train": {"tokens": train.n_tokens, "documents": train.n_documents, "shards": 3},
        "val": {"tokens": val.n_tokens, "documents": val.n_documents, "shards": 3},
    }
    assert sum(train.sizes) == train.n_tokens and len(train.sizes) == 3


def _mapped_ranges(path: Path) -> list[tuple[int, int]]:
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("no /proc/self/maps on this system")
    ranges = []
    for line in maps.read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == str(path):
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((lo, hi))
    return ranges


def test_reader_gives_zero_copy_views_of_the_memory_mapped_file(built):
    allocated = pa.total_allocated_bytes()
    ds = TokenDataset(built.out, "train")
    assert pa.total_allocated_bytes() - allocated < 4096  # nothing was read into Arrow's memory pool
    for shard in ds.shards:
        flat = shard.tokens
        assert flat.dtype == np.uint16 and not flat.flags.writeable and not flat.flags.owndata
        base = flat
        while isinstance(base, np.ndarray):
            base = base.base
        assert isinstance(base, pa.Buffer) and not base.is_mutable
        # The numbers live in the pages the kernel maps from the shard file itself.
        ranges = _mapped_ranges(shard.path.resolve())
        start = flat.__array_interface__["data"][0]
        assert any(lo <= start and start + flat.nbytes <= hi for lo, hi in ranges), ranges
        assert shard.offsets[0] == 0 and shard.offsets[-1] == len(flat)
        assert not shard.offsets.flags.owndata
    n = 0
    for _, view in ds.documents():
        assert not view.flags.owndata and not view.flags.writeable
        assert any(np.shares_memory(view, s.tokens) for s in ds.shards)
        n += len(view)
    assert n == ds.n_tokens


def test_flat_stream_is_the_documents_joined(built):
    ds = TokenDataset(built.out, "val")
    for shard in ds.shards:
        docs = [shard.document(i) for i in range(len(shard))]
        assert np.array_equal(np.concatenate(docs), shard.tokens)
        assert all(d[-1] == ds.eot_id and ds.eot_id not in d[:-1] for d in docs)
        assert int(np.count_nonzero(shard.tokens == ds.eot_id)) == len(shard)


def test_sample_windows_are_windows_of_the_flat_stream(built):
    ds = TokenDataset(built.out, "train")
    length = 32
    windows = {tuple(w) for s in ds.shards
               for w in np.lib.stride_tricks.sliding_window_view(s.tokens, length).tolist()}
    out = ds.sample_windows(np.random.default_rng(0), batch=64, length=length)
    assert out.shape == (64, length) and out.dtype == np.int64
    assert all(tuple(row) in windows for row in out.tolist())
    assert len({tuple(row) for row in out.tolist()}) > 50  # random starts, not one window repeated
    again = ds.sample_windows(np.random.default_rng(0), batch=64, length=length)
    assert np.array_equal(out, again)
    # Windows cross document boundaries (the EOT between them is part of the stream).
    assert any(ds.eot_id in row[:-1] for row in out.tolist())
    with pytest.raises(ValueError):
        ds.sample_windows(np.random.default_rng(0), batch=1, length=int(ds.sizes.max()) + 1)


def test_tokenizer_mismatch_is_refused_with_a_hint(built):
    tok = load_tokenizer(built.root / "tokenizer")
    TokenDataset(built.out, "train", tokenizer_hash=tok.content_hash)  # its own: fine
    other = train_bpe(list(built.texts.values())[:20], 300)
    with pytest.raises(ConfigError) as err:
        TokenDataset(built.out, "train", tokenizer_hash=other.content_hash)
    message = str(err.value)
    assert "HINT" in message
    assert tok.content_hash[:12] in message and other.content_hash[:12] in message
    assert "(tokenizer)" in message  # which tokenizer made them: its name (and hash); not where it lay


def _copy(built, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(built.out, tmp_path / "tokens"))


def test_a_corrupt_byte_is_caught_by_sha256_and_verify(built, tmp_path, capsys):
    out = _copy(built, tmp_path)
    ds = TokenDataset(out, "train", verify="sha256")
    shard = ds.shards[1]
    doc = shard.document(3)
    path = shard.path
    data = bytearray(path.read_bytes())
    at = data.find(doc.tobytes())
    assert at > 0
    data[at] ^= 0x01  # one bit of one token of one document
    del ds, shard, doc
    path.write_bytes(bytes(data))

    quiet = TokenDataset(out, "train")  # the size check cannot see it: the same size
    assert quiet.shards[1].document(3).tolist() != TokenDataset(built.out, "train").shards[1].document(3).tolist()
    with pytest.raises(VerifyError, match="sha256"):
        TokenDataset(out, "train", verify="sha256")
    TokenDataset(out, "val", verify="sha256")  # the other split is intact
    capsys.readouterr()
    assert main(["verify", str(out)]) == 1
    report = capsys.readouterr().out
    assert "MISMATCH" in report and "tokens-00001.arrow" in report
    assert main(["verify", str(built.out)]) == 0


def test_missing_or_resized_shard_is_caught_by_the_size_check(built, tmp_path):
    out = _copy(built, tmp_path)
    path = out / "train" / "tokens-00002.arrow"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(VerifyError, match="size"):
        TokenDataset(out, "train")
    with pytest.raises(VerifyError, match="not a readable"):  # the Arrow footer is no longer last
        TokenDataset(out, "train", verify=None)
    path.unlink()
    with pytest.raises(VerifyError, match="missing"):
        TokenDataset(out, "train")
    (out / "_manifest.json").unlink()
    with pytest.raises(VerifyError, match=r"_manifest\.json"):
        TokenDataset(out, "val")


def _fake_tokenizer(vocab_size: int) -> SimpleNamespace:
    return SimpleNamespace(content_hash="f" * 64, source="fake", vocab_size=vocab_size, eot_id=vocab_size - 1)


def test_uint32_tokens_for_vocabularies_beyond_uint16(tmp_path):
    ranks = {bytes([b]): b for b in range(256)}
    assert BpeTokenizer(ranks, [], {EOT: 256}).token_dtype == np.uint16
    assert BpeTokenizer(ranks, [], {EOT: 65535}).token_dtype == np.uint16  # ids 0..65535 fit
    assert BpeTokenizer(ranks, [], {EOT: 65536}).token_dtype == np.uint32
    flat = np.array([5, 70_000, 99_999, 1, 99_999], dtype=np.uint32)
    offsets = np.array([0, 3, 5], dtype=np.int32)
    write_shard(tmp_path / "tokens-00000.arrow", ["a", "b"], flat, offsets, _fake_tokenizer(100_000), "train")
    shard = open_shard(tmp_path / "tokens-00000.arrow")
    assert shard.tokens.dtype == np.uint32
    assert shard.document(0).tolist() == [5, 70_000, 99_999] and shard.document(1).tolist() == [1, 99_999]
    assert shard.meta["vocab_size"] == "100000" and shard.meta["eot_id"] == "99999"
    assert shard.ids.to_pylist() == ["a", "b"]


def test_empty_shard_round_trips(tmp_path):
    write_shard(tmp_path / "e.arrow", [], np.empty(0, np.uint16), np.zeros(1, np.int32), _fake_tokenizer(300), "val")
    shard = open_shard(tmp_path / "e.arrow")
    assert len(shard) == 0 and len(shard.tokens) == 0 and shard.meta["n_documents"] == "0"


def test_unreadable_or_inconsistent_shards_are_verify_errors(tmp_path):
    bad = tmp_path / "not-arrow.arrow"
    bad.write_bytes(b"this is not an Arrow file" * 10)
    with pytest.raises(VerifyError, match="not a readable"):
        open_shard(bad)

    def write(name: str, meta: dict[str, str]) -> Path:
        tokens = pa.array([[1, 2, 3]], pa.list_(pa.uint16()))
        table = pa.table({"id": ["x"], "tokens": tokens}).replace_schema_metadata(
            {f"webtext.{k}": v for k, v in meta.items()})
        with pa.OSFile(str(tmp_path / name), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return tmp_path / name

    good = {"format": FORMAT, "tokenizer_hash": "h", "vocab_size": "300", "eot_id": "299", "n_tokens": "3",
            "n_documents": "1"}
    assert open_shard(write("good.arrow", good)).document(0).tolist() == [1, 2, 3]
    with pytest.raises(VerifyError, match="format"):
        open_shard(write("future.arrow", {**good, "format": "999"}))
    with pytest.raises(VerifyError, match="metadata says"):
        open_shard(write("lying.arrow", {**good, "n_tokens": "4"}))


def test_manifest_lists_every_shard_with_rows_and_digests(built):
    manifest = json.loads((built.out / "_manifest.json").read_text())
    files = {f["path"]: f for s in manifest["shards"] for f in s["files"]}
    assert sorted(files) == [f"{split}/tokens-0000{i}.arrow" for split in ("train", "val") for i in range(3)]
    for rel, entry in files.items():
        assert entry["rows"] == len(open_shard(built.out / rel))
        assert entry["bytes"] == (built.out / rel).stat().st_size
    assert manifest["stats"]["vocab_size"] == 400 and manifest["stats"]["eot_id"] == 399
    assert manifest["config"]["tokenizer_hash"] == built.tok.content_hash
