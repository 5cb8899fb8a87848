"""Token shards are checked by sha256 before a run first uses them (and remembered per run), and
``metrics.jsonl`` readers survive the torn last line a power loss leaves."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from train_fixtures import tokens_dir  # noqa: F401 (fixture)

from webtext.cli import main
from webtext.errors import InputError
from webtext.tokenize.shard_digests import MEMO, verify_token_shards
from webtext.train.metrics_log import read_metrics, truncate_metrics


def flip_one_byte(tokens: Path, split: str = "train") -> Path:
    """A same-size change in the middle of the first shard of ``split`` (a token id, not the footer)."""
    shard = sorted((tokens / split).glob("*.arrow"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    return shard


@pytest.fixture
def tokens_copy(tokens_dir, tmp_path):  # noqa: F811 (the fixture above)
    return Path(shutil.copytree(tokens_dir, tmp_path / "tokens"))


def test_a_run_hashes_each_shard_once_and_again_only_when_it_changed(tokens_copy, tmp_path):
    run = tmp_path / "run"
    shards = sorted((tokens_copy / "train").glob("*.arrow"))
    assert verify_token_shards(tokens_copy, "train", run) == len(shards)
    memo = json.loads((run / MEMO).read_text())["shards"]
    assert sorted(memo) == [str(s.resolve()) for s in shards]
    assert verify_token_shards(tokens_copy, "train", run) == 0  # the resume: nothing hashed again
    assert verify_token_shards(tokens_copy, "val", run) >= 1  # the other split is its own
    changed = flip_one_byte(tokens_copy)
    with pytest.raises(InputError, match=rf"{changed.name} has sha256 .* its manifest says .* rerun `webtext-build "
                                         "tokenize`") as exc:
        verify_token_shards(tokens_copy, "train", run)
    assert exc.value.path == str(changed)
    assert verify_token_shards(tokens_copy, "val", run) == 0  # still remembered, still unchanged


def test_train_refuses_a_same_size_corrupt_shard_before_it_starts(tokens_copy, tmp_path, capsys):
    changed = flip_one_byte(tokens_copy)
    out = tmp_path / "run"
    assert main(["-q", "train", "--data", str(tokens_copy), "--preset", "tiny", "--batch-size", "8", "--seq-len",
                 "64", "--max-steps", "1", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(changed) in err[0] and "rerun `webtext-build tokenize`" in err[0]
    assert not list(out.glob("step-*"))


def test_eval_loss_reads_a_split_only_after_checking_it(tokens_copy):
    from webtext.train.export import split_stream

    stream, _ = split_stream(tokens_copy, "val")
    changed = flip_one_byte(tokens_copy, "val")
    with pytest.raises(InputError, match=changed.name):
        split_stream(tokens_copy, "val")  # eval-loss's reader: the loss would change silently otherwise
    assert len(stream)


def test_a_torn_last_line_is_cut_and_logged(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 5.0 - s} for s in range(1, 4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 4, "lo')
    with caplog.at_level(logging.WARNING, logger="webtext"):
        assert read_metrics(path) == rows
    assert any("torn last line 4" in r.getMessage() for r in caplog.records)
    truncate_metrics(path, 2)  # the resume from step 2: rows past it and the torn line are gone
    assert path.read_text() == "".join(json.dumps(r) + "\n" for r in rows[:2])
    path.write_text('{"step": 1}\n{"step": 2, "lo\n{"step": 3}\n')  # not torn: damaged in the middle
    with pytest.raises(InputError, match="line 2 is not a JSON object"):
        read_metrics(path)
    assert read_metrics(tmp_path / "none.jsonl") == []
