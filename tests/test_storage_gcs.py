"""``gs://`` on a real GCS JSON API (gcp-storage-emulator on 127.0.0.1, reached the way a user reaches an
emulator: ``STORAGE_EMULATOR_HOST``): dedup -> tokenize with inputs and outputs on ``gs://`` gives the sha256
of every part file that local paths give and ``verify`` passes; a rerun skips; a missing bucket, an
unreachable emulator and missing or unloadable credentials are one-line errors naming the URI; a second writer is
refused by the lease. The same code on S3, in full: ``test_storage.py`` and ``test_storage_lease.py``."""

from __future__ import annotations

import json
import shutil

from gcs_server import gcs  # noqa: F401  (fixture)
from realdata import shared_data
from test_storage import _cache, _digests, _one_line_error, _read, _upload, inputs  # noqa: F401  (fixtures)
from test_storage_lease import _docs, _lease

from webtext import writer_lock as wl
from webtext.cli import main
from webtext.paths import MANIFEST
from webtext.storage import uris
from webtext.storage.uris import filesystem


def _tokenizer(tmp_path):
    folder = tmp_path / "gpt2-bpe"
    shutil.copytree(shared_data("gpt2-bpe"), folder)
    return folder


def test_dedup_and_tokenize_on_gs_match_local_paths_and_rerun_skips(inputs, gcs, tmp_path):  # noqa: F811
    import pyarrow.fs as pafs

    tokenizer = _tokenizer(tmp_path)
    run = ["--runner", "local"]
    local = tmp_path / "local"
    assert main(["-q", "dedup", str(inputs / "docs"), "--out", str(local / "dedup"), *run]) == 0
    assert main(["-q", "tokenize", str(local / "dedup"), "--tokenizer", str(tokenizer), "--val-fraction", "0.1",
                 "--out", str(local / "tokens"), *run]) == 0

    _upload(inputs / "docs", gcs.uri("in", "docs"))
    _upload(tokenizer, gcs.uri("in", "gpt2-bpe"))
    work = gcs.uri("work")
    dedup = ["-q", "dedup", gcs.uri("in", "docs"), "--out", f"{work}/dedup", *run]
    assert main(dedup) == 0
    assert main(["-q", "tokenize", f"{work}/dedup", "--tokenizer", gcs.uri("in", "gpt2-bpe"), "--val-fraction",
                 "0.1", "--out", f"{work}/tokens", *run]) == 0
    for stage in ("dedup", "tokens"):
        mine = json.loads((local / stage / MANIFEST).read_text())
        theirs = json.loads(_read(f"{work}/{stage}/{MANIFEST}"))
        assert mine["shards"] and _digests(theirs) == _digests(mine), stage
        assert main(["verify", f"{work}/{stage}"]) == 0, stage

    before = _read(f"{work}/dedup/{MANIFEST}")
    assert main(dedup) == 0
    assert _read(f"{work}/dedup/{MANIFEST}") == before  # skipped: not one object rewritten, the manifest included
    fs, root = filesystem(work)
    objects = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    assert objects and not [i.path for i in objects if i.base_name == wl.LOCK_NAME]  # each run removed its lease


def test_missing_bucket(inputs, gcs, capsys):  # noqa: F811
    uri = "gs://no-such-bucket-here/out"
    _one_line_error(capsys, ["-q", "dedup", str(inputs / "docs"), "--out", uri, "--runner", "local"],
                    uri, "create it or fix the bucket name")
    _one_line_error(capsys, ["-q", "dedup", f"{uri}/docs", "--out", gcs.uri("x"), "--runner", "local"],
                    "gs://no-such-bucket-here", "create it or fix the bucket name")


def test_unreachable_emulator(inputs, gcs, capsys, monkeypatch):  # noqa: F811
    from s3_server import _free_port

    monkeypatch.setattr(uris, "GCS_RETRY_S", 1.0)  # a connection refused is retried as transient until then
    endpoint = f"127.0.0.1:{_free_port()}"  # nothing listens there; host:port, the other form the variable takes
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    uri = gcs.uri("unreachable")
    _one_line_error(capsys, ["-q", "dedup", str(inputs / "docs"), "--out", uri, "--runner", "local"],
                    uri, f"cannot reach endpoint {endpoint}; check STORAGE_EMULATOR_HOST")


def test_credentials_that_cannot_be_loaded_or_found(inputs, capsys, monkeypatch, tmp_path):  # noqa: F811
    """No emulator, so Google's default chain: a GOOGLE_APPLICATION_CREDENTIALS key file that is not there
    (pyarrow raises this one as an ArrowException, not an OSError); then no key file, no gcloud login and no
    metadata server (google-cloud-cpp's GCE_METADATA_ROOT sent to a port where nothing listens, so no request
    leaves the machine), which fails as a connection error and is still said as missing credentials."""
    from s3_server import _free_port

    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(uris, "GCS_RETRY_S", 1.0)
    uri = "gs://webtext-test/denied"
    argv = ["-q", "dedup", str(inputs / "docs"), "--out", uri, "--runner", "local"]
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-key.json"))
    _one_line_error(capsys, argv, uri, "no usable credentials; set GOOGLE_APPLICATION_CREDENTIALS")

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/gcloud/application_default_credentials.json
    monkeypatch.delenv("CLOUDSDK_CONFIG", raising=False)
    monkeypatch.setenv("GCE_METADATA_ROOT", f"127.0.0.1:{_free_port()}")
    _one_line_error(capsys, argv, uri, "no usable credentials; set GOOGLE_APPLICATION_CREDENTIALS")


def test_a_second_writer_is_refused_while_the_lease_lives(gcs, capsys):  # noqa: F811
    docs, out = _docs(gcs, "refused"), gcs.uri("lease", "refused")
    argv = ["-q", "dedup", docs, "--out", out, "--runner", "local"]
    holder = wl.Lease(out, "dedup")  # another run's lease, not this process's re-entrant hold
    holder.acquire()
    try:
        record = _lease(out)
        assert record is not None and record["token"] == holder.record["token"]
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "is being written by another run" in err and f"pid {record['pid']}" in err and out in err
        assert _lease(out) == record  # the refused run left the holder's lease alone
    finally:
        holder.release()
    assert _lease(out) is None
    assert main(argv) == 0
    assert _lease(out) is None and main(["verify", out]) == 0
