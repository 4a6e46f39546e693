#!/usr/bin/env bash
# README "Your own videos": a full-frame clip with two people and a cut, made from the synthetic
# corpus (two faces side by side, the left one saying the audio, the right one saying something
# else backwards; then a cut to a third face), through `evaluator sync --tracks` (the shipped
# model) and `evaluator lse` (SyncNet weights: $SYNCNET, default the random ones of
# ../shared/golden/syncnet). Writes docs/sample/tracks.png and prints both tables.
#
#     scripts/demo_tracks.sh [WORKDIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/target/release"
WORK="${1:-$(mktemp -d)}"
SYNCNET="${SYNCNET:-$ROOT/../shared/golden/syncnet/syncnet_rand.model}"
mkdir -p "$WORK"

"$BIN/preprocess" synth --out "$WORK/synth" --speakers 3 --utterances-per-speaker 1 --seed 7 --quiet
S="$WORK/synth/mvlrs_v1/main"
ffmpeg -nostdin -v error -y -i "$S/spk0000/00001.mp4" -i "$S/spk0001/00001.mp4" -i "$S/spk0002/00001.mp4" \
  -filter_complex "[1:v]reverse[o];[0:v][o]hstack=shortest=1,scale=640:320,setsar=1[two];\
[2:v]scale=320:320,pad=640:320:160:0:gray,setsar=1[one];[two][one]concat=n=2:v=1:a=0[v];\
[0:a][2:a]concat=n=2:v=0:a=1[a]" \
  -map "[v]" -map "[a]" -c:v libx264 -crf 18 -pix_fmt yuv420p -c:a aac "$WORK/demo.mp4"

echo "## evaluator sync --tracks fast"
"$BIN/evaluator" sync "$WORK/demo.mp4" --model "$ROOT/models/synth-micro-teacher.safetensors" \
  --tracks fast --picture "$ROOT/docs/sample/tracks.png"
echo
echo "## evaluator lse (exact tracks, run_pipeline's thresholds but --min-track 25 --min-face-size 40 for these short, small clips)"
rm -rf "$WORK/lse"
"$BIN/evaluator" lse "$WORK/demo.mp4" --syncnet "$SYNCNET" --out "$WORK/lse" --min-track 25 --min-face-size 40 --quiet
cut -d, -f1-10 "$WORK/lse/lse.csv" | sed "s|$WORK/||"
