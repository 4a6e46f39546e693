#!/usr/bin/env bash
# `make reproduce`: the study end to end. Setup and the release build have already run (Makefile).
# Steps land with their issues; until then this script says which steps exist and stops there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release"

say() { printf 'reproduce: %s\n' "$*"; }

say "step 0: setup and release build: done"
"$BIN/trainer" device-check --device "${DEVICE:-cpu}"

cat <<'TXT'
reproduce: the remaining steps are not available yet in this version:
  1. generate the synthetic LRS2-like corpus           (preprocess synth)
  2. preprocess it into shards                         (preprocess run)
  3. train the small teacher from scratch              (trainer train, loss bce)
  4. distil the students (BCE, KD, RKD, MiniLM*, FitNets, NMTD, MTD UW-13D/UW-25D)
  5. evaluate every model and write results/           (evaluator run / compare)
reproduce: stopped after step 0; nothing else was run.
TXT
