#!/usr/bin/env bash
# CPU used per process group over a window, from /proc (no pidstat on the bench machine):
#   docs/bench/cpu-split.sh SECONDS
# Groups: the gateway (quarkus-run.jar), the stack's JVM (Kafka + S3), PostgreSQL (all its
# processes), the load generators, everything else. Processes that start or end inside the window are left
# out, so start the window after a run's warm-up and end it before the run does.
set -euo pipefail
secs=$1
snap() {
  for p in /proc/[0-9]*; do
    [ -r "$p/stat" ] || continue
    cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-400) || continue
    stat=$(sed 's/^.*) //' "$p/stat" 2>/dev/null) || continue
    read -r -a f <<< "$stat"
    case "$cmd" in
      *quarkus-run.jar*) g=gateway ;;
      *StackMain*) g=stack-kafka-s3 ;;
      *postgres*) g=postgres ;;
      *SubmitLoad*|*SseLoad*) g=load-generator ;;
      *) g=other ;;
    esac
    echo "${p#/proc/} $g $(( f[11] + f[12] ))"
  done
}
a=$(mktemp); b=$(mktemp)
snap > "$a"; sleep "$secs"; snap > "$b"
awk -v secs="$secs" -v hz="$(getconf CLK_TCK)" \
  'NR==FNR {a[$1]=$3; next} {g[$2] += $3 - ($1 in a ? a[$1] : $3)}
   END {for (k in g) printf "  cpu %-15s %.2f cores\n", k, g[k]/hz/secs}' "$a" "$b" | sort
rm -f "$a" "$b"
