#!/usr/bin/env bash
# Benchmark of `webtext-build train` on one GPU: GPT-2 124M (preset gpt2: 12 layers, 768 wide,
# context 1024, vocab 50257 padded to 50304), bf16 (FSDP2 mixed precision: bf16 parameters and
# compute, fp32 gradient reduction), torch.compile on each block, the paper's global batch of
# 512 x 1024 = 524,288 tokens a step (gradient accumulation over micro-batches). Prints the
# steady-state tokens/s and MFU (the trainer's own figures from RUN/metrics.jsonl: 6N + attention
# FLOPs per token over the device's dense bf16 peak, 989 TFLOP/s for an H100) over the steps
# after the first WARMUP ones, and what torch.compile cost (step 1 and the warm-up steps against
# the steady step). Target: >= 45% MFU on an H100/H200 (issue #19). One training run per ATTENTION kernel and
# COMPILE_MODE (default: two, --compile-mode default and max-autotune-no-cudagraphs, the candidate for the last
# points of MFU), compared in one table at the end. Runs in under 10 minutes: each training run is stopped after
# TIME_LIMIT seconds and all of them by TOTAL_LIMIT (the steps done by then are reported).
#
# Self-contained, no network: the tokens are synthetic (seeded, Zipf-distributed ids of the GPT-2
# vocabulary, so the loss visibly falls) and written with the project's own shard writer by
# benchmarks/_train_data.py; webtext is imported from this checkout (PYTHONPATH), so python3 with
# torch (CUDA), numpy and pyarrow is all it needs (neither ../shared/data nor a tokenizer).
# Launched with torchrun semantics: `python -m torch.distributed.run --standalone
# --nproc-per-node NPROC -m webtext.train ...` (LAUNCH=cli: `python -m webtext.cli train`, the
# `webtext-build train` entry point, one process).
#
#   bash benchmarks/gpu_train.sh                       # from the repository root (or anywhere)
#   MICRO=16 STEPS=40 bash benchmarks/gpu_train.sh     # knobs below, as environment variables
#
# Knobs: PYTHON (python3), STEPS (30), WARMUP (8), MICRO (64 sequences per forward; on CUDA
# out-of-memory the run is retried once with MICRO/2), BATCH_TOKENS (524288), NPROC (1), LAUNCH
# (torchrun | cli), ATTENTION (auto: a space-separated list of --attention kernels, one training run each,
# e.g. "auto cudnn" to compare them), COMPILE_MODES ("default max-autotune-no-cudagraphs": --compile-mode
# values, one training run each), PAD_VOCAB (1), TOKENS (16777216 synthetic tokens; windows wrap around),
# TIME_LIMIT (240 s for a training run), TOTAL_LIMIT (540 s for all of them together), WORK
# (benchmarks/out/gpu_train, git-ignored), EVAL_DATA (see step 4; unset: no eval), EVAL_BATCH (32); to
# smoke-test this script without a GPU: DEVICE=cpu PRESET=tiny COMPILE=0 BATCH_TOKENS=4096 MICRO=16
# STEPS=4 WARMUP=1 TOKENS=200000 bash benchmarks/gpu_train.sh
# Outputs: WORK/run/metrics.jsonl, WORK/train.log, WORK/summary.txt; also copied into $OUT when
# that is set (the device tool's output folder).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-8}
MICRO=${MICRO:-64}
BATCH_TOKENS=${BATCH_TOKENS:-524288}
NPROC=${NPROC:-1}
LAUNCH=${LAUNCH:-torchrun}
PAD_VOCAB=${PAD_VOCAB:-1}
TOKENS=${TOKENS:-16777216}
TIME_LIMIT=${TIME_LIMIT:-240}
DEVICE=${DEVICE:-cuda}
PRESET=${PRESET:-gpt2}
COMPILE=${COMPILE:-1}
ATTENTION=${ATTENTION:-auto}
COMPILE_MODES=${COMPILE_MODES:-default max-autotune-no-cudagraphs}
TOTAL_LIMIT=${TOTAL_LIMIT:-540}
[ "$COMPILE" = 1 ] || COMPILE_MODES=default  # without --compile the mode changes nothing
WORK=${WORK:-$REPO/benchmarks/out/gpu_train}
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
START=$(date +%s)

mkdir -p "$WORK"
rm -f "$WORK/summary.txt" "$WORK/variants.tsv"
echo "== gpu_train.sh: preset ${PRESET} on ${DEVICE}, compile ${COMPILE}, ${BATCH_TOKENS} tokens a step, ${STEPS} steps," \
     "micro-batch ${MICRO}, ${NPROC} process(es) via ${LAUNCH}"
[ "$DEVICE" = cuda ] && "$PYTHON" - <<'EOF'
import platform, torch
assert torch.cuda.is_available(), "no CUDA device: this benchmark needs a GPU"
p = torch.cuda.get_device_properties(0)
print(f"== {torch.cuda.get_device_name(0)} ({p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs), "
      f"{torch.cuda.device_count()} GPU(s); torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"Python {platform.python_version()}")
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader || true

# 1. Tokens (cached in WORK/tok for a rerun on the same machine).
t0=$(date +%s)
"$PYTHON" "$REPO/benchmarks/_train_data.py" synthetic --out "$WORK/tok" --tokens "$TOKENS"
echo "== tokens ready in $(( $(date +%s) - t0 )) s"

# 2. Training (stopped after TIME_LIMIT s), once per ATTENTION kernel and COMPILE_MODE; one retry with half the
# micro-batch on CUDA out-of-memory.
train() {  # $1: micro-batch size; $2: seconds allowed
    local micro=$1 limit=$2
    local flags=(--data "$WORK/tok" --preset "$PRESET" --device "$DEVICE" --max-steps "$STEPS" --attention "$ATT"
                 --total-batch-tokens "$BATCH_TOKENS" --micro-batch-size "$micro" --log-every 5 --out "$WORK/run")
    if [ "$COMPILE" = 1 ]; then flags+=(--compile --compile-mode "$MODE"); fi
    if [ "$PAD_VOCAB" = 1 ]; then flags+=(--pad-vocab); fi
    rm -rf "$WORK/run"
    if [ "$LAUNCH" = cli ]; then
        cmd=("$PYTHON" -m webtext.cli train --nproc "$NPROC" "${flags[@]}")
    else
        cmd=("$PYTHON" -m torch.distributed.run --standalone --nproc-per-node "$NPROC" -m webtext.train "${flags[@]}")
    fi
    echo "== $(printf '%q ' "${cmd[@]}")"
    local status=0
    TRAIN_T0=$(date +%s.%N)
    timeout --signal=TERM --kill-after=20 "$limit" "${cmd[@]}" 2>&1 | tee "$WORK/train.log" || status=${PIPESTATUS[0]}
    TRAIN_T1=$(date +%s.%N)
    return "$status"
}

TRAINING_START=$(date +%s)
FIRST_MICRO=$MICRO
for ATT in $ATTENTION; do
for MODE in $COMPILE_MODES; do
MICRO=$FIRST_MICRO
VARIANT="--attention ${ATT}"
if [ "$COMPILE" = 1 ]; then VARIANT+=" --compile-mode ${MODE}"; fi
limit=$(( TOTAL_LIMIT - ($(date +%s) - TRAINING_START) ))
if [ "$limit" -gt "$TIME_LIMIT" ]; then limit=$TIME_LIMIT; fi
if [ "$limit" -lt 60 ]; then
    echo "== ${VARIANT}: not run, TOTAL_LIMIT (${TOTAL_LIMIT} s) reached" | tee -a "$WORK/summary.txt"
    continue
fi
echo "== training with ${VARIANT} (at most ${limit} s)"
MEM_PID=""
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 1000 >"$WORK/gpu-memory.log" 2>/dev/null &
    MEM_PID=$!
fi
status=0
TRAIN_START=$(date +%s)
train "$MICRO" "$limit" || status=$?
left=$(( limit + 45 - ($(date +%s) - TRAIN_START) ))
if [ "$status" != 0 ] && [ "$MICRO" -ge 2 ] && [ "$left" -ge 60 ] \
        && grep -q "OutOfMemoryError\|CUDA out of memory" "$WORK/train.log"; then
    MICRO=$(( MICRO / 2 ))
    echo "== CUDA out of memory: retrying with micro-batch ${MICRO} for at most ${left} s"
    status=0
    train "$MICRO" "$left" || status=$?
fi
[ -n "$MEM_PID" ] && kill "$MEM_PID" 2>/dev/null || true
case "$status" in
    0) ;;
    124|137) echo "== the training run reached TIME_LIMIT and was stopped: the steps it finished are reported" ;;
    *) echo "== the training run failed with status $status (see $WORK/train.log)" ;;
esac

# 3. Summary from metrics.jsonl (and one line per variant in WORK/variants.tsv for the table at the end).
summary=0
"$PYTHON" - "$WORK" "$WARMUP" "$BATCH_TOKENS" "$MICRO" "$TRAIN_T0" "$TRAIN_T1" "$START" "$VARIANT" <<'EOF' \
    | tee -a "$WORK/summary.txt" || summary=$?
import json, statistics, sys, time
from pathlib import Path

work, warmup, batch_tokens, micro = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0, t1, start, variant = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
path = work / "run" / "metrics.jsonl"
rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
print(f"== summary ({variant}): {len(rows)} step(s) done, micro-batch {micro}, {batch_tokens:,} "
      "tokens a step")
if not rows:
    print("no steps finished: no figures (see train.log)")
    with open(work / "variants.tsv", "a") as f:
        f.write(f"{variant}\t{micro}\t0\t-\t-\t-\n")
    sys.exit(1)
dts = [batch_tokens / r["tokens_per_s"] for r in rows]
steady = [r for r in rows if r["step"] > warmup] or rows[len(rows) // 2:]
tps = statistics.median(r["tokens_per_s"] for r in steady)
mfus = [r["mfu"] for r in steady if r.get("mfu") is not None]
dt = batch_tokens / tps
first = [f"{d:.1f}" for d in dts[:min(len(dts), warmup)]]
losses = [r["loss"] for r in rows if r.get("loss") is not None]
mem = work / "gpu-memory.log"
peak_mem = max((int(x) for x in mem.read_text().split() if x.isdigit()), default=0) if mem.exists() else 0
print(f"steady state (steps {steady[0]['step']}-{steady[-1]['step']}, median): {tps:,.0f} tokens/s, "
      f"{dt:.2f} s a step")
if mfus:
    mfu = statistics.median(mfus)
    print(f"MFU (median): {mfu:.1%}   target >= 45% on an H100/H200: {'PASS' if mfu >= 0.45 else 'below target'}")
else:
    print("MFU: none (the trainer knows no peak for this device; give --peak-tflops)")
print(f"torch.compile: step 1 took {dts[0]:.1f} s (steady {dt:.2f} s): ~{dts[0] - dt:.0f} s of compilation; "
      f"warm-up steps (s): {', '.join(first)}; all warm-up steps over steady: "
      f"{sum(d - dt for d in dts[:warmup]):.0f} s")
print(f"wall: training command {t1 - t0:.0f} s (start-up, {len(rows)} steps, final checkpoint); "
      f"this script {time.time() - start:.0f} s so far")
print(f"loss: {losses[0]:.3f} (step 1) -> {losses[-1]:.3f} (step {rows[-1]['step']})" if losses else "loss: none")
if peak_mem:
    print(f"GPU memory used, peak (nvidia-smi, 1 s samples): {peak_mem:,} MiB")
mfu_text = f"{statistics.median(mfus):.1%}" if mfus else "-"
with open(work / "variants.tsv", "a") as f:
    f.write(f"{variant}\t{micro}\t{len(rows)}\t{tps:,.0f}\t{mfu_text}\t{dts[0] - dt:.0f}\n")
EOF
tag=${ATT}-${MODE}
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    cp "$WORK/run/metrics.jsonl" "$OUT/metrics-$tag.jsonl" 2>/dev/null || true
    cp "$WORK/train.log" "$OUT/train-$tag.log" 2>/dev/null || true
fi
if [ "$status" = 124 ] || [ "$status" = 137 ]; then status=$summary; fi  # stopped at TIME_LIMIT: figures still count
[ "$status" = 0 ] || overall=$status
done
done
status=${overall:-0}
if [ -s "$WORK/variants.tsv" ]; then
    { echo "== the training runs side by side (median of the steps after WARMUP; compile: step 1 over a steady step)"
      printf '%-62s %6s %6s %14s %7s %10s\n' variant micro steps tokens/s MFU compile_s
      while IFS=$'\t' read -r v m n t f c; do printf '%-62s %6s %6s %14s %7s %10s\n' "$v" "$m" "$n" "$t" "$f" "$c"
      done <"$WORK/variants.tsv"; } | tee -a "$WORK/summary.txt"
fi
# 4. Eval throughput (issue #14's GPU check), when EVAL_DATA names a folder holding gpt2-bpe/ (GPT-2's
# encoder.json + vocab.bpe), wikitext-2/{test,valid}.txt and ptb/ptb.test.txt: GPT-2 124M (random
# weights: speed does not depend on them) over WikiText-2 test, PTB test and 5,153 LAMBADA-format
# passages, bf16, through `webtext-build eval` as a whole process. Target: under 2 minutes.
if [ -n "${EVAL_DATA:-}" ] && [ "$DEVICE" = cuda ]; then
    echo "== eval: GPT-2 124M on WikiText-2 + PTB + LAMBADA-format passages, bf16"
    "$PYTHON" "$REPO/benchmarks/gpu_eval.py" --bpe "$EVAL_DATA/gpt2-bpe" --wikitext "$EVAL_DATA/wikitext-2/test.txt" \
        --wikitext-valid "$EVAL_DATA/wikitext-2/valid.txt" --ptb "$EVAL_DATA/ptb/ptb.test.txt" --device cuda \
        --batch-size "${EVAL_BATCH:-32}" 2>&1 | tee "$WORK/eval.log" | tail -4 || echo "== eval failed (see $WORK/eval.log)"
fi
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    cp "$WORK/summary.txt" "$OUT/" 2>/dev/null || true
    cp "$WORK/eval.log" "$OUT/" 2>/dev/null || true
fi
echo "== done in $(( $(date +%s) - START )) s"
exit "$status"
