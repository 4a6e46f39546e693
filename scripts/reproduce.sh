#!/usr/bin/env bash
# `make reproduce`: the study end to end. Setup and the release build have already run (Makefile).
# Each step skips work that is already done and valid, so an interrupted run continues.
# Steps land with their issues; this script runs those that exist and says which do not yet.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
DATA=${DATA:-$ROOT/data}
SEED=${SEED:-1}
# Every student is trained once per seed in SEEDS (the same seeds for every loss); the teacher once,
# with SEED. Table 1 reports each student's mean ± std over these seeds (issue #17).
read -r -a STUDENT_SEEDS <<< "${SEEDS:-1 2 3}"
[ "${#STUDENT_SEEDS[@]}" -ge 1 ] || { echo "reproduce: SEEDS must list at least one seed" >&2; exit 2; }
for s in "${STUDENT_SEEDS[@]}"; do
  [[ "$s" =~ ^[0-9]+$ ]] || { echo "reproduce: SEEDS must be non-negative integers, got '$s'" >&2; exit 2; }
done
DEVICE=${DEVICE:-cpu}

# Knobs for reduced runs (the CI test uses them; empty by default):
#   SYNTH_ARGS  extra `preprocess synth` arguments, e.g. "--speakers 6 --utterances-per-speaker 4"
#   TRAIN_SET   extra `trainer train` arguments for every run, e.g. "--set epochs=1 --set steps_per_epoch=2"
#   EVAL_ARGS   extra `evaluator run` arguments, e.g. "--limit 2"; the embedded default scores the
#               first 24 windows of each test video (--max-windows 24, about half of each; more than
#               the 15 of the longest context K15), which fits the 25 evaluations
#               (teacher + 8 students × 3 seeds) into the budget; an LRS2 study runs the full protocol
#   SHARDS      a shard set made elsewhere (e.g. on a cluster): step 2 only verifies it
#   JOBS        students trained / models evaluated at once (default: 2 on CPU, 1 on CUDA); each
#               gets OMP_NUM_THREADS = cores / JOBS, since libtorch's OpenMP threads spin when
#               processes oversubscribe the cores
# The embedded corpus: 24 speakers × 10 utterances (162 pretrain, 20 val, 40 test clips), sized so
# the study fits 30 minutes on 2 cores; SYNTH_ARGS, when set, replaces these arguments.
read -r -a SYNTH_EXTRA <<< "${SYNTH_ARGS-"--utterances-per-speaker 10"}"
read -r -a TRAIN_EXTRA <<< "${TRAIN_SET:-}"
if [ -n "${LRS2_ROOT:-}" ]; then EVAL_DEFAULT=""; else EVAL_DEFAULT="--max-windows 24"; fi
read -r -a EVAL_EXTRA <<< "${EVAL_ARGS-$EVAL_DEFAULT}"
CORES=$(nproc)
if [ "$DEVICE" = cpu ]; then JOBS=${JOBS:-2}; else JOBS=${JOBS:-1}; fi
[ "$JOBS" -ge 1 ] 2>/dev/null || { echo "reproduce: JOBS must be a positive integer, got '$JOBS'" >&2; exit 2; }
THREADS=$(( CORES / JOBS > 0 ? CORES / JOBS : 1 ))

say() { printf 'reproduce: %s\n' "$*"; }
run() { if [ -n "${DRY_RUN:-}" ]; then printf '  %q' "$@"; printf '\n'; else "$@"; fi; }

# Wall time of each step of this invocation (a step already done costs ~0 s), for results/README.md.
T_START=$(date +%s)
T_STEP=$T_START
TIMINGS=()
timed() { # label: closes the step that just ran
  local now; now=$(date +%s)
  TIMINGS+=("$1|$(( now - T_STEP ))")
  T_STEP=$now
}

# The job queue (queue, drain): up to $JOBS at once, each logged to its own file.
source "$ROOT/scripts/lib/jobs.sh"

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
    run "$BIN/preprocess" synth --out "$CORPUS" --seed "$SEED" "${SYNTH_EXTRA[@]}"
  fi
  timed "1 synthetic corpus"
fi

if [ -n "${SHARDS:-}" ]; then
  # Made elsewhere, e.g. by the Slurm array in preprocess/deploy/ and `preprocess merge`.
  say "step 2: shards given: $SHARDS (not preprocessed here); verifying them"
  run "$BIN/preprocess" verify --shards "$SHARDS"
else
  SHARDS=$DATA/shards
  say "step 2: preprocess into shards ($SHARDS; complete shards are kept)"
  run "$BIN/preprocess" run --lrs2-root "$CORPUS" --splits "$SPLITS" --out "$SHARDS"
  run "$BIN/preprocess" verify --shards "$SHARDS"
fi
timed "2 preprocess + verify"

RUNS=${RUNS:-$ROOT/runs}
RESULTS=${RESULTS:-$ROOT/results}
if [ -n "${LRS2_ROOT:-}" ]; then CONF=$ROOT/configs/lrs2; else CONF=$ROOT/configs/embedded; fi
COMMON=(--set "shards=\"$SHARDS\"" --set "device=\"$DEVICE\"" --set "seed=$SEED" "${TRAIN_EXTRA[@]}")

# A run is done when its state says every epoch finished; an interrupted one is resumed.
# With QUEUED set, the command is queued for `drain` (parallel, logged) instead of run now.
train_run() { # name config overrides...
  local name=$1 conf=$2; shift 2
  local dir=$RUNS/$name cmd
  if [ -f "$dir/state/state.json" ] && [ -f "$dir/last.safetensors" ] && \
     [ "$(sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' "$dir/state/state.json")" = \
       "$(sed -n 's/^epochs = \([0-9]*\)/\1/p' "$dir/config.toml")" ]; then
    say "  $name: already trained ($dir)"
    return
  elif [ -f "$dir/config.toml" ]; then
    say "  $name: resuming"
    cmd=("$BIN/trainer" train --resume "$dir")
  else
    cmd=("$BIN/trainer" train --config "$conf" --out "$dir" "${COMMON[@]}" "$@")
  fi
  if [ -n "${QUEUED:-}" ]; then queue "$RUNS/$name.log" "${cmd[@]}"; else run "${cmd[@]}"; fi
}

if [ -n "${TEACHER:-}" ]; then
  say "step 3: teacher given: $TEACHER (no teacher training)"
  TEACHER_CKPT=$TEACHER
else
  say "step 3: train the teacher from scratch ($CONF/teacher.toml)"
  train_run teacher "$CONF/teacher.toml"
  TEACHER_CKPT=$RUNS/teacher/best.safetensors
  timed "3 teacher"
fi

# Queues the ±15-frame evaluation of a checkpoint unless its accuracy.json is newer.
eval_model() { # name checkpoint
  local name=$1 ckpt=$2
  if [ -f "$RESULTS/$name/accuracy.json" ] && [ "$RESULTS/$name/accuracy.json" -nt "$ckpt" ]; then
    say "  $name: already evaluated"
  else
    queue "$RESULTS/logs/$name.log" "$BIN/evaluator" run --model "$ckpt" --shards "$SHARDS" --split test \
      --out "$RESULTS/$name" --device "$DEVICE" "${EVAL_EXTRA[@]}"
  fi
}

say "step 4: distil the students (seeds ${STUDENT_SEEDS[*]}, the same budget each; $JOBS at a time, logs in $RUNS/*.log);"
say "  the teacher's evaluation (step 5) shares this queue"
MODELS=("teacher|$TEACHER_CKPT")
eval_model teacher "$TEACHER_CKPT"
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
for seed in "${STUDENT_SEEDS[@]}"; do
  for entry in "${STUDENTS[@]}"; do
    name=${entry%%|*}
    eval "extra=(${entry#*|})"
    QUEUED=1 train_run "student_${name}_s$seed" "$CONF/student.toml" \
      --set "teacher.checkpoint=\"$TEACHER_CKPT\"" "${extra[@]}" --set "seed=$seed"
  done
done
drain
timed "4 students"

say "step 5: evaluate every model (±15-frame protocol, split test) into $RESULTS"
for seed in "${STUDENT_SEEDS[@]}"; do
  for entry in "${STUDENTS[@]}"; do
    run_name="student_${entry%%|*}_s$seed"
    MODELS+=("$run_name|$RUNS/$run_name/best.safetensors")
    eval_model "$run_name" "$RUNS/$run_name/best.safetensors"
  done
done
drain
timed "5 evaluation"

say "step 6: tables and figures in $RESULTS"
DIRS=()
for m in "${MODELS[@]}"; do DIRS+=("$RESULTS/${m%%|*}"); done
run "$BIN/evaluator" compare "${DIRS[@]}" --published --out "$RESULTS"
# In the order of Table 1 (teacher, then the students by loss), so every figure colours a model alike.
RUN_DIRS=()
for m in "${MODELS[@]}"; do d=$RUNS/${m%%|*}; [ -d "$d" ] && RUN_DIRS+=("$d"); done
if [ ${#RUN_DIRS[@]} -gt 0 ]; then run "$BIN/trainer" plot "${RUN_DIRS[@]}" --out "$RESULTS/plots"; fi
timed "6 tables and figures"
if [ -z "${DRY_RUN:-}" ]; then
  {
    if [ -n "${LRS2_ROOT:-}" ]; then
      echo "# Results: LRS2 study"
    else
      echo "# Results: embedded default (synthetic corpus)"
      echo
      echo "**These are synthetic-corpus results, not LRS2 results.** The corpus is generated by"
      echo "\`preprocess synth\` (seed $SEED); the models are small presets trained on $CORES CPU cores."
    fi
    if [ -n "${SYNTH_ARGS:-}${TRAIN_SET:-}${EVAL_ARGS:-}" ]; then
      echo
      echo "**Reduced run** (not the embedded default): SYNTH_ARGS='${SYNTH_ARGS:-}'" \
        "TRAIN_SET='${TRAIN_SET:-}' EVAL_ARGS='${EVAL_ARGS:-}'."
    fi
    echo
    echo "## Study design"
    echo
    python3 - "$RUNS" "$RESULTS" "${STUDENT_SEEDS[*]}" "${EVAL_EXTRA[*]}" <<'PY'
import json, sys, pathlib, tomllib
runs, results, seeds, eval_args = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
def cfg(name):
    p = runs / name / "config.toml"
    return tomllib.loads(p.read_text()) if p.is_file() else None
def params(name):
    p = results / name / "provenance.json"
    return json.loads(p.read_text()).get("parameters") if p.is_file() else None
first = seeds.split()[0]
t, s = cfg("teacher"), cfg(f"student_mtd_uw13_s{first}")
tp, sp = params("teacher"), params(f"student_mtd_uw13_s{first}")
def budget(c):
    return f"{c['epochs'] * c['steps_per_epoch']} iterations of batch {c['batch_size']} at lr {c['lr']:g}"
if t and s and tp and sp:
    print(f"- Teacher: preset `{t['model']['preset']}`, {tp:,} parameters, trained once from scratch with BCE "
          f"({budget(t)}).")
    print(f"- Students: preset `{s['model']['preset']}`, {sp:,} parameters ({100 * sp / tp:.1f} % of the teacher; "
          f"MTDVocaLiST is 16.6 % of VocaLiST), one per loss, each trained with seeds {seeds.replace(' ', ', ')} "
          f"({budget(s)}); the same seeds for every loss.")
print(f"- Evaluation: the ±15-frame protocol on the test split"
      + (f", with `{eval_args}` (each test video's first windows only, to fit the time budget)." if eval_args else "."))
PY
    echo
    echo "## Table 1 shape (accuracy %, ±15-frame retrieval, test split)"
    echo
    cat "$RESULTS/table1.md"
    echo
    echo "Figures: \`fig2_size_vs_accuracy.png\` (Fig. 2), \`plots/loss_ratio.png\` (Fig. 4),"
    echo "\`plots/val_f1.png\`, \`plots/train_loss.png\`, \`plots/weights_*.png\`."
    echo
    echo "## Runs (config, seed, wall time)"
    echo
    echo "| run | loss | seed | iterations | best val F1 | train wall (s) |"
    echo "|---|---|---|---|---|---|"
    for d in "${RUN_DIRS[@]}"; do
      python3 - "$d" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
lines = [json.loads(l) for l in (d / "metrics.jsonl").read_text().splitlines()]
start = next(l for l in lines if l["event"] == "start")
epochs = [l for l in lines if l["event"] == "epoch"]
best = max((e["val"]["f1"] for e in epochs), default=float("nan"))
wall = sum(e.get("epoch_s", 0) for e in epochs)
cfg = start["config"]
print(f"| {d.name} | {cfg['loss']['kind']} {cfg['loss']['weighting'] if cfg['loss']['kind'] in ('mtd','nmtd') else ''} "
      f"| {cfg['seed']} | {epochs[-1]['step'] if epochs else 0} | {best:.4f} | {wall:.0f} |")
PY
    done
    echo
    echo "Each run's resolved config is \`config.toml\` in its run directory under \`$(basename "$RUNS")/\`;"
    echo "each evaluation's wall time is \`wall_s\` in its \`provenance.json\`."
    echo
    echo "## Wall time of the last \`make reproduce\` (device $DEVICE, $CORES cores, JOBS=$JOBS)"
    echo
    echo "Setup and the release build are not included. A step that was already done costs ~0 s."
    echo
    echo "| step | wall (s) |"
    echo "|---|---:|"
    for t in "${TIMINGS[@]}"; do echo "| ${t%%|*} | ${t#*|} |"; done
    echo "| **total** | **$(( $(date +%s) - T_START ))** |"
  } > "$RESULTS/README.md.tmp" && mv "$RESULTS/README.md.tmp" "$RESULTS/README.md"
fi
say "done in $(( $(date +%s) - T_START )) s: $RESULTS/README.md, table1.md/.csv/.json, fig2_size_vs_accuracy.png, plots/"
