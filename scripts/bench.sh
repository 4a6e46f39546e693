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
"$PYTHON" "$ROOT/bench/torch_baseline.py" bench --paths train --batch "$BATCH" --iters "$ITERS" --threads "$THREADS" > "$work/torch.json"
"$PYTHON" - "$work/ours.json" "$work/torch.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
rows = [("teacher forward (VocaLiST 80.1M)", ours[0], "teacher_forward"),
        ("student BCE step: fwd+bwd+Adam (MTDVocaLiST 13.3M)", ours[1], "student_step"),
        ("full MTD step: teacher fwd + student fwd/bwd + UW-13D + Adam", ours[2], "mtd_step")]
print(f"| path (batch {torch['batch']}, {torch['threads']} threads, torch {torch['torch']}) | ours s/iter | PyTorch s/iter | ours ÷ PyTorch | peak RSS so far, ours / PyTorch |")
print("|---|---:|---:|---:|---:|")
for name, o, key in rows:
    a, b = o["s_per_iter"], torch[f"{key}_s"]
    rss = f"{o['peak_rss_mb'] / 1e3:.2f} / {torch[f'{key}_peak_rss_mb'] / 1e3:.2f} GB" if o.get("peak_rss_mb") else "n/a"
    print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f}× | {rss} |")
PY

GRID=$ROOT/../shared/grid_samples

# Evaluation (issue #16): seconds per 5-frame window, `evaluator run` (fast path) on the GRID
# samples with the MTDVocaLiST architecture (golden random weights) against test_stu.py's cost,
# one batch-31 student forward per window in PyTorch (`--paths eval`: a process of its own, so
# the peak RSS columns compare the evaluation alone).
GOLDEN=$ROOT/../shared/golden
if [ -d "$GRID" ] && [ -f "$GOLDEN/mtdvocalist_rand.pth" ]; then
  "$PYTHON" "$ROOT/bench/torch_baseline.py" bench --paths eval --iters "$ITERS" --threads "$THREADS" > "$work/torch-eval.json"
  "$BIN/preprocess" run --lrs2-root "$GRID/lrs2_layout" --splits test --out "$work/grid-shards" --quiet > /dev/null
  said=$("$BIN/evaluator" run --model "$GOLDEN/mtdvocalist_rand.pth" --shards "$work/grid-shards" --out "$work/eval" --quiet)
  "$PYTHON" - "$work/eval/scores.parquet" "$work/torch-eval.json" "$said" <<'PY'
import json, re, sys
import pyarrow.parquet as pq
windows = pq.read_metadata(sys.argv[1]).num_rows
seconds = float(re.search(r"([0-9.]+) s \(fast path", sys.argv[3]).group(1))
rss = re.search(r"peak RSS ([0-9]+) MB", sys.argv[3])
ref = json.load(open(sys.argv[2]))
ours = seconds / windows
mem = f"{int(rss.group(1)) / 1e3:.2f} / {ref['eval_window_peak_rss_mb'] / 1e3:.2f} GB" if rss else "n/a"
print(f"| evaluation, per 5-frame window (MTDVocaLiST, {windows} windows; PyTorch: one batch-31 forward) | {ours * 1000:.1f} ms | {ref['eval_window_s'] * 1000:.1f} ms | {ours / ref['eval_window_s']:.3f}× ({ref['eval_window_s'] / ours:.0f}× faster) | {mem} |")
PY
else
  echo "bench: skipped the evaluation row: GRID samples or golden checkpoints absent"
fi

# Issue #19: `evaluator lse` against our PyTorch version of the reference pipeline
# (bench/syncnet_reference.py: JPEG files, cv2.imread, scipy WAV, python_speech_features,
# batches of 20; its `check` mode proves it gives the golden numbers first), per video, on the
# three golden SyncNet videos listed three times (nine 3-s 224×224 clips). Ours includes loading
# the weights and starting the process; the reference's per-video time excludes both.
SN=$GOLDEN/syncnet
if [ -f "$SN/syncnet_rand.model" ]; then
  "$PYTHON" "$ROOT/bench/syncnet_reference.py" check "$SN" > /dev/null
  mkdir -p "$work/lse-in"
  for i in 1 2 3; do for v in "$SN"/*.mp4; do ln -sf "$v" "$work/lse-in/$(basename "$v" .mp4)_$i.mp4"; done; done
  "$PYTHON" "$ROOT/bench/syncnet_reference.py" bench --weights "$SN/syncnet_rand.model" --threads "$THREADS" "$work"/lse-in/*.mp4 > "$work/lse-ref.json"
  t0=$(date +%s.%N)
  "$BIN/evaluator" lse --dir "$work/lse-in" --syncnet "$SN/syncnet_rand.model" --out "$work/lse-out" --jobs "$THREADS" --quiet > /dev/null
  t1=$(date +%s.%N)
  "$PYTHON" - "$work/lse-ref.json" "$t0" "$t1" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
ours = (float(sys.argv[3]) - float(sys.argv[2])) / ref["videos"]
print(f"| LSE-C/LSE-D, per 3-s 224×224 video ({ref['videos']} videos, {ref['threads']} threads) | {ours:.2f} s | {ref['s_per_video']:.2f} s | {ours / ref['s_per_video']:.2f}× ({ref['s_per_video'] / ours:.2f}× faster) |")
PY
else
  echo "bench: skipped the LSE row: $SN absent"
fi

# Issue #31: `evaluator lse` on a full-frame video against our PyTorch version of the reference
# pipeline (bench/fullframe_reference.py: run_pipeline's AVI + JPEGs, S3FD on every frame, shots,
# tracks, XVID crops, then SyncNet; its `check` mode proves its S3FD gives the golden boxes
# first), on a 9-s 1920×1080 clip made from a GRID clip, with the stand-in S3FD weights
# (bench/s3fd_weights.py) and the random SyncNet weights. The face-track stage (everything before
# SyncNet) is compared: the reference's with S3FD on every frame; ours in exact mode with the same
# S3FD (one libtorch thread per video, as every lse forward), and in fast mode (rustface every 5th
# frame), which also finds the face and scores its track. Random S3FD weights find no face at
# threshold 0.9, so the reference and our exact mode stop at the face-track stage.
if [ -f "$SN/syncnet_rand.model" ] && [ -d "$GRID" ]; then
  "$PYTHON" "$ROOT/bench/s3fd_weights.py" "$work/sfd.pth"
  "$PYTHON" "$ROOT/bench/fullframe_reference.py" check "$ROOT/tests/golden/s3fd.json" "$work/sfd.pth" > /dev/null
  ffmpeg -nostdin -v error -y -stream_loop 2 -i "$GRID/raw/bbaf2n.mpg" \
    -vf "scale=1080:864,pad=1920:1080:420:108,setsar=1" -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -c:a aac "$work/hd.mp4"
  "$PYTHON" "$ROOT/bench/fullframe_reference.py" bench "$work/hd.mp4" --s3fd "$work/sfd.pth" --syncnet "$SN/syncnet_rand.model" --threads "$THREADS" > "$work/ff-ref.json"
  for mode in exact fast; do
    det=(); [ "$mode" = exact ] && det=(--detector s3fd --detector-weights "$work/sfd.pth")
    LIPSYNC_STAGE_TIMES=1 "$BIN/evaluator" lse "$work/hd.mp4" --full-frame --tracks "$mode" "${det[@]}" \
      --syncnet "$SN/syncnet_rand.model" --out "$work/ff-$mode" --quiet 2> "$work/ff-$mode.log" > /dev/null
  done
  "$PYTHON" - "$work/ff-ref.json" "$work/ff-exact.log" "$work/ff-fast.log" <<'PY'
import json, re, sys
ref = json.load(open(sys.argv[1]))
def stage(log):
    m = re.search(r"face tracks ([0-9.]+) s .*syncnet ([0-9.]+) s", open(log).read())
    return float(m.group(1)), float(m.group(2))
(ex, _), (fa, fa_sn) = stage(sys.argv[2]), stage(sys.argv[3])
r = ref["face_track_stage_s"]
share = ref["detector_network_s"] / r
print(f"| full-frame face tracks, 9-s 1920×1080 clip ({ref['frames']} frames): exact, S3FD every frame (ours 1 thread, reference {ref['threads']}) | {ex:.1f} s | {r:.1f} s | {ex / r:.2f}× ({r / ex:.2f}× faster); S3FD's network is {100 * share:.0f} % of the reference's |")
print(f"| the same, fast (rustface every 5th frame), against the reference's exact | {fa:.1f} s (+ {fa_sn:.1f} s SyncNet on the track) | {r:.1f} s | {fa / r:.3f}× ({r / fa:.1f}× faster) |")
PY
else
  echo "bench: skipped the full-frame row: $SN or $GRID absent"
fi

# Issue #18: live scoring (`evaluator sync --stream`) per preset on 1 and 2 threads: windows/s,
# time per stage, the hop that keeps up with 25 fps and the latency of a paced run at that hop.
if [ -d "$GRID" ]; then
  "$BIN/evaluator" bench-stream --video "$GRID/raw/bbaf2n.mpg" --presets mtdvocalist,micro --threads 1,2 --seconds 8
else
  echo "bench: skipped the stream bench: $GRID absent"
fi

# Issue #15: `preprocess import` against the Python loaders, on a Wav2Lip-layout corpus made from
# the GRID samples (8 utterances, face crops of 24–420 px) repeated 16 times (8,288 frames).
if [ -d "$GRID" ]; then
  "$PYTHON" "$ROOT/preprocess/tests/wav2lip_reference.py" build "$GRID/raw" "$GRID/lrs2_layout/manifest.tsv" "$work/w2l"
  big=$work/w2l-x16
  mkdir -p "$big/filelists"
  for c in $(seq -w 1 16); do
    while read -r utt _; do
      mkdir -p "$big/c$c-${utt%%/*}"
      cp -rl "$work/w2l/$utt" "$big/c$c-$utt"
      echo "c$c-$utt" >> "$big/filelists/test.txt"
    done < "$work/w2l/filelists/test.txt"
  done
  for resize in opencv torchvision; do
    "$BIN/preprocess" bench --layout wav2lip --root "$big" --resize "$resize" --python "$PYTHON" --jobs "$THREADS"
  done
else
  echo "bench: skipped the import bench: $GRID absent"
fi

