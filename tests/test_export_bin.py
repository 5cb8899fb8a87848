# ruff: noqa: F811 (the fixtures imported from train_fixtures are arguments of the tests)
"""``export-bin``: llm.c's token files, read back the way llm.c's and modded-nanoGPT's loaders read them.

Peer readers (re-stated here, not imported): llm.c's ``train_gpt2.py`` ``_load_data_shard``
(``np.frombuffer`` of the 256-int32 header, asserts magic 20240520 and version 1, then the rest of
the file as ``uint16`` whose length must be the header's count) and nanoGPT's ``np.memmap`` of the
tokens (``dtype=np.uint16``, offset 1024 bytes).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from train_fixtures import tokens_dir  # noqa: F401 (fixture)

from webtext.cli import main
from webtext.data import verify_dataset
from webtext.errors import ConfigError
from webtext.tokenize.shards import TokenDataset


def llmc_load(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(256 * 4), dtype=np.int32)
        assert header[0] == 20240520, "magic number mismatch in the data .bin file"
        assert header[1] == 1, "unsupported version"
        ntok = header[2]
        tokens = np.frombuffer(f.read(), dtype=np.uint16)
    assert len(tokens) == ntok, "number of tokens read does not match header"
    assert not header[3:].any()
    return tokens


def nanogpt_memmap(path: Path) -> np.ndarray:
    return np.memmap(path, dtype=np.uint16, mode="r", offset=256 * 4)


def test_bin_files_hold_each_split_stream_in_order(tokens_dir, tmp_path):
    out = tmp_path / "bin"
    assert main(["-q", "export-bin", str(tokens_dir), "--out", str(out), "--shard-tokens", "70000"]) == 0
    for split in ("train", "val"):
        want = np.concatenate([s.tokens for s in TokenDataset(tokens_dir, split).shards])
        files = sorted(out.glob(f"webtext_{split}_*.bin"))
        assert [f.name for f in files] == [f"webtext_{split}_{i:06d}.bin" for i in range(-(-len(want) // 70000))]
        got = [llmc_load(f) for f in files]
        assert all(len(g) == 70000 for g in got[:-1]) and 0 < len(got[-1]) <= 70000
        assert np.array_equal(np.concatenate(got), want)
        assert np.array_equal(np.concatenate([nanogpt_memmap(f) for f in files]), want)
        for f in files:
            assert stat.S_IMODE(f.stat().st_mode) == 0o644
            assert f.stat().st_size == 1024 + 2 * len(llmc_load(f))
    eot = TokenDataset(tokens_dir, "val").eot_id
    assert llmc_load(out / "webtext_val_000000.bin")[-1] == eot  # every document ends with <|endoftext|>
    assert verify_dataset(out)[1] == []
    stats = json.loads((out / "_manifest.json").read_text())["stats"]
    assert stats["tokens_train"] + stats["tokens_val"] == sum(
        TokenDataset(tokens_dir, s).n_tokens for s in ("train", "val"))


def test_rerun_skips_and_other_settings_replace_every_file(tokens_dir, tmp_path):
    out = tmp_path / "bin"
    assert main(["-q", "export-bin", str(tokens_dir), "--out", str(out), "--shard-tokens", "50000"]) == 0
    first = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["-q", "export-bin", str(tokens_dir), "--out", str(out), "--shard-tokens", "50000"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == first
    assert main(["-q", "export-bin", str(tokens_dir), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.bin")) == ["webtext_train_000000.bin", "webtext_val_000000.bin"]
    assert verify_dataset(out)[1] == []


def test_bad_input_is_one_clear_error(tokens_dir, tmp_path):
    from webtext.tokenize.export_bin import export_bin

    with pytest.raises(ConfigError, match=r"no _manifest\.json"):
        export_bin(tmp_path, tmp_path / "bin")
    with pytest.raises(ConfigError, match="int32"):
        export_bin(tokens_dir, tmp_path / "bin", shard_tokens=2**31)
    with pytest.raises(ConfigError, match="plain file-name prefix"):
        export_bin(tokens_dir, tmp_path / "bin", name="../x")
