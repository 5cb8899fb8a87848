"""The Ray runner (one shared local Ray per session) and the `ray job submit` path."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from webtext.crawl.config import UrlsConfig
from webtext.crawl.url_stage import run_urls
from webtext.demo.sample_dump import write_sample_dump
from webtext.errors import StageFailedError
from webtext.paths import STATS_DIR, side_dir
from webtext.runner import LocalRunner
from webtext.runner.ray_runner import RayRunner

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parent.parent


def _table(folder: Path):
    return pq.read_table(sorted(folder.glob("*.parquet"))).sort_by("url")


def test_ray_runner_matches_local_runner(ray_local, tmp_path):
    for i in range(3):
        write_sample_dump(tmp_path / "in" / f"RS_2017-0{i + 1}.zst", 1500, seed=i, junk_every=50)
    cfg = UrlsConfig(inputs=[str(tmp_path / "in")], buckets=3)
    runner = RayRunner(max_retries=1)
    on_ray = run_urls(cfg, tmp_path / "ray", runner)
    runner.close()  # must not shut down the session's Ray it did not start
    assert ray_local.is_initialized()
    local = run_urls(cfg, tmp_path / "local", LocalRunner())
    assert _table(tmp_path / "ray").equals(_table(tmp_path / "local"))
    assert on_ray.stats["kept_urls"] == local.stats["kept_urls"] > 0


def test_ray_runner_reports_failed_shard_and_finishes_the_others(ray_local, tmp_path):
    write_sample_dump(tmp_path / "in" / "RS_2017-01.zst", 1000, seed=1)
    full = tmp_path / "full.zst"
    write_sample_dump(full, 2000, seed=2, long_window=True)
    data = full.read_bytes()
    (tmp_path / "in" / "RS_2017-02.zst").write_bytes(data[: len(data) // 2])
    write_sample_dump(tmp_path / "in" / "RS_2017-03.xz", 1000, seed=3)
    out = tmp_path / "out"
    with pytest.raises(StageFailedError) as err:
        run_urls(UrlsConfig(inputs=[str(tmp_path / "in")], buckets=2), out, RayRunner(max_retries=0))
    assert list(err.value.failures) == [1]
    assert "ShardError" in err.value.failures[1] and "RS_2017-02.zst" in err.value.failures[1]
    assert f"byte offset {len(data) // 2}" in err.value.failures[1]
    assert sorted(p.name for p in (side_dir(out, "buckets") / STATS_DIR).iterdir()) == ["00000.json", "00002.json"]
    assert not (side_dir(out, "buckets") / "_manifest.json").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _submit(ray_bin: Path, address: str, project: Path, env: dict, runtime_env: dict, *command: str):
    """`ray job submit` as README shows it, waiting for the job: (exit code, the job's logs as streamed)."""
    done = subprocess.run(
        [str(ray_bin), "job", "submit", "--address", address, "--working-dir", ".",
         "--runtime-env-json", json.dumps(runtime_env), "--", *command],
        cwd=project, env=env, capture_output=True, text=True, timeout=400,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.slow
def test_ray_job_submit_runs_the_pipeline(tmp_path):
    """README's recipe for real: token auth, `ray job submit --working-dir . --runtime-env-json {excludes}`.
    The shipped pipelines.yaml (relative workdir) is refused, never written inside Ray's package folder;
    a copy with absolute paths writes where it says, with progress lines in the job's log."""
    bindir = str(Path(sys.executable).parent)
    ray_bin = Path(bindir) / "ray"
    if not ray_bin.exists():
        pytest.skip("the ray CLI is not installed next to this Python")
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "RAY_USAGE_STATS_ENABLED": "0",
           # Ray 2.60's job submission needs token authentication; this cluster's own token, not ~/.ray's.
           "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           # A loopback cluster: keep 127.0.0.1 when connecting (Ray would swap in this machine's address).
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    project = tmp_path / "project"
    write_sample_dump(project / "dumps" / "RS_2017-12.zst", 2000, seed=7, junk_every=100)
    shutil.copy(REPO / "pipelines.yaml", project / "pipelines.yaml")  # workdir: webtext-data (relative)
    out = tmp_path / "outputs"
    (project / "cluster.yaml").write_text(textwrap.dedent(f"""\
        workdir: {out}
        runner: {{kind: ray, max_retries: 1}}
        stages:
          urls:
            inputs: [{project / "dumps"}]
            created_before: 2018-01-01
            buckets: 2
        """))
    gcs, dash, agent = _free_port(), _free_port(), _free_port()
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", f"--dashboard-agent-listen-port={agent}",
         "--num-cpus=2", "--include-dashboard=true", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    address = f"http://127.0.0.1:{dash}"
    try:
        deadline = time.time() + 180
        while True:  # the dashboard answers once the head is up
            try:
                urllib.request.urlopen(f"{address}/api/version", timeout=5)
                break
            except urllib.error.HTTPError:
                break  # it answered (401 without the token): up
            except OSError:
                if time.time() > deadline or head.poll() is not None:
                    raise
                time.sleep(1)
        excludes = {"excludes": ["dumps/", "webtext-data/", "outputs/"]}
        rc, logs = _submit(ray_bin, address, project, env, excludes, "webtext-build", "pipelines", "run",
                           "pipelines.yaml")
        assert rc != 0, logs[-3000:]
        refusal = re.search(r"configuration error: workdir: relative path 'webtext-data' inside Ray job \S+: .*? "
                            r"\((/\S+/_ray_pkg_\w+/webtext-data)\).*s3://", logs)
        assert refusal, logs[-3000:]
        assert not Path(refusal.group(1)).exists()

        job_env = {"WEBTEXT_PROGRESS_SECONDS": "0", "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}  # README's env_vars
        rc, logs = _submit(ray_bin, address, project, env, {**excludes, "env_vars": job_env},
                           "webtext-build", "pipelines", "run", "cluster.yaml")
        assert rc == 0, logs[-3000:]
        assert "joining the Ray cluster" in logs and "urls: 2/2 shards" in logs and "Token authentication" not in logs
        assert (out / "urls" / "_manifest.json").exists()
        rows = _table(out / "urls")
        assert rows.num_rows > 0 and all(k >= 3 for k in rows.column("karma").to_pylist())
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
