"""Relative paths inside a Ray job are refused (never resolved inside Ray's package folder); outside a job
they resolve as before. The job is simulated: the variable Ray's job supervisor sets, or the cwd."""

from __future__ import annotations

import json

import pytest

from webtext.cli import main
from webtext.errors import ConfigError
from webtext.jobenv import JOB_CONFIG_ENV, is_relative_path, ray_job, refuse_relative
from webtext.pipeline import load_pipeline


@pytest.fixture
def in_job(monkeypatch):
    monkeypatch.setenv(JOB_CONFIG_ENV, json.dumps({"metadata": {"job_submission_id": "raysubmit_X"}}))


def _yaml(tmp_path, workdir: str, inputs: str, out: str | None = None):
    (tmp_path / "dumps").mkdir(exist_ok=True)
    stage = {"inputs": [inputs], **({"out": out} if out else {})}
    path = tmp_path / "pipelines.yaml"
    path.write_text(json.dumps({"workdir": workdir, "stages": {"urls": stage}}))  # JSON is YAML
    return path


def test_relative_workdir_refused_inside_a_job(in_job, tmp_path):
    with pytest.raises(ConfigError) as err:
        load_pipeline(_yaml(tmp_path, "webtext-data", str(tmp_path / "dumps")))
    assert err.value.key == "workdir"
    text = str(err.value)
    assert "raysubmit_X" in text and "absolute path" in text and "s3://" in text and "\n" not in text


def test_relative_input_and_out_refused_inside_a_job(in_job, tmp_path):
    with pytest.raises(ConfigError) as err:
        load_pipeline(_yaml(tmp_path, str(tmp_path / "w"), "dumps"))
    assert err.value.key == "stages.urls.inputs[0]"
    with pytest.raises(ConfigError) as err:
        load_pipeline(_yaml(tmp_path, str(tmp_path / "w"), str(tmp_path / "dumps"), out="urls-out"))
    assert err.value.key == "stages.urls.out"


def test_absolute_paths_and_uris_accepted_inside_a_job(in_job, tmp_path):
    pipeline = load_pipeline(_yaml(tmp_path, str(tmp_path / "w"), str(tmp_path / "dumps")))
    assert pipeline.outs["urls"] == tmp_path / "w" / "urls"
    assert pipeline.stages["urls"].inputs == [str(tmp_path / "dumps")]
    refuse_relative("workdir", "s3://bucket/webtext")  # a URI is never relative
    assert not is_relative_path("gs://b/x") and not is_relative_path("/abs") and is_relative_path("a/b")


def test_relative_paths_resolve_against_the_yaml_outside_a_job(monkeypatch, tmp_path):
    monkeypatch.delenv(JOB_CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    pipeline = load_pipeline(_yaml(tmp_path, "webtext-data", "dumps"))
    assert pipeline.outs["urls"] == tmp_path.resolve() / "webtext-data" / "urls"
    assert pipeline.stages["urls"].inputs == [str(tmp_path.resolve() / "dumps")]


def test_job_detected_from_the_working_dir_copy(monkeypatch, tmp_path):
    monkeypatch.delenv(JOB_CONFIG_ENV, raising=False)
    package = tmp_path / "runtime_resources" / "working_dir_files" / "_ray_pkg_0123abcd"
    (package / "sub").mkdir(parents=True)
    monkeypatch.chdir(package / "sub")
    assert "_ray_pkg_0123abcd" in (ray_job() or "")
    with pytest.raises(ConfigError, match="Ray's temporary copy"):
        refuse_relative("workdir", "out")
    monkeypatch.chdir(tmp_path)
    assert ray_job() is None


def test_cli_refuses_a_relative_out_inside_a_job(in_job, tmp_path, capsys):
    (tmp_path / "dumps").mkdir()
    assert main(["urls", str(tmp_path / "dumps"), "--out", "urls-out", "--runner", "local"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("webtext-build: configuration error: --out: relative path 'urls-out'") and "\n" not in err
    assert main(["urls", "dumps", "--out", str(tmp_path / "o"), "--runner", "local"]) == 2
    assert "relative path 'dumps'" in capsys.readouterr().err
