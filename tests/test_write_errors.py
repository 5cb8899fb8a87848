"""A write that fails for want of space or permission names the file being written and the bytes it needed
(never an input), in every kind of writer, and leaves nothing a rerun takes as complete. The failure is
injected (monkeypatch) where the bytes meet the disk, the way the device reports it."""

from __future__ import annotations

import errno
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from webtext.cli import main
from webtext.data import ParquetStreamWriter, write_parquet
from webtext.errors import WriteError
from webtext.paths import MANIFEST, TMP_MARK, atomic_write_bytes, write_error

PYARROW_ENOSPC = "Error writing bytes to file. Detail: [errno 28] No space left on device"  # pyarrow's words


def no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def leftovers(folder):
    return sorted(p.name for p in folder.rglob(f"{TMP_MARK}*"))


def test_atomic_write_names_the_file_and_the_bytes_and_leaves_no_temporary(tmp_path, monkeypatch):
    monkeypatch.setattr("webtext.paths.os.fsync", no_space)
    target = tmp_path / "out" / "stats.json"
    with pytest.raises(WriteError, match=rf"cannot write {target}: no space left on the device \(1,234 bytes "
                                         r"needed, [\d,]+ free there\); free space and rerun") as exc:
        atomic_write_bytes(target, b"x" * 1234)
    assert exc.value.path == str(target)
    assert not target.exists() and leftovers(tmp_path) == []


def test_a_streamed_parquet_file_says_what_it_had_written_and_needed(tmp_path, monkeypatch):
    table = pa.table({"text": ["word " * 200] * 50})
    path = tmp_path / "part-00000.parquet"
    writer = ParquetStreamWriter(path, table.schema)
    writer.write(table)

    def fail(self, *_a, **_k):
        raise OSError(PYARROW_ENOSPC)  # pyarrow drops the errno: its words still say it

    monkeypatch.setattr(pq.ParquetWriter, "write_table", fail)
    with pytest.raises(WriteError, match=rf"cannot write {path}: no space left .*\([\d,]+ bytes needed"):
        writer.write(table)
    assert not path.exists() and leftovers(tmp_path) == []


def test_whole_file_writers_and_short_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(pq, "write_table", lambda *a, **k: no_space())
    with pytest.raises(WriteError, match=r"part-00001\.parquet: no space left"):
        write_parquet(tmp_path / "part-00001.parquet", pa.table({"x": [1]}))
    assert leftovers(tmp_path) == []
    short = write_error(OSError("4096 requested and 0 written"), tmp_path / "spill.bin")  # numpy's tofile
    assert isinstance(short, WriteError) and "no space left" in str(short)


def test_permission_errors_blame_the_written_folder_not_an_input(tmp_path):
    out = tmp_path / "out" / "part-00000.parquet"
    denied = write_error(PermissionError(errno.EACCES, "Permission denied", str(out.parent)), out)
    assert isinstance(denied, WriteError) and f"make {out.parent} writable" in str(denied)
    elsewhere = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "inputs" / "x.parquet"))
    assert write_error(elsewhere, out) is None  # reading an input: not a write error
    assert write_error(OSError(errno.EIO, "I/O error"), out) is None


def test_a_checkpoint_save_that_runs_out_of_space(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    import torch.distributed.checkpoint as dcp

    from webtext.train import checkpoint

    def torn(state, checkpoint_id):
        (Path(checkpoint_id) / "__0_0.distcp").write_bytes(b"half")  # a part written before the device filled
        raise RuntimeError("[enforce fail at inline_container.cc:778] . unexpected pos 704 vs 598")

    monkeypatch.setattr(dcp, "save", torn)
    state = {"model": {"w": torch.zeros(10, 10)}}
    with pytest.raises(WriteError, match=r"checkpoint step-3: cannot write .*step-3: no space left on the device "
                                         r"\(400 bytes needed.*rerun with --resume"):
        checkpoint.save(tmp_path, 3, state, {}, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no step-3, no .tmp-step-3
    assert checkpoint.checkpoint_dirs(tmp_path) == []


def _docs(folder, n=40):
    rng = random.Random(5)
    texts = [" ".join(f"w{rng.randrange(5000)}" for _ in range(80)) for _ in range(n)]
    texts[7] = texts[3]  # one exact duplicate
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": [f"d{i:03d}" for i in range(n)], "text": texts}), folder / "part-00000.parquet")
    return folder


def test_dedup_out_of_space_names_its_output_and_a_rerun_matches_an_undisturbed_run(tmp_path, monkeypatch, capsys):
    docs = _docs(tmp_path / "docs")
    argv = ["-q", "dedup", str(docs), "--runner", "local"]
    assert main([*argv, "--out", str(tmp_path / "clean")]) == 0
    real = pq.ParquetWriter.write_table
    out = tmp_path / "full"

    def full_disk(self, table, *a, **k):
        if str(out) in str(self.where) and "__" not in str(self.where):  # the main table of the last pass
            raise OSError(PYARROW_ENOSPC)
        return real(self, table, *a, **k)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk)
    capsys.readouterr()
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"cannot write {out / 'part-00000.parquet'}: no space left" in err[0]
    assert "cannot read documents" not in err[0]
    assert not (out / MANIFEST).exists() and leftovers(out) == []
    monkeypatch.setattr(pq.ParquetWriter, "write_table", real)
    assert main([*argv, "--out", str(out)]) == 0
    assert pq.read_table(out / "part-00000.parquet").equals(pq.read_table(tmp_path / "clean" / "part-00000.parquet"))
