#!/usr/bin/env bash
# Slurm array job: preprocess LRS2 in 64 tasks, then merge (documented example, not run by tests).
#
#   sbatch --array=0-63 preprocess/deploy/slurm_preprocess.sh /data/mvlrs_v1 /scratch/lrs2_shards
#   # when every task has finished:
#   preprocess merge --out /scratch/lrs2_shards
#
# Each task reads SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, processes its share of the
# deterministic shard plan (sorted ids, shard j → task j mod 64), and writes its own shards and
# manifest.task-<i>-of-0064.json. A re-submitted task resumes: complete shards are kept.
#SBATCH --job-name=lipsync-preprocess
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
set -euo pipefail
LRS2_ROOT=${1:?usage: slurm_preprocess.sh LRS2_ROOT OUT_DIR}
OUT=${2:?usage: slurm_preprocess.sh LRS2_ROOT OUT_DIR}
exec preprocess run --quiet --lrs2-root "$LRS2_ROOT" --splits pretrain,val,test --out "$OUT" \
  --jobs "${SLURM_CPUS_PER_TASK:-8}"
