#!/usr/bin/env bash
# What `evaluator sync`'s confidence means, measured (issue #18): synthetic clips that are in
# sync, shifted within the ±15-frame search range, and shifted beyond it (no candidate is right),
# measured in one batch call with the shipped synthetic model; prints per group how often the
# offset is right and the spread of the confidence and of the prominence, and for each the keep
# threshold that drops every clip beyond the range.
#
# Knobs: SPEAKERS (8), UTTS (6), SEED (11: speakers the shipped model never saw), BIN, PYTHON, OUT.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
PYTHON=${PYTHON:-${LIPSYNC_PYTHON:-$ROOT/.venv/bin/python}}
SPEAKERS=${SPEAKERS:-8}
UTTS=${UTTS:-6}
SEED=${SEED:-11}
OUT=${OUT:-$(mktemp -d)}
MODEL=${MODEL:-$ROOT/models/synth-micro-teacher.safetensors}

"$BIN/preprocess" synth --out "$OUT/corpus" --speakers "$SPEAKERS" --utterances-per-speaker "$UTTS" \
  --seed "$SEED" --offset-frames 0,3,-6,20,0,-9,-24,12 --quiet > /dev/null
"$BIN/evaluator" sync --dir "$OUT/corpus/mvlrs_v1" --model "$MODEL" --out "$OUT/sync" --quiet > /dev/null
"$PYTHON" - "$OUT/sync/sync.parquet" "$OUT/corpus/mvlrs_v1/synth.json" <<'PY'
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1]).to_pylist()
truth = json.load(open(sys.argv[2]))["offsets"]
groups = {"in sync (0)": [], "shifted within ±15 (3, −6, −9, 12)": [], "shifted beyond ±15 (20, −24)": []}
for r in t:
    k = truth[r["utt_id"].split("/", 1)[1]]  # ids under mvlrs_v1: main/… or pretrain/…
    g = list(groups)[0 if k == 0 else 1 if abs(k) <= 15 else 2]
    groups[g].append(r | {"right": r["offset_frames"] == k})
def q(v, p):
    v = sorted(v); return v[round((len(v) - 1) * p)]
for measure in ("confidence", "prominence"):
    print(f"\n{measure}:\n")
    print(f"| clips | n | offset right | {measure} min | p10 | median | p90 | max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for g, rows in groups.items():
        c = [r[measure] for r in rows]
        right = sum(r["right"] for r in rows)
        print(f"| {g} | {len(rows)} | {right} | {min(c):.3f} | {q(c, .1):.3f} | {q(c, .5):.3f} | {q(c, .9):.3f} | {max(c):.3f} |")
    beyond = [r[measure] for r in list(groups.values())[2]]
    within = [r[measure] for rows in list(groups.values())[:2] for r in rows]
    cut = max(beyond)
    kept = sum(x > cut for x in within)
    print(f"\n`{measure} > {cut:.3f}` (the largest beyond the range) keeps {kept} of {len(within)} clips whose true offset is in the range and drops every clip beyond it.")
PY
echo "sync_confidence: outputs in $OUT"
