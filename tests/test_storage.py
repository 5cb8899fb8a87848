"""Object storage on a real S3 API (moto's server on 127.0.0.1): dedup -> tokenize with every input and
output on ``s3://`` gives the same rows and the same sha256 of every part file as on local paths; a
rerun skips, a remote folder without its manifest is never taken as complete, and each bad input
(unreachable endpoint, missing bucket, missing credentials, no permission) is a one-line error
naming the URI and the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from realdata import shared_data
from s3_server import BUCKET, auth_s3, s3  # noqa: F401  (fixtures)

from webtext.cli import main
from webtext.paths import MANIFEST
from webtext.storage.uris import filesystem


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBTEXT_STORAGE_CACHE", str(tmp_path / "cache"))


def _upload(local: Path, uri: str) -> None:
    fs, path = filesystem(uri)
    pafs.copy_files(str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


def _read(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as f:
        return f.read()


def _exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _digests(manifest: dict) -> dict[str, tuple[int, str, int | None]]:
    return {f["path"]: (f["bytes"], f["sha256"], f.get("rows")) for s in manifest["shards"] for f in s["files"]}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Tiny Shakespeare as ~3000-character docs (with planted exact copies) and a 400-token BPE."""
    from webtext.tokenize.bpe import train_bpe

    root = tmp_path_factory.mktemp("storage-inputs")
    text = (shared_data("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")[:200_000]
    docs = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    docs += docs[:5]  # exact duplicates dedup must drop
    rows = [{"id": f"d{i:04d}", "url": f"https://example.com/{i}", "text": t} for i, t in enumerate(docs)]
    (root / "docs").mkdir()
    half = len(rows) // 2
    for k, part in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.Table.from_pylist(part), root / "docs" / f"part-{k:05d}.parquet")
    train_bpe(docs, 400).save(root / "tokenizer")
    return root


def _pipeline(docs: str, tokenizer: str, work: str) -> int:
    rc = main(["-q", "dedup", docs, "--out", f"{work}/dedup", "--runner", "local"])
    if rc:
        return rc
    return main(["-q", "tokenize", f"{work}/dedup", "--tokenizer", tokenizer, "--out", f"{work}/tokens",
                 "--val-fraction", "0.1", "--runner", "local"])


def test_pipeline_on_s3_matches_local_paths(inputs, s3, tmp_path):  # noqa: F811
    assert _pipeline(str(inputs / "docs"), str(inputs / "tokenizer"), str(tmp_path / "local")) == 0
    _upload(inputs / "docs", s3.uri("in", "docs"))
    _upload(inputs / "tokenizer", s3.uri("in", "tokenizer"))
    work = s3.uri("work")
    assert _pipeline(s3.uri("in", "docs"), s3.uri("in", "tokenizer"), work) == 0
    for stage, parts in (("dedup", [""]), ("tokens", [""])):  # tokens lists train/ and val/ files itself
        for part in parts:
            rel = f"{stage}/{part}".rstrip("/")
            local = json.loads((tmp_path / "local" / rel / MANIFEST).read_text())
            remote = json.loads(_read(f"{work}/{rel}/{MANIFEST}"))
            assert local["shards"] and _digests(remote) == _digests(local), rel
            for path in _digests(remote):  # every listed object is there, whole
                assert _exists(f"{work}/{rel}/{path}")
    assert main(["verify", f"{work}/dedup"]) == 0

    # a rerun finds the remote manifest and skips; without it the folder is incomplete and is redone
    before = _read(f"{work}/dedup/{MANIFEST}")
    assert main(["-q", "dedup", s3.uri("in", "docs"), "--out", f"{work}/dedup", "--runner", "local"]) == 0
    assert _read(f"{work}/dedup/{MANIFEST}") == before
    fs, path = filesystem(f"{work}/dedup/{MANIFEST}")
    fs.delete_file(path)  # an upload interrupted before its last object
    assert main(["verify", f"{work}/dedup"]) == 1
    assert main(["-q", "dedup", s3.uri("in", "docs"), "--out", f"{work}/dedup", "--runner", "local"]) == 0
    assert _digests(json.loads(_read(f"{work}/dedup/{MANIFEST}"))) == _digests(json.loads(before))


def _one_line_error(capsys, argv: list[str], uri: str, fix: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert uri in err and fix in err, err
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    assert not secret or secret not in err.replace(BUCKET, "")  # no secret shown (the dummy one is in the bucket name)


def test_missing_bucket(inputs, s3, capsys):  # noqa: F811
    uri = "s3://no-such-bucket-here/out"
    _one_line_error(capsys, ["-q", "dedup", str(inputs / "docs"), "--out", uri, "--runner", "local"],
                    uri, "create it or fix the bucket name")
    _one_line_error(capsys, ["-q", "dedup", f"{uri}/docs", "--out", s3.uri("x"), "--runner", "local"],
                    "s3://no-such-bucket-here", "create it or fix the bucket name")


def test_unreachable_endpoint(inputs, s3, capsys, monkeypatch):  # noqa: F811
    from s3_server import _free_port

    endpoint = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    uri = s3.uri("unreachable")
    _one_line_error(capsys, ["-q", "dedup", str(inputs / "docs"), "--out", uri, "--runner", "local"],
                    uri, f"cannot reach endpoint {endpoint}")


def test_no_permission_and_missing_credentials(inputs, auth_s3, capsys, monkeypatch):  # noqa: F811
    server, creds = auth_s3
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for k, v in creds.items():
        monkeypatch.setenv(k, v)
    uri = server.uri("denied")
    argv = ["-q", "dedup", str(inputs / "docs"), "--out", uri, "--runner", "local"]
    _one_line_error(capsys, argv, uri, "access denied; grant these credentials")
    assert creds["AWS_SECRET_ACCESS_KEY"] not in capsys.readouterr().err
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    _one_line_error(capsys, argv, uri, "no credentials found; set AWS_ACCESS_KEY_ID")


def test_train_steps_on_s3_match_local_paths(inputs, s3, tmp_path):  # noqa: F811
    """Two training steps from s3:// tokens into an s3:// run: the same losses and checkpoint files."""
    pytest.importorskip("torch")
    from train_fixtures import COMMON

    local_tokens = tmp_path / "tokens"
    assert main(["-q", "tokenize", str(inputs / "docs"), "--tokenizer", str(inputs / "tokenizer"), "--out",
                 str(local_tokens), "--val-fraction", "0.1", "--runner", "local"]) == 0
    _upload(local_tokens, s3.uri("train-in", "tokens"))
    argv = ["-q", "train", *COMMON, "--max-steps", "2", "--checkpoint-every", "2"]
    assert main([*argv, "--data", str(local_tokens), "--out", str(tmp_path / "run")]) == 0
    assert main([*argv, "--data", s3.uri("train-in", "tokens"), "--out", s3.uri("run")]) == 0
    local = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    remote = [json.loads(line)["loss"] for line in _read(s3.uri("run", "metrics.jsonl")).decode().splitlines()]
    assert local == remote and len(local) == 2
    assert _exists(s3.uri("run", MANIFEST)) and _exists(s3.uri("run", "step-2"))
    assert main(["verify", s3.uri("run")]) == 0
