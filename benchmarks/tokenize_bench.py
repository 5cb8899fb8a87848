"""Benchmark of the ``tokenize`` stage (GPT-2 BPE -> Arrow token shards) against bare tiktoken and
bare HF tokenizers, with ``train-tokenizer`` and the shard reader, on >= 100 MB of real text.

Corpus (``benchmarks/_tokenize_corpus.py``): ``--mb`` MB (default 100) of ~3-5 KB English
documents, seeded random draws of real paragraphs -- half the documents news/blog article bodies
(article-extraction-benchmark's ground truth and trafilatura's text of the trafilatura-eval pages),
a quarter Tiny Shakespeare speeches, a quarter WikiText-2 paragraphs de-tokenised (``<unk>``
replaced by real names); PTB is left out -- in 4 Parquet files (``id``, ``text``; zstd), built
once under ``--workdir`` (default ``benchmarks/out/tokenize``, git-ignored). The tokenizer is
OpenAI's GPT-2 (``../shared/data/gpt2-bpe``: ``encoder.json`` + ``vocab.bpe``). MB are 10^6
bytes of UTF-8 text.

Figures, all measured in one run:

1. **Baselines, one thread, in this process, nothing written** -- tiktoken's GPT-2 encoding built
   offline from the same two files (``tiktoken.load.data_gym_to_mergeable_bpe_ranks``),
   ``encode_ordinary_batch(texts, num_threads=1)`` over batches of 1,024 documents of the whole
   corpus (texts already Python strings, only the calls timed); and HF tokenizers
   (``Tokenizer(models.BPE.from_file(encoder.json, vocab.bpe))``, ByteLevel pre-tokeniser)
   ``encode_batch(batch, add_special_tokens=False)`` in a child process started with
   ``RAYON_NUM_THREADS=1``, on every k-th document (``--hf-mb``, default 25 MB: it is ~4x slower).
   Both must give the same ids on that subsample (a digest of the ids is compared).
2. **Stage, one worker** -- ``webtext-build tokenize DOCS --tokenizer gpt2-bpe --runner local``
   (default ``--shard-tokens``, 100M: the corpus is one task, as one production shard) as a child
   process, timed as a whole (interpreter start to exit: Parquet reading, encoding, splitting,
   writing the shards and the manifest), MB/s against each baseline. **Target: stage >= 0.9x bare
   tiktoken.** Also shown: the stage's own time (manifest ``wall_seconds``, no interpreter
   start), each shard task's seconds, and the fixed cost every task pays before encoding
   (``load_tokenizer`` + the engine check, timed here). The stage's shards are checked against
   tiktoken's ids document by document (EOT appended), and peak RSS (``VmHWM``) is sampled.
3. **2 Ray workers** -- the corpus as 4 shard tasks (``--shard-tokens`` ~1.5x a file's estimated
   tokens, so each file is one task): ``webtext-build tokenize --runner local`` (child process),
   ``run_tokenize`` in this process on ``RayRunner(num_cpus=2)`` started and warmed up beforehand
   (against the local child's own time, manifest ``wall_seconds``), and ``webtext-build tokenize
   --runner ray --num-cpus 2 --no-dashboard`` end to end (Ray start-up included; against the
   local child process). No target in the issue (2 cores: 2x is the ceiling).
4. **Training** -- ``webtext-build train-tokenizer DOCS --vocab-size 50257 --sample-bytes
   50000000 --threads 2`` (``RAYON_NUM_THREADS=2``) as a child process: seconds, the bytes it
   sampled and the vocab it reached. Reference: the bare tokenizers trainer (the stage's settings)
   on the same sample held in memory, in a child process with ``RAYON_NUM_THREADS=2``. The
   corpus repeats its ~4.5 MB of distinct paragraphs, so it has far fewer distinct words than 50 MB
   of real web text: the merge phase is cheaper than it would be on a real corpus.
5. **Reader** -- ``TokenDataset`` on figure 2's shard (train split; memory-mapped, page cache
   warm: just written): ``sample_windows(rng, 64, 1024)`` for ``--reader-seconds``: windows/s, GB/s
   of its int64 output and GB/s of shard tokens read (uint16, 2 bytes each). Reference: a bare numpy
   gather of 64 random 1024-token windows from one shard's memory-mapped view, cast to int64.

Figures 1 and 2 run ``--repeats`` times (default 2), alternated, and the median is shown; the CPU
time other processes used meanwhile is printed (the machines are noisy). Work folders are removed
afterwards unless ``--keep``.

    python benchmarks/tokenize_bench.py            # 100 MB, ~5 minutes on 2 cores
    python benchmarks/tokenize_bench.py --quick    # smoke run: 15 MB, 1 repetition
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _report import (
    FreshOut,
    Row,
    TreeMemory,
    begin,
    finish,
    machine_busy_ticks,
    mib,
    ray_kind,  # benchmarks/_report.py, beside this script
    timed_child,
    verdict,
)
from _tokenize_corpus import Corpus, cached_corpus, read_texts

log = logging.getLogger("benchmarks.tokenize")

TARGET_THROUGHPUT = 0.9  # stage MB/s (one worker, whole process) / bare tiktoken MB/s
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
FILES = 4
BATCH = 1024  # documents per encode call, as the stage's default --batch-rows
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT = 50256
WINDOW, WINDOWS_PER_BATCH = 1024, 64


# ---------------------------------------------------------------------------------------------
# Helpers


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def subsample(texts: list[str], n_bytes: int) -> list[int]:
    """Indices of every k-th text, k chosen so about ``n_bytes`` are picked (all if fewer)."""
    total = sum(utf8_len(t) for t in texts)
    stride = max(1, round(total / max(n_bytes, 1)))
    return list(range(0, len(texts), stride))


def ids_digest(token_lists: Iterator[list[int]]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for ids in token_lists:
        h.update(len(ids).to_bytes(4, "little"))
        h.update(np.asarray(ids, dtype=np.uint16).tobytes())
    return h.hexdigest()


def batches(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    """Environment variables set for the children started inside the block."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def others(memory: TreeMemory | None) -> str:
    return f"; others {memory.other_cpu:.1f} CPU-s" if memory is not None else ""


def mbps(n_bytes: int, seconds: float) -> float:
    return n_bytes / seconds / 1e6


# ---------------------------------------------------------------------------------------------
# Child processes: the HF tokenizers baselines (their thread count is fixed when tokenizers loads)


def child_hf_encode(bpe: Path, files: list[Path], n_bytes: int) -> dict[str, Any]:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.BPE.from_file(str(bpe / "encoder.json"), str(bpe / "vocab.bpe")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    texts = [t for _, ts in read_texts(files) for t in ts]
    chosen = [texts[i] for i in subsample(texts, n_bytes)]
    tok.encode_batch(chosen[:64], add_special_tokens=False)  # warm-up
    seconds, out = 0.0, []
    for batch in batches(chosen):
        start = time.perf_counter()
        encoded = tok.encode_batch(batch, add_special_tokens=False)
        seconds += time.perf_counter() - start
        out.extend(e.ids for e in encoded)
    return {"seconds": seconds, "bytes": sum(utf8_len(t) for t in chosen), "documents": len(chosen),
            "digest": ids_digest(iter(out)), "threads": os.environ.get("RAYON_NUM_THREADS")}


def child_hf_train(files: list[Path], sample_bytes: int, vocab_size: int) -> dict[str, Any]:
    """The bare trainer, with ``webtext.tokenize.bpe.train_bpe``'s settings, on the stage's sample in memory."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from webtext.tokenize.encode import sample_texts

    texts = list(sample_texts(files, sample_bytes)[0])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    start = time.perf_counter()
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": sum(utf8_len(t) for t in texts), "documents": len(texts),
            "vocab_size": tok.get_vocab_size() + 1, "threads": os.environ.get("RAYON_NUM_THREADS")}


def run_child(args: argparse.Namespace, what: list[str], threads: int, log_name: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *what, "--workdir", str(args.workdir),
           "--data", str(args.data), "--mb", str(args.mb), "--seed", str(args.seed)]
    log_path = args.workdir / log_name
    with env(RAYON_NUM_THREADS=str(threads)):
        seconds, memory = timed_child(cmd, log_path)
    lines = [ln for ln in log_path.read_text().splitlines() if ln.startswith("{")]
    return {**json.loads(lines[-1]), "process_seconds": seconds, "memory": memory}


# ---------------------------------------------------------------------------------------------
# Figure 1: tiktoken in this process


def tiktoken_encoding(bpe: Path) -> Any:
    import tiktoken
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    ranks = data_gym_to_mergeable_bpe_ranks(str(bpe / "vocab.bpe"), str(bpe / "encoder.json"))
    return tiktoken.Encoding(name="gpt2-local", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": EOT})


@dataclass
class Encoded:
    """Token ids of every document, as one flat uint16 array with offsets (kept for the checks)."""

    ids: list[str] = field(default_factory=list)
    flat: list[np.ndarray] = field(default_factory=list)
    lengths: list[np.ndarray] = field(default_factory=list)

    def add(self, ids: list[str], token_lists: list[list[int]]) -> None:
        self.ids.extend(ids)
        self.lengths.append(np.fromiter((len(t) for t in token_lists), np.int64, len(token_lists)))
        self.flat.append(np.fromiter((x for t in token_lists for x in t), np.uint16))

    def freeze(self) -> tuple[np.ndarray, np.ndarray]:
        flat = np.concatenate(self.flat)
        offsets = np.zeros(len(self.ids) + 1, np.int64)
        np.cumsum(np.concatenate(self.lengths), out=offsets[1:])
        return flat, offsets


def run_tiktoken(enc: Any, docs: list[tuple[list[str], list[str]]], keep: Encoded | None) -> tuple[float, float]:
    """(seconds in ``encode_ordinary_batch(batch, num_threads=1)`` over every document, CPU seconds that other
    processes of the machine used meanwhile)."""
    busy0, cpu0 = machine_busy_ticks()[0], time.process_time()
    seconds = 0.0
    for ids, texts in docs:
        for lo in range(0, len(texts), BATCH):
            batch = texts[lo:lo + BATCH]
            start = time.perf_counter()
            out = enc.encode_ordinary_batch(batch, num_threads=1)
            seconds += time.perf_counter() - start
            if keep is not None:
                keep.add(ids[lo:lo + BATCH], out)
    other = (machine_busy_ticks()[0] - busy0) / os.sysconf("SC_CLK_TCK") - (time.process_time() - cpu0)
    return seconds, max(0.0, other)


# ---------------------------------------------------------------------------------------------
# Figure 2 and 3: the stage


@dataclass
class StageRun:
    seconds: float  # whole process, or the in-process call
    text_bytes: int
    stage_seconds: float  # manifest wall_seconds
    shard_seconds: list[float]
    counts: dict[str, Any]
    memory: TreeMemory | None = None

    @property
    def rate(self) -> float:
        return mbps(self.text_bytes, self.seconds)

    @property
    def stage_rate(self) -> float:
        return mbps(self.text_bytes, self.stage_seconds)


def read_manifest(out: Path, seconds: float, memory: TreeMemory | None) -> StageRun:
    from webtext.data import Manifest

    manifest = Manifest.read(out)
    if manifest is None:
        raise SystemExit(f"no manifest in {out}")
    stats = dict(manifest.stats)
    return StageRun(seconds, int(stats.get("text_bytes", 0)), float(stats["wall_seconds"]),
                    [float(s["seconds"]) for s in manifest.shards], stats, memory)


def stage_cmd(corpus: Corpus, out: Path, args: argparse.Namespace, runner: str, tasks: bool) -> list[str]:
    """The stage's command line; ``tasks``: one shard task per docs file (else the default --shard-tokens)."""
    cmd = [sys.executable, "-m", "webtext.cli", "-q", "tokenize", str(corpus.folder), "--tokenizer", str(args.bpe),
           "--out", str(out), "--runner", runner]
    if tasks:
        cmd += ["--shard-tokens", str(args.shard_tokens)]
    if runner == "ray":
        cmd += ["--num-cpus", "2", "--no-dashboard"]
    return cmd


def run_stage_cli(corpus: Corpus, args: argparse.Namespace, out: Path, runner: str = "local",
                  tasks: bool = False) -> StageRun:
    seconds, memory = timed_child(stage_cmd(corpus, out, args, runner, tasks), out.parent / f"{out.name}.log",
                                  ray_kind)
    return read_manifest(out, seconds, memory)


def run_stage_inprocess(corpus: Corpus, args: argparse.Namespace, out: Path, runner: Any) -> StageRun:
    from webtext.tokenize.config import TokenizeConfig
    from webtext.tokenize.encode import run_tokenize

    cfg = TokenizeConfig(inputs=[str(corpus.folder)], tokenizer=str(args.bpe), shard_tokens=args.shard_tokens)
    start = time.perf_counter()
    run_tokenize(cfg, out, runner)
    return read_manifest(out, time.perf_counter() - start, None)


def task_fixed_cost(bpe: Path, texts: list[str]) -> float:
    """What every shard task pays before it encodes: ``load_tokenizer`` and the engine check."""
    from webtext.tokenize.bpe import load_tokenizer

    start = time.perf_counter()
    tok = load_tokenizer(bpe)
    tok.check_engines(texts)
    return time.perf_counter() - start


def check_shards(out: Path, encoded: Encoded) -> tuple[int, int]:
    """(documents checked, documents whose shard tokens differ from tiktoken's + EOT, or missing)."""
    from webtext.tokenize.shards import TokenDataset

    flat, offsets = encoded.freeze()
    found: dict[str, np.ndarray] = {}
    for split in ("train", "val"):
        for doc_id, tokens in TokenDataset(out, split).documents():
            found[doc_id] = tokens
    bad = 0
    for i, doc_id in enumerate(encoded.ids):
        tokens = found.pop(doc_id, None)
        want = flat[offsets[i]:offsets[i + 1]]
        if tokens is None or len(tokens) != len(want) + 1 or tokens[-1] != EOT or not np.array_equal(tokens[:-1], want):
            bad += 1
    return len(encoded.ids), bad + len(found)


# ---------------------------------------------------------------------------------------------
# Figure 5: the reader


def run_reader(out: Path, seconds: float) -> tuple[int, float, float]:
    """(windows, seconds, shard tokens) of ``sample_windows`` repeated for about ``seconds``."""
    from webtext.tokenize.shards import TokenDataset

    ds = TokenDataset(out, "train")
    rng = np.random.default_rng(0)
    for _ in range(3):
        ds.sample_windows(rng, WINDOWS_PER_BATCH, WINDOW)  # warm-up
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        ds.sample_windows(rng, WINDOWS_PER_BATCH, WINDOW)
        n += WINDOWS_PER_BATCH
    return n, elapsed, ds.n_tokens


def run_bare_gather(out: Path, seconds: float) -> tuple[int, float]:
    """A bare numpy gather of random windows from the first shard's memory-mapped token view."""
    from webtext.tokenize.shards import TokenDataset

    tokens = TokenDataset(out, "train").shards[0].tokens
    rng = np.random.default_rng(0)
    cols = np.arange(WINDOW)
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        starts = rng.integers(0, len(tokens) - WINDOW, WINDOWS_PER_BATCH)
        tokens[starts[:, None] + cols].astype(np.int64)
        n += WINDOWS_PER_BATCH
    return n, elapsed


# ---------------------------------------------------------------------------------------------
# Figures


def median(values: list[float]) -> float:
    return sorted(values)[(len(values) - 1) // 2]


def figures_encode(corpus: Corpus, docs: list[tuple[list[str], list[str]]], args: argparse.Namespace,
                   kept: Path) -> tuple[list[Row], list[Row], float]:
    """Figures 1 and 2 (and the local run figure 3 compares with). The first stage run writes into ``kept``."""
    enc = tiktoken_encoding(args.bpe)
    texts = [t for _, ts in docs for t in ts]
    n_bytes = corpus.total_bytes
    enc.encode_ordinary_batch(texts[:64], num_threads=1)  # warm-up
    fixed = task_fixed_cost(args.bpe, texts[:64])
    log.info("a shard task's fixed cost (load_tokenizer + engine check): %.2f s", fixed)

    tik: list[float] = []
    tik_others: list[float] = []
    stage: list[StageRun] = []
    encoded = Encoded()
    for i in range(args.repeats):
        seconds, other = run_tiktoken(enc, docs, encoded if i == 0 else None)
        tik.append(seconds)
        tik_others.append(other)
        log.info("[%d/%d] tiktoken encode_ordinary_batch, 1 thread: %.2f s, %.2f MB/s; others %.1f CPU-s", i + 1,
                 args.repeats, seconds, mbps(n_bytes, seconds), other)
        if i == 0:
            run = run_stage_cli(corpus, args, kept)
        else:
            with FreshOut(args.workdir, "local", args.keep) as out:
                run = run_stage_cli(corpus, args, out / "tokens")
        stage.append(run)
        log.info("[%d/%d] webtext-build tokenize --runner local: %.2f s (%.2f MB/s), manifest wall_seconds %.2f s%s",
                 i + 1, args.repeats, run.seconds, run.rate, run.stage_seconds, others(run.memory))

    hf = run_child(args, ["hf-encode", "--hf-mb", str(args.hf_mb)], 1, "hf-encode.log")
    flat, offsets = encoded.freeze()
    sub = subsample(texts, int(args.hf_mb * 1e6))
    tik_digest = ids_digest(flat[offsets[i]:offsets[i + 1]].tolist() for i in sub)
    hf_rate = mbps(hf["bytes"], hf["seconds"])
    log.info("HF tokenizers encode_batch, RAYON_NUM_THREADS=%s: %.2f s on %.1f MB, %.2f MB/s; ids %s tiktoken's",
             hf["threads"], hf["seconds"], hf["bytes"] / 1e6, hf_rate,
             "equal to" if hf["digest"] == tik_digest else "DIFFERENT from")
    checked, bad = check_shards(kept, encoded)
    log.info("stage shards vs tiktoken: %d documents checked, %d differ", checked, bad)

    tik_s = median(tik)
    tik_other = tik_others[tik.index(tik_s)]
    tik_rate = mbps(n_bytes, tik_s)
    run = sorted(stage, key=lambda r: r.seconds)[(len(stage) - 1) // 2]
    if run.text_bytes != n_bytes:
        log.warning("the stage counted %d text bytes, the corpus has %d", run.text_bytes, n_bytes)
    tokens = int(run.counts.get("train_tokens", 0)) + int(run.counts.get("val_tokens", 0))
    engine = int(run.counts.get("engine_tiktoken", 0))
    ratio = run.rate / tik_rate
    shard_s = ", ".join(f"{s:.1f}" for s in run.shard_seconds)
    rows = [
        Row("1. bare tiktoken encode_ordinary_batch, 1 thread, no writing",
            f"{tik_rate:,.2f} MB/s ({tik_s:.1f} s, {n_bytes / 1e6:.1f} MB, {len(texts):,} docs; others "
            f"{tik_other:.1f} CPU-s)"),
        Row("   bare HF tokenizers encode_batch, RAYON_NUM_THREADS=1",
            f"{hf_rate:,.2f} MB/s ({hf['seconds']:.1f} s on every k-th doc, {hf['bytes'] / 1e6:.1f} MB) = "
            f"{tik_rate / hf_rate:.1f}x slower than tiktoken"),
        Row("   HF ids == tiktoken ids on that subsample", "yes" if hf["digest"] == tik_digest else "NO",
            "equal", verdict(hf["digest"] == tik_digest)),
        Row("2. stage: webtext-build tokenize --runner local (whole process)",
            f"{run.rate:,.2f} MB/s ({run.seconds:.1f} s, {len(run.shard_seconds)} task(s), default --shard-tokens"
            f"{others(run.memory)})"),
        Row("   stage's own time (manifest wall_seconds)",
            f"{run.stage_rate:,.2f} MB/s ({run.stage_seconds:.1f} s) = {run.stage_rate / tik_rate:.2f}x tiktoken"),
        Row("   per shard task (manifest seconds)", f"{shard_s} s"),
        Row("   fixed cost per task: load_tokenizer + engine check", f"{fixed:.2f} s (timed here)"),
        Row("   shard tokens == tiktoken ids + EOT, every document",
            f"{checked - bad:,} of {checked:,} docs ({tokens:,} tokens, {n_bytes / max(tokens, 1):.2f} B/token); "
            f"engine tiktoken in {engine} of {len(run.shard_seconds)} tasks", "all", verdict(bad == 0)),
        Row("   stage (whole process) / bare HF tokenizers", f"{run.rate / hf_rate:.2f}x"),
        Row("   stage (whole process) / bare tiktoken", f"{ratio:.2f}x", f">= {TARGET_THROUGHPUT}x",
            verdict(ratio >= TARGET_THROUGHPUT)),
    ]
    memory = []
    if run.memory is not None:
        memory.append(Row("6. peak RSS, webtext-build tokenize --runner local (VmHWM)", mib(run.memory.root_peak)))
    return rows, memory, tik_rate


def figure_scaling(corpus: Corpus, warm: Corpus, args: argparse.Namespace,
                   tik_rate: float) -> tuple[list[Row], list[Row]]:
    import ray

    from webtext.runner.ray_runner import RayRunner, init_ray

    log.info("starting Ray (num_cpus=2, no dashboard) and warming it up; not timed")
    start = time.perf_counter()
    started = init_ray(num_cpus=2, dashboard=False)
    runner = RayRunner(num_cpus=2, dashboard=False)
    try:
        with FreshOut(args.workdir, "warm-ray", args.keep) as out:
            run_stage_inprocess(warm, args, out / "tokens", runner)
        startup = time.perf_counter() - start
        with FreshOut(args.workdir, "ray", args.keep) as out:
            tree = TreeMemory(os.getpid(), ray_kind)
            with tree:
                warm_run = run_stage_inprocess(corpus, args, out / "tokens", runner)
            warm_run.memory = tree
    finally:
        runner.close()
        if started:
            ray.shutdown()
    log.info("run_tokenize, 2 Ray workers (warm): %.2f s (%.2f MB/s)%s", warm_run.seconds, warm_run.rate,
             others(warm_run.memory))
    with FreshOut(args.workdir, "local4", args.keep) as out:
        local = run_stage_cli(corpus, args, out / "tokens", "local", tasks=True)
    log.info("webtext-build tokenize --runner local, %d tasks: %.2f s (%.2f MB/s), manifest wall_seconds %.2f s%s",
             len(local.shard_seconds), local.seconds, local.rate, local.stage_seconds, others(local.memory))
    with FreshOut(args.workdir, "raycli", args.keep) as out:
        cli = run_stage_cli(corpus, args, out / "tokens", "ray", tasks=True)
    log.info("webtext-build tokenize --runner ray --num-cpus 2: %.2f s (%.2f MB/s), manifest wall_seconds %.2f s%s",
             cli.seconds, cli.rate, cli.stage_seconds, others(cli.memory))
    local_s = ", ".join(f"{s:.1f}" for s in local.shard_seconds)
    shard_s = ", ".join(f"{s:.1f}" for s in warm_run.shard_seconds)
    rows = [
        Row(f"3. local runner, --shard-tokens {args.shard_tokens:,} (whole process)",
            f"{local.rate:,.2f} MB/s ({local.seconds:.1f} s, {len(local.shard_seconds)} tasks: {local_s} s) = "
            f"{local.rate / tik_rate:.2f}x tiktoken; own time {local.stage_seconds:.1f} s{others(local.memory)}"),
        Row("   run_tokenize, 2 Ray workers, Ray warm (in this process)",
            f"{warm_run.rate:,.2f} MB/s ({warm_run.seconds:.1f} s, {len(warm_run.shard_seconds)} tasks: "
            f"{shard_s} s{others(warm_run.memory)})"),
        Row("   speed-up 2 Ray workers (warm) / local runner's own time",
            f"{local.stage_seconds / warm_run.seconds:.2f}x (ceiling 2x)"),
        Row("   Ray start-up + warm-up (done first, excluded above)", f"{startup:.1f} s"),
        Row("   webtext-build tokenize --runner ray --num-cpus 2 (whole process)",
            f"{cli.rate:,.2f} MB/s ({cli.seconds:.1f} s; manifest wall_seconds {cli.stage_seconds:.1f} s, Ray "
            f"start included{others(cli.memory)})"),
        Row("   speed-up 2 Ray workers / local, both whole processes", f"{local.seconds / cli.seconds:.2f}x"),
    ]
    memory = []
    if cli.memory is not None:
        worker, n_worker = cli.memory.peak("ray-worker")
        memory = [
            Row("   peak RSS, Ray worker (VmHWM), --runner ray", f"{mib(worker)} (max of {n_worker})"),
            Row("   peak RSS, webtext-build driver (VmHWM), --runner ray", mib(cli.memory.root_peak)),
            Row("   peak RSS, whole --runner ray tree (sampled sum)", mib(cli.memory.peak_sum)),
        ]
    return rows, memory


def figure_train(corpus: Corpus, args: argparse.Namespace) -> list[Row]:
    sample_bytes = int(args.train_mb * 1e6)
    with FreshOut(args.workdir, "train", args.keep) as out:
        cmd = [sys.executable, "-m", "webtext.cli", "-q", "train-tokenizer", str(corpus.folder), "--out",
               str(out / "tokenizer"), "--vocab-size", "50257", "--sample-bytes", str(sample_bytes), "--threads", "2",
               "--runner", "local"]
        with env(RAYON_NUM_THREADS="2"):
            seconds, memory = timed_child(cmd, out / "train.log")
        from webtext.data import Manifest

        manifest = Manifest.read(out / "tokenizer")
        assert manifest is not None
        stats = dict(manifest.stats)
    log.info("webtext-build train-tokenizer: %.1f s (manifest wall_seconds %.1f s), vocab %s%s", seconds,
             stats["wall_seconds"], stats.get("vocab_size"), others(memory))
    bare = run_child(args, ["hf-train", "--train-mb", str(args.train_mb)], 2, "hf-train.log")
    log.info("bare tokenizers trainer on the same sample in memory: %.1f s, %.1f MB, vocab %d", bare["seconds"],
             bare["bytes"] / 1e6, bare["vocab_size"])
    vocab = int(stats.get("vocab_size", 0))
    return [
        Row("4. train-tokenizer --vocab-size 50257 --sample-bytes "
            f"{sample_bytes:,} --threads 2 (whole process)",
            f"{seconds:.1f} s (manifest wall_seconds {float(stats['wall_seconds']):.1f} s); sample "
            f"{bare['bytes'] / 1e6:.1f} MB, {bare['documents']:,} docs; vocab {vocab:,}{others(memory)}"),
        Row("   ref: bare tokenizers BpeTrainer, same sample in memory, 2 threads",
            f"{bare['seconds']:.1f} s (vocab {bare['vocab_size']:,}); stage / bare = {seconds / bare['seconds']:.2f}x"),
        Row("   peak RSS, train-tokenizer (VmHWM)", mib(memory.root_peak)),
    ]


def figure_reader(out: Path, args: argparse.Namespace) -> list[Row]:
    n, seconds, n_tokens = run_reader(out, args.reader_seconds)
    bare_n, bare_s = run_bare_gather(out, args.reader_seconds)
    out_bytes = n * WINDOW * 8
    token_bytes = n * WINDOW * 2
    log.info("reader: %d windows in %.2f s; bare gather %d in %.2f s", n, seconds, bare_n, bare_s)
    return [
        Row(f"5. reader: TokenDataset.sample_windows({WINDOWS_PER_BATCH}, {WINDOW}), mmap, warm",
            f"{out_bytes / seconds / 1e9:.2f} GB/s int64 out = {token_bytes / seconds / 1e9:.2f} GB/s uint16 read; "
            f"{n / seconds:,.0f} windows/s ({n_tokens:,} train tokens)"),
        Row("   ref: bare numpy gather (one shard's view, fancy index, .astype(int64))",
            f"{bare_n * WINDOW * 8 / bare_s / 1e9:.2f} GB/s int64 out; {bare_n / bare_s:,.0f} windows/s"),
    ]


# ---------------------------------------------------------------------------------------------


def warm_corpus(corpus: Corpus, folder: Path) -> Corpus:
    """The first 40 documents of every file: a small corpus to start Ray's workers on."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for p in corpus.files:
        path = folder / p.name
        if not path.exists():
            pq.write_table(pq.read_table(p).slice(0, 40), path, compression="zstd")
        paths.append(path)
    return Corpus(folder, paths, 40 * len(paths), 0, {}, {})


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 15 MB, 1 repetition")
    parser.add_argument("--mb", type=float, default=None, help="corpus size in MB (default 100; 15 with --quick)")
    parser.add_argument("--hf-mb", type=float, default=None,
                        help="MB the HF tokenizers baseline encodes, every k-th doc (default 25; 5 with --quick)")
    parser.add_argument("--train-mb", type=float, default=None,
                        help="--sample-bytes of train-tokenizer, in MB (default 50; 7 with --quick)")
    parser.add_argument("--reader-seconds", type=float, default=3.0, help="seconds the reader samples (default 3)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs of figures 1-2 (tiktoken and the local stage), median taken (default 2; 1 quick)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--no-scaling", dest="scaling", action="store_false", help="skip figure 3 (Ray)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="skip figure 4 (training)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the shared data folder (default {DATA})")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out" / "tokenize",
                        help="corpus and scratch outputs (default benchmarks/out/tokenize/)")
    parser.add_argument("--keep", action="store_true", help="keep every run's output folder")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the stage's own logging")
    parser.add_argument("--child", choices=["hf-encode", "hf-train"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.mb = args.mb if args.mb is not None else (15 if quick else 100)
    args.hf_mb = args.hf_mb if args.hf_mb is not None else (5 if quick else 25)
    args.train_mb = args.train_mb if args.train_mb is not None else (7 if quick else 50)
    args.repeats = args.repeats if args.repeats is not None else (1 if quick else 2)
    if args.mb < 1 or args.repeats < 1:
        parser.error("--mb must be >= 1 and --repeats >= 1")
    args.bpe = args.data / "gpt2-bpe"
    args.workdir = args.workdir.resolve()
    # each docs file its own shard task: ~1.5x a file's estimated tokens (the stage plans 4 bytes a token)
    args.shard_tokens = max(1000, int(args.mb * 1e6 / FILES / 4 * 1.5))
    return args


def corpus_of(args: argparse.Namespace) -> Corpus:
    return cached_corpus(args.data, args.workdir, int(args.mb * 1e6), FILES, args.seed)


def child_main(args: argparse.Namespace) -> int:
    corpus = corpus_of(args)
    if args.child == "hf-encode":
        result = child_hf_encode(args.bpe, corpus.files, int(args.hf_mb * 1e6))
    else:
        result = child_hf_train(corpus.files, int(args.train_mb * 1e6), 50257)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    started = begin(args, log)

    import tiktoken
    import tokenizers

    corpus = corpus_of(args)
    log.info("corpus %s: %s", corpus.folder, corpus.describe())
    docs = read_texts(corpus.files)
    warm = warm_corpus(corpus, args.workdir / f"{corpus.folder.name}-warmup")

    with FreshOut(args.workdir, "local", args.keep) as kept:
        rows, memory, tik_rate = figures_encode(corpus, docs, args, kept / "tokens")
        del docs
        reader = figure_reader(kept / "tokens", args)
    if args.scaling:
        scaling, ray_memory = figure_scaling(corpus, warm, args, tik_rate)
        rows += scaling
        memory += ray_memory
    if args.train:
        rows += figure_train(corpus, args)
    rows += reader + memory

    header = (
        f"webtext tokenize benchmark: GPT-2 BPE ({args.bpe}), corpus {corpus.describe()}; "
        f"median of {args.repeats}, {os.cpu_count()} CPUs, tiktoken {tiktoken.__version__}, tokenizers "
        f"{tokenizers.__version__}, Python {platform.python_version()}, {time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
