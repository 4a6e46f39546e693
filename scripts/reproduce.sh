#!/usr/bin/env bash
# `make reproduce`: the study end to end. Setup and the release build have already run (Makefile).
# Each step skips work that is already done and valid, so an interrupted run continues.
# Steps land with their issues; this script runs those that exist and says which do not yet.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release"
DATA=${DATA:-$ROOT/data}
SEED=${SEED:-1}
DEVICE=${DEVICE:-cpu}

say() { printf 'reproduce: %s\n' "$*"; }
run() { if [ -n "${DRY_RUN:-}" ]; then printf '  %q' "$@"; printf '\n'; else "$@"; fi; }

if [ -n "${LRS2_ROOT:-}" ]; then
  say "LRS2 study: corpus at $LRS2_ROOT"
  CORPUS=$LRS2_ROOT
  SPLITS=pretrain,val,test
else
  CORPUS=$DATA/synth
  SPLITS=pretrain,val,test
  say "step 1: synthetic corpus (seed $SEED) in $CORPUS"
  if [ -f "$CORPUS/mvlrs_v1/synth.json" ]; then
    say "  already generated ($CORPUS/mvlrs_v1/synth.json)"
  else
    run "$BIN/preprocess" synth --out "$CORPUS" --seed "$SEED"
  fi
fi

say "step 2: preprocess into shards ($DATA/shards; complete shards are kept)"
run "$BIN/preprocess" run --lrs2-root "$CORPUS" --splits "$SPLITS" --out "$DATA/shards"
run "$BIN/preprocess" verify --shards "$DATA/shards"

RUNS=${RUNS:-$ROOT/runs}
RESULTS=${RESULTS:-$ROOT/results}
if [ -n "${LRS2_ROOT:-}" ]; then CONF=$ROOT/configs/lrs2; else CONF=$ROOT/configs/embedded; fi
COMMON=(--set "shards=\"$DATA/shards\"" --set "device=\"$DEVICE\"" --set "seed=$SEED")

# A run is done when its state says every epoch finished; an interrupted one is resumed.
train_run() { # name config overrides...
  local name=$1 conf=$2; shift 2
  local dir=$RUNS/$name
  if [ -f "$dir/state/state.json" ] && [ -f "$dir/last.safetensors" ] && \
     [ "$(sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' "$dir/state/state.json")" = \
       "$(sed -n 's/^epochs = \([0-9]*\)/\1/p' "$dir/config.toml")" ]; then
    say "  $name: already trained ($dir)"
  elif [ -f "$dir/config.toml" ]; then
    say "  $name: resuming"
    run "$BIN/trainer" train --resume "$dir"
  else
    run "$BIN/trainer" train --config "$conf" --out "$dir" "${COMMON[@]}" "$@"
  fi
}

if [ -n "${TEACHER:-}" ]; then
  say "step 3: teacher given: $TEACHER (no teacher training)"
  TEACHER_CKPT=$TEACHER
else
  say "step 3: train the teacher from scratch ($CONF/teacher.toml)"
  train_run teacher "$CONF/teacher.toml"
  TEACHER_CKPT=$RUNS/teacher/best.safetensors
fi

say "step 4: distil the students (same seed and budget each)"
STUDENTS=(
  "bce|--set loss.kind=\"bce\""
  "kd|--set loss.kind=\"kd\""
  "rkd|--set loss.kind=\"rkd\""
  "minilm_star|--set loss.kind=\"minilm_star\""
  "fitnets|--set loss.kind=\"fitnets\""
  "nmtd_uniform|--set loss.kind=\"nmtd\" --set loss.weighting=\"uniform\""
  "mtd_uw13|--set loss.kind=\"mtd\" --set loss.weighting=\"uw13\""
  "mtd_uw25|--set loss.kind=\"mtd\" --set loss.weighting=\"uw25\""
)
for entry in "${STUDENTS[@]}"; do
  name=${entry%%|*}
  eval "extra=(${entry#*|})"
  train_run "student_$name" "$CONF/student.toml" --set "teacher.checkpoint=\"$TEACHER_CKPT\"" "${extra[@]}"
done

say "step 5: evaluate every model (±15-frame protocol, split test) into $RESULTS"
MODELS=("teacher|$TEACHER_CKPT")
for entry in "${STUDENTS[@]}"; do
  name=${entry%%|*}
  MODELS+=("student_$name|$RUNS/student_$name/best.safetensors")
done
for m in "${MODELS[@]}"; do
  name=${m%%|*}; ckpt=${m#*|}
  if [ -f "$RESULTS/$name/accuracy.json" ] && [ "$RESULTS/$name/accuracy.json" -nt "$ckpt" ]; then
    say "  $name: already evaluated"
  else
    run "$BIN/evaluator" run --model "$ckpt" --shards "$DATA/shards" --split test --out "$RESULTS/$name" --device "$DEVICE"
  fi
done
say "done: per-model results in $RESULTS/<model>/ (accuracy.md, accuracy.csv, accuracy.json, scores.parquet)"
