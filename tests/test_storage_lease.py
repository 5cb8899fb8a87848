"""One writer per output folder on object storage (moto's S3 server on 127.0.0.1): a run holds the lease
object ``<out>/__lock``; a second run is refused naming the holder, an expired lease is taken over with
a warning, a run whose lease was taken over fails at its end, and the lease is never part of the dataset."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from s3_server import s3  # noqa: F401  (fixture)

from webtext import writer_lock as wl
from webtext.cli import main
from webtext.storage.sync import remote_files
from webtext.storage.uris import filesystem


@pytest.fixture(autouse=True)
def _quick(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBTEXT_STORAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(wl, "SETTLE_S", 0.0)  # no racing writer here but the one a test plants


def _docs(s3, name: str) -> str:  # noqa: F811
    """A small documents folder on s3 for a dedup run."""
    uri = s3.uri("lease-in", name)
    fs, path = filesystem(uri)
    rows = [{"id": f"d{i}", "url": f"https://example.com/{i}", "text": f"document number {i} " * 40} for i in range(6)]
    with fs.open_output_stream(f"{path}/part-00000.parquet") as f:
        pq.write_table(pa.Table.from_pylist(rows), f)
    return uri


def _lease(uri: str) -> dict | None:
    fs, path = filesystem(f"{uri}/{wl.LOCK_NAME}")
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    with fs.open_input_stream(path) as f:
        return json.loads(f.read())


def _plant(uri: str, expires: dt.datetime, host: str = "other-node", pid: int = 4242) -> dict:
    """A lease object written by a run on another node."""
    record = {"pid": pid, "host": host, "what": "dedup", "started": "2026-01-01T00:00:00+00:00",
              "token": "theirs", "expires": expires.isoformat(timespec="seconds")}
    fs, path = filesystem(f"{uri}/{wl.LOCK_NAME}")
    with fs.open_output_stream(path) as f:
        f.write(json.dumps(record).encode())
    return record


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_a_second_writer_is_refused_while_the_lease_lives(s3, capsys):  # noqa: F811
    docs, out = _docs(s3, "refused"), s3.uri("lease", "refused")
    argv = ["-q", "dedup", docs, "--out", out, "--runner", "local"]
    holder = wl.Lease(out, "dedup")  # another run (its own lease, not this process's re-entrant hold)
    holder.acquire()
    try:
        record = _lease(out)
        assert record is not None and record["token"] == holder.record["token"]
        assert _now() < dt.datetime.fromisoformat(record["expires"])
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "is being written by another run" in err and f"pid {record['pid']}" in err and out in err
        assert _lease(out) == record  # the refused run left the holder's lease alone
    finally:
        holder.release()
    assert _lease(out) is None
    assert main(argv) == 0  # once released the folder is free
    assert _lease(out) is None  # and that run removed its own lease at its end


def test_an_expired_lease_is_taken_over_with_a_warning(s3, capsys):  # noqa: F811
    docs, out = _docs(s3, "expired"), s3.uri("lease", "expired")
    _plant(out, _now() - dt.timedelta(minutes=5))
    assert main(["-q", "dedup", docs, "--out", out, "--runner", "local"]) == 0
    err = capsys.readouterr().err  # the CLI's log handler writes warnings to stderr, even with -q
    assert "taking over the expired lease" in err and "pid 4242 on other-node" in err
    assert _lease(out) is None
    assert main(["verify", out]) == 0


def test_a_live_lease_of_another_node_refuses_and_is_not_listed(s3, capsys):  # noqa: F811
    docs, out = _docs(s3, "foreign"), s3.uri("lease", "foreign")
    argv = ["-q", "dedup", docs, "--out", out, "--runner", "local"]
    assert main(argv) == 0
    planted = _plant(out, _now() + dt.timedelta(minutes=5))
    assert main(argv) == 1
    assert "pid 4242 on other-node" in capsys.readouterr().err
    assert wl.LOCK_NAME not in remote_files(out)  # the run's lease is not a file of the dataset
    assert main(["verify", out]) == 0  # nor does verify see it
    assert _lease(out) == planted


def test_renewal_moves_the_expiry_and_release_removes_the_lease(s3, monkeypatch):  # noqa: F811
    out = s3.uri("lease", "renewed")
    lease = wl.Lease(out, "train")
    lease.acquire()
    first = _lease(out)
    later = _now() + dt.timedelta(minutes=1)
    monkeypatch.setattr(wl, "_now", lambda: later)
    assert lease.renew()
    second = _lease(out)
    assert second is not None and first is not None and second["token"] == first["token"]
    assert dt.datetime.fromisoformat(second["expires"]) > dt.datetime.fromisoformat(first["expires"])
    lease.release()
    assert _lease(out) is None and lease.lost is None


def test_a_run_whose_lease_was_taken_over_fails_at_its_end(s3):  # noqa: F811
    out = s3.uri("lease", "taken")
    with pytest.raises(wl.OutputBusyError, match="took over this run's lease"), wl.writer_lock(out, "dedup"):
        planted = _plant(out, _now() + dt.timedelta(minutes=5))  # e.g. after this run stalled past its expiry
    assert _lease(out) == planted  # the other run's lease stays

    lease = wl.Lease(s3.uri("lease", "taken-renew"), "dedup")
    lease.acquire()
    _plant(lease.uri, _now() + dt.timedelta(minutes=5))
    assert not lease.renew() and lease.lost is not None and lease.lost["host"] == "other-node"
    lease.release()
    assert _lease(lease.uri) is not None  # not deleted: not ours


def test_a_writer_racing_inside_the_settle_window_wins(s3, monkeypatch):  # noqa: F811
    out = s3.uri("lease", "race")
    monkeypatch.setattr(wl, "_settle", lambda: _plant(out, _now() + dt.timedelta(minutes=5), host="racer"))
    with pytest.raises(wl.OutputBusyError, match="pid 4242 on racer"), wl.writer_lock(out, "dedup"):
        pytest.fail("ran without the lease")
    assert _lease(out)["host"] == "racer"
