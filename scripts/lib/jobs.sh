# The job queue of scripts/reproduce.sh, sourced by it and by tests/tests/reproduce.rs (issue #33
# point 1). Expects `say`, `run`, $JOBS and $THREADS from the caller.
#
# Runs the queued commands, up to $JOBS at once (then quietly, each logging to its own file, with
# its lines relayed here as they come), and fails if any failed. Usage: queue LOG cmd...; drain.
QUEUE=()
queue() { QUEUE+=("$(printf '%q ' "$@")"); }
relay() { # prints the lines of each log not yet shown, prefixed with the log's name
  local log n shown
  for log in "$@"; do
    [ -f "$log" ] || continue
    n=$(wc -l < "$log"); shown=${SHOWN[$log]:-0}
    if [ "$n" -gt "$shown" ]; then
      sed -n "$((shown + 1)),${n}p" "$log" | sed "s|^|  [$(basename "$log" .log)] |"
      SHOWN[$log]=$n
    fi
  done
}
declare -A SHOWN
# How many started jobs have not finished: a job has finished when its status file exists, or when
# its process is gone without one (killed; then it counts as failed).
running() {
  local n=0 i
  for i in "${!JOB_RCS[@]}"; do
    [ -s "${JOB_RCS[$i]}" ] && continue
    kill -0 "${JOB_PIDS[$i]}" 2>/dev/null && n=$((n + 1))
  done
  echo "$n"
}
drain() {
  local c log
  if [ -n "${DRY_RUN:-}" ] || [ "$JOBS" -le 1 ]; then
    for c in "${QUEUE[@]}"; do eval "set -- $c"; shift; run "$@"; done
    QUEUE=(); return
  fi
  # Each job records its own exit status in a file. `wait PID` on a job that bash had already
  # reaped while `jobs -rp` polled failed with "pid … is not a child of this shell" (issue #33
  # point 1), so a run whose every step succeeded reported a failure. Status files cannot race
  # with bash's reaping.
  local logs=() failed=0 p
  JOB_RCS=(); JOB_PIDS=()
  for c in "${QUEUE[@]}"; do
    eval "set -- $c"; log=$1; shift
    while [ "${#JOB_RCS[@]}" -gt 0 ] && [ "$(running)" -ge "$JOBS" ]; do sleep 1; relay "${logs[@]}"; done
    mkdir -p "$(dirname "$log")"
    : > "$log"
    rm -f "$log.rc"
    say "  started: $(basename "$log" .log) (log: $log)"
    (
      rc=0
      OMP_NUM_THREADS=$THREADS "$@" --quiet > "$log" 2>&1 || rc=$?
      echo "$rc" > "$log.rc.tmp" && mv "$log.rc.tmp" "$log.rc"
    ) &
    JOB_PIDS+=("$!"); JOB_RCS+=("$log.rc"); logs+=("$log")
  done
  while [ "${#JOB_RCS[@]}" -gt 0 ] && [ "$(running)" -gt 0 ]; do sleep 1; relay "${logs[@]}"; done
  wait || true  # reaps what bash has not; names no PID, so it cannot fail as `wait PID` did
  relay "${logs[@]}"
  for p in "${!JOB_RCS[@]}"; do
    if [ "$(cat "${JOB_RCS[$p]}" 2>/dev/null)" != 0 ]; then
      say "  FAILED (exit $(cat "${JOB_RCS[$p]}" 2>/dev/null || echo 'unknown: killed')): see ${logs[$p]}"
      failed=1
    fi
    rm -f "${JOB_RCS[$p]}"
  done
  QUEUE=()
  [ "$failed" = 0 ] || { echo "reproduce: a step failed (logs above)" >&2; exit 1; }
}
