"""Typed configs: the same names in CLI flags and pipelines.yaml; errors name the key."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from realdata import REPO

from webtext.cli import main
from webtext.config import RunnerConfig, from_mapping
from webtext.crawl.config import UrlsConfig
from webtext.errors import ConfigError
from webtext.pipeline import check_static_inputs, load_pipeline, run_pipeline
from webtext.runner import LocalRunner


def _pipeline(tmp_path, body: str):
    (tmp_path / "dumps").mkdir(exist_ok=True)
    (tmp_path / "dumps" / "RS_2005-06.jsonl").write_text(
        '{"id": "a", "url": "http://a.example/", "score": 4, "created_utc": 1120000000}\n'
    )
    path = tmp_path / "pipelines.yaml"
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize(
    ("body", "key", "message"),
    [
        ("stages:\n  urls:\n    inputs: [dumps]\n    min_karm: 3\n", "stages.urls.min_karm", "unknown key"),
        ("stages:\n  urls:\n    inputs: [dumps]\n    min_karma: three\n", "stages.urls.min_karma", "integer"),
        ("stages:\n  urls:\n    inputs: [dumps]\n    karma_mode: mean\n", "stages.urls.karma_mode", "'max'"),
        ("stages:\n  urls:\n    inputs: [dumps]\n    keep_nsfw: 1\n", "stages.urls.keep_nsfw", "true or false"),
        ("stages:\n  urls:\n    inputs: [nowhere/RS_2005-06.zst]\n", "stages.urls.inputs[0]", "not found"),
        ("stages:\n  urls:\n    min_karma: 3\n", "stages.urls.inputs", "missing"),
        ("stages:\n  urls:\n    inputs: [dumps]\n    created_before: soon\n", "stages.urls.created_before",
         "date"),
        ("stages:\n  tokenise: {}\n", "stages.tokenise", "unknown stage"),
        ("runner:\n  kind: spark\nstages:\n  urls:\n    inputs: [dumps]\n", "runner.kind", "'ray'"),
        ("runner:\n  max_retries: -1\nstages:\n  urls:\n    inputs: [dumps]\n", "runner.max_retries", ">= 0"),
        ("workdir: out\nstage:\n  urls: {}\n", "stage", "unknown key"),
    ],
)
def test_errors_name_the_yaml_key(tmp_path, body, key, message):
    path = _pipeline(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        check_static_inputs(load_pipeline(path))  # what `pipelines run` does before the first stage
    assert err.value.key == key
    assert message in str(err.value)


def test_pipeline_runs_declared_stages_relative_to_its_file(tmp_path, capsys):
    path = _pipeline(tmp_path, """\
        workdir: work
        runner: {kind: local}
        stages:
          urls:
            inputs: [dumps]
            created_before: 2018-01-01
        """)
    pipeline = load_pipeline(path)
    assert pipeline.outs["urls"] == tmp_path / "work" / "urls"
    assert pipeline.stages["urls"].inputs == [str(tmp_path / "dumps")]
    results = run_pipeline(pipeline, LocalRunner())
    assert results["urls"].stats["kept_urls"] == 1
    assert main(["pipelines", "run", str(path), "--stages", "urls", "--runner", "local"]) == 0
    assert "1 kept" in capsys.readouterr().out
    assert main(["pipelines", "run", str(path), "--stages", "crawl", "--runner", "local"]) == 2


def test_cli_and_yaml_share_one_config(tmp_path):
    from webtext.cli import build_parser, config_from_args

    dump = tmp_path / "d.jsonl"
    dump.write_text("")
    ns = build_parser().parse_args(
        ["urls", str(dump), "--out", "o", "--min-karma", "5", "--karma-mode", "sum", "--no-blocklists",
         "--keep-nsfw", "--created-before", "2018-01-01", "--runner", "local", "--max-retries", "0"]
    )
    from_yaml = from_mapping(
        UrlsConfig,
        {"inputs": [str(dump)], "min_karma": 5, "karma_mode": "sum", "blocklists": False, "keep_nsfw": True,
         "created_before": "2018-01-01"},
        "stages.urls",
    )
    assert config_from_args(UrlsConfig, ns) == from_yaml
    assert config_from_args(RunnerConfig, ns) == RunnerConfig(kind="local", max_retries=0)


def test_cli_errors_exit_2_and_name_the_flag(tmp_path, capsys):
    assert main(["urls", str(tmp_path / "missing.zst"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "inputs[0]" in err and "not found" in err
    dump = tmp_path / "d.jsonl"
    dump.write_text("")
    assert main(["urls", str(dump), "--out", str(tmp_path / "o"), "--min-karma", "-1"]) == 2
    assert "--min-karma" in capsys.readouterr().err


def test_the_shipped_pipeline_is_valid_and_points_at_pushshift():
    pipeline = load_pipeline(REPO / "pipelines.yaml")  # every key and benchmark name is valid
    with pytest.raises(ConfigError) as err:
        check_static_inputs(pipeline)
    assert err.value.key == "stages.urls.inputs[0]"  # the real dumps are not in the repo
    import yaml

    data = yaml.safe_load((REPO / "pipelines.yaml").read_text())
    urls = data["stages"]["urls"]
    assert urls["min_karma"] == 3 and str(urls["created_before"]) == "2018-01-01"


def test_import_webtext_stays_light():
    code = (
        "import sys, webtext, webtext.cli, webtext.config, webtext.data, webtext.runner, webtext.pipeline\n"
        "heavy = [m for m in ('ray', 'torch', 'scrapy', 'trafilatura') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _with_benchmark(tmp_path, benchmark: str, inputs: str = "work/dedup") -> Path:
    return _pipeline(tmp_path, f"""\
        workdir: work
        runner: {{kind: local}}
        stages:
          urls:
            inputs: [dumps]
          contamination:
            inputs: [{inputs}]
            benchmarks: ["{benchmark}"]
        """)


def test_a_missing_benchmark_file_is_reported_before_urls_runs(tmp_path, capsys):
    path = _with_benchmark(tmp_path, "wikitext2=benchmarks/wiki.test.tokens", inputs="dumps")
    assert main(["pipelines", "run", str(path), "--runner", "local"]) == 2
    err = capsys.readouterr().err
    assert "stages.contamination.benchmarks[0]" in err and "wiki.test.tokens" in err and "not found" in err
    assert not (tmp_path / "work").exists()  # urls never started
    # Only the declared stages that run are checked: urls alone runs.
    assert main(["pipelines", "run", str(path), "--stages", "urls", "--runner", "local"]) == 0


def test_an_unknown_benchmark_name_is_refused_when_the_pipeline_is_read(tmp_path):
    (tmp_path / "wiki.txt").write_text("a line\n")
    path = _with_benchmark(tmp_path, "wikitxt2=wiki.txt")
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert err.value.key == "stages.contamination.benchmarks[0]"
    message = str(err.value)
    assert "'wikitxt2'" in message and "wikitext2" in message and "lines:PATH" in message
    assert "\n" not in message
    pipeline = load_pipeline(_with_benchmark(tmp_path, "wikitxt2=lines:wiki.txt"))
    assert pipeline.stages["contamination"].benchmarks == [f"wikitxt2=lines:{tmp_path / 'wiki.txt'}"]
    with pytest.raises(ConfigError) as err:
        check_static_inputs(pipeline)  # dedup is not declared here, so its output must be there already
    assert err.value.key == "stages.contamination.inputs[0]"


def test_inputs_an_earlier_stage_writes_are_not_checked(tmp_path):
    (tmp_path / "quiz.txt").write_text("a line\n")
    path = _pipeline(tmp_path, """\
        workdir: work
        runner: {kind: local}
        stages:
          urls:
            inputs: [dumps]
          crawl:
            inputs: [work/urls]
          train-tokenizer:
            inputs: [docs]
          tokenize:
            inputs: [docs]
            tokenizer: work/train-tokenizer
        """)
    (tmp_path / "docs").mkdir()
    pipeline = load_pipeline(path)
    check_static_inputs(pipeline)  # work/urls and the tokenizer appear when urls and train-tokenizer run
    with pytest.raises(ConfigError) as err:
        check_static_inputs(pipeline, ["crawl"])  # urls does not run now: its output must be there
    assert err.value.key == "stages.crawl.inputs[0]"
    with pytest.raises(ConfigError) as err:
        check_static_inputs(pipeline, ["tokenize"])
    assert err.value.key == "stages.tokenize.tokenizer" and "tokenizer not found" in str(err.value)
