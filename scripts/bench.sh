#!/usr/bin/env bash
# `make bench`: ours against our PyTorch baseline (bench/torch_baseline.py, checked against the
# golden outputs by tests/tests/torch_baseline.rs) on the same machine, batch, threads and device,
# in one go; prints the ratios ours ÷ PyTorch (below 1 = we are faster). Then the import bench of
# issue #15 when the GRID samples are beside the checkout.
#
# Knobs: BATCH (16), ITERS (3), THREADS (2), BIN (target/release), PYTHON (.venv/bin/python).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
PYTHON=${PYTHON:-${LIPSYNC_PYTHON:-$ROOT/.venv/bin/python}}
BATCH=${BATCH:-16}
ITERS=${ITERS:-3}
THREADS=${THREADS:-2}
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "bench: batch $BATCH, $THREADS threads, $ITERS timed iterations after one warm-up, CPU"
"$BIN/trainer" bench --batch "$BATCH" --iters "$ITERS" --json > "$work/ours.json"
"$PYTHON" "$ROOT/bench/torch_baseline.py" bench --batch "$BATCH" --iters "$ITERS" --threads "$THREADS" > "$work/torch.json"
"$PYTHON" - "$work/ours.json" "$work/torch.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
rows = [("teacher forward (VocaLiST 80.1M)", ours[0]["s_per_iter"], torch["teacher_forward_s"]),
        ("student BCE step: fwd+bwd+Adam (MTDVocaLiST 13.3M)", ours[1]["s_per_iter"], torch["student_step_s"]),
        ("full MTD step: teacher fwd + student fwd/bwd + UW-13D + Adam", ours[2]["s_per_iter"], torch["mtd_step_s"])]
print(f"| path (batch {torch['batch']}, {torch['threads']} threads, torch {torch['torch']}) | ours s/iter | PyTorch s/iter | ours ÷ PyTorch |")
print("|---|---:|---:|---:|")
for name, a, b in rows:
    print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f}× |")
PY
