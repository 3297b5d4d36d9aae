#!/usr/bin/env bash
# CPU used per process group over a window, from /proc (no pidstat on the bench machine):
#   docs/bench/cpu-split.sh SECONDS [STACK_DATA_DIR]      (default /tmp/bench-stack)
# Groups: this checkout's gateway and worker (quarkus-run.jar run from here) and load generators,
# the stack's JVM (Kafka + S3; for ./fleet up the launcher's) and PostgreSQL (its postmaster and
# backends) of STACK_DATA_DIR, and everything
# else on the machine (other users' work shares the cores). Processes that start or end inside the
# window are left out, so start the window after a run's warm-up and end it before the run does.
set -euo pipefail
secs=$1
data=${2:-/tmp/bench-stack}
here=$(cd "$(dirname "$0")/../.." && pwd)
postmaster=$(head -1 "$data/postgres/postmaster.pid")
groups() {
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    ppid=$(awk '{sub(/^.*\) /, ""); print $2}' "$p/stat" 2>/dev/null) || continue
    cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-4000) || continue
    cwd=$(readlink "$p/cwd" 2>/dev/null || true)
    g=other
    if [[ $pid == "$postmaster" || $ppid == "$postmaster" ]]; then g=postgres
    elif [[ $cmd == *StackMain*"--data $data"* ]]; then g=stack-kafka-s3
    elif [[ $cmd == *UpMain*"--data $data"* ]]; then g=launcher-kafka-s3
    elif [[ $cmd == *"$here/gpu-worker/target/quarkus-app/quarkus-run.jar"* ]]; then g=worker
    elif [[ $cmd == *"$here/api-gateway/target/quarkus-app/quarkus-run.jar"* ]]; then g=gateway
    elif [[ $cwd == "$here" && $cmd == *quarkus-run.jar* ]]; then g=gateway
    elif [[ $cwd == "$here" && ( $cmd == *SubmitLoad* || $cmd == *SseLoad* ) ]]; then g=load-generator
    fi
    echo "$pid $g"
  done
}
# utime + stime of every process, in one pass (fast, so both snapshots span the same window).
ticks() { cat /proc/[0-9]*/stat 2>/dev/null | awk '{sub(/^[0-9]+ \(.*\) /, "& "); n=split($0, f, " ");
  match($0, /^[0-9]+/); pid=substr($0, 1, RLENGTH); sub(/^.*\) /, ""); split($0, g, " "); print pid, g[12] + g[13]}'; }
m=$(mktemp); a=$(mktemp); b=$(mktemp)
ticks > "$a"; sleep "$secs"; ticks > "$b"
groups > "$m" # after the window, which the slow walk over /proc must not delay
awk -v secs="$secs" -v hz="$(getconf CLK_TCK)" \
  'FILENAME == ARGV[1] {grp[$1]=$2; next}
   FILENAME == ARGV[2] {a[$1]=$2; next}
   ($1 in a) {k = ($1 in grp) ? grp[$1] : "other"; g[k] += $2 - a[$1]}
   END {for (k in g) printf "  cpu %-15s %.2f cores\n", k, g[k]/hz/secs}' "$m" "$a" "$b" | sort
rm -f "$m" "$a" "$b"
