"""Object storage on a real S3 API (moto's server on 127.0.0.1): the chain urls -> dedup -> contamination
-> decontaminate -> tokenize -> two training steps with every input and output on ``s3://`` gives the
same rows and the same sha256 of every part file as on local paths, and ``verify`` passes on each URI; a
rerun skips, a remote folder without its manifest is never taken as complete, and each bad input
(unreachable endpoint, missing bucket, missing credentials, no permission) is a one-line error naming
the URI and the fix. The writer's lease on object storage: ``test_storage_lease.py``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from realdata import shared_data
from s3_server import BUCKET, auth_s3, s3  # noqa: F401  (fixtures)

from webtext.cli import main
from webtext.paths import CHECKPOINT_RECORD, MANIFEST
from webtext.storage.uris import filesystem
from webtext.writer_lock import LOCK_NAME


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBTEXT_STORAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("webtext.writer_lock.SETTLE_S", 0.0)  # one writer per folder here: no race to wait out


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


def _without(manifest: dict, path: str) -> dict:
    """``manifest`` without the file ``path`` in its shards' lists."""
    return {**manifest, "shards": [{**s, "files": [f for f in s["files"] if f["path"] != path]}
                                   for s in manifest["shards"]]}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Tiny Shakespeare as ~3000-character docs (with planted exact copies), in two Parquet files."""
    root = tmp_path_factory.mktemp("storage-inputs")
    text = (shared_data("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")[:200_000]
    docs = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    docs += docs[:5]  # exact duplicates dedup must drop
    rows = [{"id": f"d{i:04d}", "url": f"https://example.com/{i}", "text": t} for i, t in enumerate(docs)]
    _write_docs(rows, root / "docs")
    return root


def _write_docs(rows: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True)
    half = len(rows) // 2
    for k, part in enumerate((rows[:half], rows[half:])):
        pq.write_table(pa.Table.from_pylist(part), folder / f"part-{k:05d}.parquet")


STAGES = ("urls", "dedup", "contamination", "contamination-bloom", "clean", "tokens")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """What a user brings: two synthetic Pushshift dumps, a subreddit blocklist, a benchmark test set
    (lines of Tiny Shakespeare, which the documents quote, and lines no document has) and GPT-2's BPE."""
    from webtext.demo.sample_dump import write_sample_dump

    root = tmp_path_factory.mktemp("storage-sources")
    write_sample_dump(root / "dumps" / "RS_2017-01.zst", 800, seed=3, junk_every=40)
    write_sample_dump(root / "dumps" / "RS_2017-02.bz2", 300, seed=4)
    (root / "subreddits.txt").write_text("politics\n")
    lines = [line for line in _shakespeare().splitlines() if len(line.split()) >= 10][:12]
    lines += [f"an invented test sentence number {i} that no document in the corpus ever holds" for i in range(8)]
    (root / "quiz.txt").write_text("\n".join(lines) + "\n")
    shutil.copytree(shared_data("gpt2-bpe"), root / "gpt2-bpe")
    return root


def _shakespeare() -> str:
    return (shared_data("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")[:150_000]


def _listed_rows(folder: str) -> list[dict]:
    """The rows of every part file a dataset's manifest lists (``folder`` a path or a URI)."""
    if "://" in folder:
        fs, root = filesystem(folder)
        manifest = json.loads(_read(f"{folder}/{MANIFEST}"))
        paths = [f"{root}/{f['path']}" for s in manifest["shards"] for f in s["files"]]
    else:
        fs, manifest = None, json.loads((Path(folder) / MANIFEST).read_text())
        paths = [f"{folder}/{f['path']}" for s in manifest["shards"] for f in s["files"]]
    return [r for p in sorted(paths) if p.endswith(".parquet") for r in pq.read_table(p, filesystem=fs).to_pylist()]


def _chain(src: str, work: str, scratch: Path) -> None:
    """urls -> documents -> dedup -> contamination (twice: building the Bloom filter, then from the saved
    one) -> decontaminate -> tokenize -> 2 training steps, every path under ``src`` and ``work``.

    crawl and extract are not in the chain: a crawl's WARC records carry their fetch times, so two
    crawls never give the same bytes. The documents stand in for extract's output: one per kept URL
    of the urls stage (read back from ``work``), its text a piece of Tiny Shakespeare."""
    from train_fixtures import COMMON

    run = ["--runner", "local"]
    assert main(["-q", "urls", f"{src}/dumps/RS_2017-*", "--subreddit-blocklist", f"{src}/subreddits.txt",
                 "--buckets", "2", "--out", f"{work}/urls", *run]) == 0
    urls = sorted(r["url"] for r in _listed_rows(f"{work}/urls"))
    text = _shakespeare()
    texts = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    docs = [{"id": f"d{i:04d}", "url": url, "text": texts[i % len(texts)]} for i, url in enumerate(urls)]
    assert len(docs) > len(texts)  # some texts twice: the copies dedup drops
    _write_docs(docs, scratch / "docs")
    if "://" in work:
        _upload(scratch / "docs", f"{work}/docs")
    else:
        shutil.copytree(scratch / "docs", f"{work}/docs")
    assert main(["-q", "dedup", f"{work}/docs", "--out", f"{work}/dedup", *run]) == 0
    quiz = ["--benchmark", f"quiz=lines:{src}/quiz.txt", "--random-check", "1000"]
    assert main(["-q", "contamination", f"{work}/dedup", *quiz, "--out", f"{work}/contamination", *run]) == 0
    assert main(["-q", "contamination", f"{work}/dedup", *quiz, "--bloom", f"{work}/contamination/corpus.bloom",
                 "--out", f"{work}/contamination-bloom", *run]) == 0
    assert main(["-q", "decontaminate", f"{work}/dedup", "--report", f"{work}/contamination",
                 "--out", f"{work}/clean", *run]) == 0
    assert main(["-q", "tokenize", f"{work}/clean", "--tokenizer", f"{src}/gpt2-bpe", "--val-fraction", "0.1",
                 "--out", f"{work}/tokens", *run]) == 0
    assert main(["-q", "train", "--data", f"{work}/tokens", *COMMON, "--max-steps", "2", "--checkpoint-every", "2",
                 "--out", f"{work}/run"]) == 0


@pytest.mark.slow
def test_urls_to_training_on_s3_matches_local_paths(sources, s3, tmp_path):  # noqa: F811
    """Every input and output on s3://: the same rows and sha256 of every file as on local paths."""
    pytest.importorskip("torch")
    local = tmp_path / "local"
    local.mkdir()
    _chain(str(sources), str(local), tmp_path / "scratch-local")
    _upload(sources, s3.uri("src"))
    work = s3.uri("work")
    _chain(s3.uri("src"), work, tmp_path / "scratch-s3")

    for stage in STAGES:
        mine = json.loads((local / stage / MANIFEST).read_text())
        theirs = json.loads(_read(f"{work}/{stage}/{MANIFEST}"))
        if stage == "contamination-bloom":
            # its report.json names the saved filter as this run read it (a local path; from s3, the node-local
            # copy): compared without that one entry
            mine, theirs = _without(mine, "report.json"), _without(theirs, "report.json")
            reports = [json.loads((local / stage / "report.json").read_text()),
                       json.loads(_read(f"{work}/{stage}/report.json"))]
            for report in reports:
                del report["bloom"]["file"]
            assert reports[0] == reports[1]
        assert mine["shards"] and _digests(theirs) == _digests(mine), stage
        for path in _digests(theirs):  # every listed object is there, whole
            assert _exists(f"{work}/{stage}/{path}"), (stage, path)
        assert main(["verify", f"{work}/{stage}"]) == 0, stage
    assert _listed_rows(f"{work}/tokens") == _listed_rows(str(local / "tokens"))
    report = json.loads(_read(f"{work}/contamination/report.json"))
    assert report == json.loads((local / "contamination" / "report.json").read_text())

    losses = [json.loads(line)["loss"] for line in (local / "run" / "metrics.jsonl").read_text().splitlines()]
    remote = [json.loads(line)["loss"] for line in _read(f"{work}/run/metrics.jsonl").decode().splitlines()]
    assert losses == remote and len(losses) == 2
    record = f"step-2/{CHECKPOINT_RECORD}"
    tensors = [{k: v for k, v in files.items() if k != ".metadata"}  # torch's .metadata holds a random save id
               for files in (json.loads(_read(f"{work}/run/{record}"))["files"],
                             json.loads((local / "run" / record).read_text())["files"])]
    assert tensors[0] and tensors[0] == tensors[1]
    assert main(["verify", f"{work}/run"]) == 0
    fs, root = filesystem(work)
    objects = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    assert objects and not [i.path for i in objects if i.base_name == LOCK_NAME]  # each run removed its lease


def test_rerun_skips_and_a_folder_without_its_manifest_is_redone(inputs, s3):  # noqa: F811
    _upload(inputs / "docs", s3.uri("rerun-in", "docs"))
    docs, out = s3.uri("rerun-in", "docs"), s3.uri("rerun", "dedup")
    argv = ["-q", "dedup", docs, "--out", out, "--runner", "local"]
    assert main(argv) == 0
    before = _read(f"{out}/{MANIFEST}")
    assert main(argv) == 0
    assert _read(f"{out}/{MANIFEST}") == before
    fs, path = filesystem(f"{out}/{MANIFEST}")
    fs.delete_file(path)  # an upload interrupted before its last object
    assert main(["verify", out]) == 1
    assert main(argv) == 0
    assert _digests(json.loads(_read(f"{out}/{MANIFEST}"))) == _digests(json.loads(before))


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


def test_saved_filter_inside_the_remote_out_it_would_replace_is_refused(inputs, s3, capsys):  # noqa: F811
    out = s3.uri("report")
    _upload(inputs / "docs", s3.uri("docs"))
    fs, path = filesystem(f"{out}/corpus.bloom")
    with fs.open_output_stream(path) as f:
        f.write(b"a filter the run would delete")
    quiz = inputs / "quiz.txt"
    quiz.write_text("to be or not to be that is the question whether tis nobler in the mind\n")
    _one_line_error(capsys, ["-q", "contamination", s3.uri("docs"), "--benchmark", f"quiz=lines:{quiz}",
                             "--bloom", f"{out}/corpus.bloom", "--out", out, "--runner", "local"],
                    f"{out}/corpus.bloom", "copy it elsewhere first")
    assert _read(f"{out}/corpus.bloom") == b"a filter the run would delete"
