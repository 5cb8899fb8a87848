"""Cost growth: every stage at 1x, 4x and 16x of its benchmark input -- does its time grow linearly
and its peak memory per task stay flat?

Peer: the ideal itself (issue #19, point 2): time proportional to the input, within 20% per 4x
step, and peak RSS per task flat, within 20% from 1x to 16x. No other program is run.

Input, per stage, ``--factors`` times (default ``1,4,16``) the base size below, built by that stage's
own benchmark helpers (as ``benchmarks/scale.py --measure`` builds them, with the shard count held
fixed, so each task's input grows with the factor):

- ``urls``: a generated Pushshift-format dump of 100,000 records (``benchmarks/urls.py``);
- ``crawl``: 256 pages of 20-60 KB on 50 loopback hosts, delay 0, in 2 partitions (one crawl
  process each; the stage's default is 8) (``benchmarks/crawl.py``);
- ``extract``: 48 real pages in one WARC file; larger factors repeat that page set in the same
  file (the real page set has ~770 pages: repeating keeps the page mix, so only the count grows);
- ``dedup``: 4,000 documents of real sentences, 10% planted copies (``_dedup_corpus.py``);
- ``contamination``: 8 MB of real-sentence documents against WikiText-2 + PTB test
  (``_contamination_corpus.py``);
- ``tokenize``: 4 MB of real paragraphs, GPT-2's BPE (``_tokenize_corpus.py``);
- ``train``: 4 optimizer steps of the ``tiny`` preset on CPU, 4 x 128-token sequences a step, on
  Tiny Shakespeare tokens (``_train_data.py``);
- ``eval``: 100 LAMBADA-format passages from WikiText-2 valid on a random 2-layer GPT-2
  (``_eval_model.py``);
- ``memorization``: 16 unconditional samples of 64 tokens (the part of its work that has an input
  size: its other parts read a fixed sample of documents, tokens and checkpoints) from the model of
  ``tests/memorization_fixtures.py`` (a planted corpus, its tokenizer, tokens, a tiny model
  trained 8 steps, the contamination report and the eval it needs; built once).

Runs: every stage first once, untimed, on its smallest input (it fills numba's on-disk cache of
compiled kernels and the page cache, as a user's first run does; ``--no-warmup`` skips it), then
at every factor, ``--repeats`` times (default 1; the median is shown), each as
its CLI in a child process (``--runner local``: one worker, so the process that runs the tasks is
the stage process), measured by ``scale.py``'s ``run_measured``: wall seconds of the whole process,
the tasks' seconds from the stage's manifests (train: the sum of its steps' times from
``metrics.jsonl``; eval: its tasks' scoring seconds from ``results.json``) and the largest peak
RSS (VmHWM) of one process of the tree; also the CPU seconds of the whole process tree, which
other load on the machine moves less than it moves seconds of wall time. A whole process carries
fixed costs (interpreter start, imports, model load) that inflate the 1x time, so linearity is
judged on the tasks' seconds; the whole-process seconds are shown beside them. Some fixed costs
fall inside the first task too (numba's cache load, a benchmark's n-grams, a crawler's start):
the marginal ratio -- seconds per unit of input in the last step over those of the first, 1.00 =
linear -- sees through them, and a stage whose step ratio misses only because of them is called
"linear after a fixed N s".

Figures, printed at the end and saved to ``benchmarks/results/growth.json`` (``--print`` prints the
table again from it without running): per stage and factor the input (records, bytes), the seconds
(wall, CPU, tasks) and the peak RSS; per step the time ratio ``t(4x) / t(1x) / 4`` (1.00 = linear), the marginal ratio,
the peak RSS ratio of the largest factor to the smallest, and a verdict (time within 20% of linear
per step, memory within 20% of flat, or what misses).

    python benchmarks/growth.py                       # all stages, 1x 4x 16x (~15-20 min on 2 cores)
    python benchmarks/growth.py --stages dedup,tokenize --factors 1,4
    python benchmarks/growth.py --print
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "growth.json"
TOLERANCE = 0.20  # per 4x step for time, 1x -> 16x for memory (issue #19)

TRAIN_BATCH = 4  # sequences per step (tiny preset's context 128): 4 x 128 = 512 tokens a step
TRAIN_SEQ = 128

log = logging.getLogger("benchmarks.growth")


# ---------------------------------------------------------------------------------------------
# Verdicts: pure arithmetic over the measurements (tested without timing)


def step_ratios(factors: list[int], seconds: list[float]) -> list[float]:
    """Per step between consecutive factors, the time ratio divided by the input ratio: 1.00 = linear."""
    return [(seconds[i + 1] / seconds[i]) / (factors[i + 1] / factors[i]) for i in range(len(factors) - 1)]


def affine(factors: list[int], seconds: list[float]) -> tuple[float | None, float]:
    """Time as ``fixed + per_unit * factor``: (the marginal seconds per unit of the last step over those
    of the first, 1.00 = linear; the fixed seconds, the first step's line at factor 0). A cost paid once
    per run (numba's cache load, a benchmark's n-grams, a crawler's start) leaves the marginal ratio
    at 1 while it pulls the first step's time ratio below 1. No marginal ratio (None) when the first
    step took no longer than the factor before it: a fixed cost (or noise) hid its input's cost."""
    first = (seconds[1] - seconds[0]) / (factors[1] - factors[0])
    last = (seconds[-1] - seconds[-2]) / (factors[-1] - factors[-2])
    return (last / first if first > 0 else None), seconds[0] - factors[0] * first


def growth_verdict(ratios: list[float], marginal: float | None, fixed: float, memory_ratio: float,
                   tolerance: float = TOLERANCE) -> str:
    """``linear`` when every step's time ratio is within 1 +- tolerance; ``linear after a fixed N s`` when
    a step misses only on the low side and the marginal ratio (``affine``) is within it; otherwise
    ``superlinear`` / ``sublinear`` with the worst ratio (``fixed cost hides the first step`` when
    there is no marginal ratio). ``flat`` when memory grows by at most the tolerance, else ``memory xR``."""
    worst = max(ratios, key=lambda r: abs(r - 1), default=1.0)
    if abs(worst - 1) <= tolerance:
        time_says = "linear"
    elif worst < 1 and marginal is not None and abs(marginal - 1) <= tolerance:
        time_says = f"linear after a fixed {fixed:.1f} s"
    elif worst < 1 and marginal is None and len(ratios) > 1:
        time_says = f"fixed cost hides the first step; then {ratios[-1]:.2f}"
    elif marginal is not None and marginal > 1 + tolerance:
        time_says = f"superlinear (marginal x{marginal:.2f})"
    else:
        time_says = f"{'superlinear' if worst > 1 else 'sublinear'} ({worst:.2f})"
    memory_says = "flat" if memory_ratio <= 1 + tolerance else f"memory x{memory_ratio:.2f}"
    return f"{time_says}; {memory_says}"


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One factor's repeats as one row: the medians of the figures (the input is the same in each)."""
    first = runs[0]
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "task_s", "process_peak_memory")}
    # The text stages' input in text bytes (what their factor multiplies), the others' in file bytes.
    return {**med, "records_in": first["records_in"], "bytes_in": first.get("bytes_text_in", first["bytes_in"])}


# ---------------------------------------------------------------------------------------------
# Printing


def table(results: dict[str, Any]) -> str:
    from scale import human_bytes

    head = ["stage", "x", "input", "bytes in", "wall s", "CPU s", "tasks s", "peak RSS / process",
            "tasks' time ratio per step (1.00 = linear)", "marginal ratio, last / first step",
            f"RSS {results['factors'][-1]}x / {results['factors'][0]}x", "verdict"]
    rows = [head, ["---"] * len(head)]
    for name, stage in results["stages"].items():
        factors = [int(f) for f in stage["runs"]]
        rows_of = [summary(stage["runs"][str(f)]) for f in factors]
        seconds = [r["task_s"] for r in rows_of]
        ratios = step_ratios(factors, seconds)
        marginal, fixed = affine(factors, seconds) if len(factors) > 2 else (None, 0.0)
        memory = rows_of[-1]["process_peak_memory"] / rows_of[0]["process_peak_memory"]
        for i, (f, r) in enumerate(zip(factors, rows_of, strict=True)):
            last = i == len(factors) - 1
            step = f"{ratios[i - 1]:.2f} ({factors[i - 1]}x -> {f}x)" if i else ""
            rows.append([name if not i else "", f"{f}x", f"{r['records_in']:,} {stage['record']}",
                         human_bytes(r["bytes_in"]) if r["bytes_in"] else "-", f"{r['wall_s']:.1f}",
                         f"{r['cpu_s']:.1f}", f"{r['task_s']:.2f}",
                         f"{r['process_peak_memory'] / 2**20:,.0f} MiB", step,
                         f"{marginal:.2f}" if last and marginal is not None else "",
                         f"{memory:.2f}" if last and len(factors) > 1 else "",
                         growth_verdict(ratios, marginal, fixed, memory) if last and len(factors) > 1 else ""])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def report(results: dict[str, Any]) -> str:
    lines = [f"Cost growth, measured {results['date']} on {results['machine']} "
             f"({results['busy']:.0%} busy before the run; {results['seconds']:,.0f} s in all, "
             f"median of {results['repeats']} run(s) per factor)", "", table(results), "",
             "Inputs (1x):"]
    lines += [f"- {name}: {s['input']}" for name, s in results["stages"].items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The stages (imports the stage benchmarks' input builders and scale.py's measuring; only when run)


def measure_train(work: Path, steps: int, tag: str) -> dict[str, Any]:
    from _train_data import shakespeare_tokens
    from scale import cli, run_measured

    tokens = shakespeare_tokens(work / "train-tokens")
    out = work / "runs" / f"train{tag}"
    m = run_measured(cli("train", "--data", str(tokens), "--preset", "tiny", "--device", "cpu",
                         "--batch-size", str(TRAIN_BATCH), "--seq-len", str(TRAIN_SEQ), "--max-steps", str(steps),
                         "--log-every", "1", "--out", str(out), runner=False), out)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    step_tokens = TRAIN_BATCH * TRAIN_SEQ
    return {**m, "task_s": round(sum(step_tokens / r["tokens_per_s"] for r in rows), 3),
            "input": f"{steps} steps of the tiny preset on CPU, {TRAIN_BATCH} x {TRAIN_SEQ} tokens a step, "
                     "Tiny Shakespeare (benchmarks/_train_data.py); bytes = tokens read x 2 (uint16)",
            "records_in": steps, "bytes_in": steps * step_tokens * 2}


def measure_eval(work: Path, passages: int, tag: str) -> dict[str, Any]:
    from _eval_model import lambada_like, write_random_gpt2
    from scale import DATA, cli, run_measured

    model = work / "eval-model"
    if not (model / "config.json").exists():
        write_random_gpt2(model, n_layer=2, n_head=4, n_embd=128, block_size=128)
    lambada = lambada_like(DATA / "wikitext-2" / "valid.txt", work / f"lambada-{passages}.jsonl", passages,
                           repeat=True)
    out = work / "runs" / f"eval{tag}"
    m = run_measured(cli("eval", str(model), "--tokenizer", str(DATA / "gpt2-bpe"), "--task", f"lambada={lambada}",
                         "--device", "cpu", "--out", str(out), runner=False), out)
    seconds = json.loads((out / "results.json").read_text())["seconds"]
    return {**m, "task_s": round(sum(seconds.values()), 3),
            "input": f"{passages} LAMBADA-format passages (WikiText-2 valid, benchmarks/_eval_model.py), "
                     "random GPT-2 of 2 layers x 128, context 128, on CPU",
            "records_in": passages, "bytes_in": lambada.stat().st_size}


MEMORIZATION_STEPS = 8  # training steps of the tests' planted-corpus model (2 checkpoints)
MEMORIZATION_SAMPLE_TOKENS = 64


def memorization_inputs(work: Path) -> Path:
    """The memorization tests' chain, built once: a planted corpus, its tokenizer and tokens, a tiny
    model trained on it, the contamination report and the eval of its ``quiz`` benchmark."""
    tests = str(HERE.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from memorization_fixtures import build

    root = work / "memorization-inputs"
    if not (root / "eval" / "results.json").exists():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        build(root, steps=MEMORIZATION_STEPS)
    return root


def measure_memorization(work: Path, samples: int, tag: str) -> dict[str, Any]:
    from scale import cli, run_measured

    root = memorization_inputs(work)
    out = work / "runs" / f"memorization{tag}"
    m = run_measured(cli("memorization", "--run", str(root / "run"), "--tokens", str(root / "tokens"),
                         "--contamination", str(root / "contamination"), "--eval", str(root / "eval"),
                         "--samples", str(samples), "--sample-tokens", str(MEMORIZATION_SAMPLE_TOKENS),
                         "--heldout-tokens", "2048", "--bootstrap", "100", "--device", "cpu", "--out", str(out),
                         runner=False), out)
    return {**m, "input": f"{samples} unconditional samples of {MEMORIZATION_SAMPLE_TOKENS} tokens from the tests' "
                          "planted-corpus model (tests/memorization_fixtures.py: tiny preset, vocab 400, 2 "
                          "checkpoints); the other parts fixed (its ~10 train/val documents, 2,048 held-out "
                          "tokens, 100 bootstrap resamples)",
            "records_in": samples, "bytes_in": 0}


@dataclass(frozen=True)
class Stage:
    """One stage's growth run: what its factor multiplies and how one size is measured."""

    unit: str  # what the factor multiplies
    record: str  # what ``records_in`` counts
    base: int
    measure: Callable[[Path, int, str], dict[str, Any]]  # (workdir, size, run tag) -> scale.run_measured's dict


def stages() -> dict[str, Stage]:
    import scale

    return {
        "urls": Stage("records", "records", 100_000, scale.measure_urls),
        # 2 partitions (the stage's default is 8), each one crawl process: the crawl benchmark's
        # hosts split evenly in 2, and 8 crawler start-ups would hide the 1x pages' cost.
        "crawl": Stage("pages", "pages", 256, lambda w, n, tag: scale.measure_crawl(w, n, 50, tag, partitions=2)),
        # One base page set, repeated: the factor is the number of copies.
        "extract": Stage("pages", "pages", 48, lambda w, n, tag: scale.measure_extract(w, 48, tag, copies=n // 48)),
        "dedup": Stage("docs", "docs", 4_000, scale.measure_dedup),
        "contamination": Stage("MB", "docs", 8, scale.measure_contamination),
        "tokenize": Stage("MB", "docs", 4, scale.measure_tokenize),
        "train": Stage("steps", "steps", 4, measure_train),
        "eval": Stage("passages", "passages", 100, measure_eval),
        "memorization": Stage("samples", "samples", 16, measure_memorization),
    }


STAGE_NAMES = ("urls", "crawl", "extract", "dedup", "contamination", "tokenize", "train", "eval", "memorization")


def measure(args: argparse.Namespace, busy: float) -> dict[str, Any]:
    work = args.workdir
    chosen = stages()
    started = time.perf_counter()
    out: dict[str, Any] = {}
    for name in args.stages:
        stage = chosen[name]
        runs: dict[str, list[dict[str, Any]]] = {}
        if args.warmup:
            log.info("%s: one untimed run of the %dx input first", name, args.factors[0])
            stage.measure(work, stage.base * args.factors[0], "-warmup")
        for f in args.factors:
            runs[str(f)] = []
            for r in range(args.repeats):
                m = stage.measure(work, stage.base * f, f"-{f}x-{r}")
                log.info("%s %dx: %s %s, wall %.1f s, tasks %.2f s, peak RSS %.0f MiB", name, f,
                         f"{m['records_in']:,}", stage.record, m["wall_s"], m["task_s"],
                         m["process_peak_memory"] / 2**20)
                runs[str(f)].append(m)
        first = runs[str(args.factors[0])][0]
        out[name] = {"unit": stage.unit, "record": stage.record, "input": first["input"], "runs": runs}
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores ({model}), shared, Python {platform.python_version()}",
        "busy": round(busy, 3), "seconds": round(time.perf_counter() - started, 1),
        "factors": args.factors, "repeats": args.repeats, "stages": out,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", default=",".join(STAGE_NAMES),
                        help=f"comma-separated stages to run (default: all: {','.join(STAGE_NAMES)})")
    parser.add_argument("--factors", default="1,4,16", help="input sizes, as multiples of the base (default 1,4,16)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per stage and factor; the median is shown")
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the untimed run of the smallest input before each stage's measured runs")
    parser.add_argument("--workdir", type=Path, default=HERE / "out" / "growth", help="inputs and runs (git-ignored)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"the results (default {RESULTS})")
    parser.add_argument("--print", action="store_true", help="print the table from --json again; run nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="webtext's own logging too")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))  # scale.py, _report.py and the stage benchmarks' input builders
    from _report import check_parts

    args.stages = check_parts(parser, args.stages, STAGE_NAMES)
    try:
        args.factors = sorted({int(f) for f in args.factors.split(",") if f.strip()})
    except ValueError:
        parser.error(f"--factors: whole numbers separated by commas, not {args.factors!r}")
    if not args.factors or args.factors[0] < 1:
        parser.error("--factors: at least one factor, each >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from _report import begin, machine_busy, saved_report

    results = None
    if not args.print:
        import shutil

        begin(args, log)
        shutil.rmtree(args.workdir / "runs", ignore_errors=True)
        (args.workdir / "runs").mkdir()
        results = measure(args, machine_busy())
    return saved_report(args.json, results, report, "python benchmarks/growth.py", log)


if __name__ == "__main__":
    sys.exit(main())
