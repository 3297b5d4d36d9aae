#!/usr/bin/env bash
# The control-plane benchmark of docs/BENCHMARKS.md ("Control plane at scale"): status reads as the
# queue grows from 1K to 1M jobs, submissions at 1/16/64 clients, SSE fan-out. Needs a running
# stack (./fleet stack --data DIR) and packaged gateway on :8080 whose tenant "bench" has no limits,
# psql, and FLEET_API_KEY set to a key of tenant "bench"; see docs/BENCHMARKS.md for the setup.
#   docs/bench/control-plane.sh [QUEUE_SIZES...]     (default: 1000 10000 100000 1000000)
# PARTS (default "reads submissions sse") picks the parts to run; READ_WARMUP (default 30000) the
# reads that warm the gateway up before the first size; READ_REQUESTS (default 50000) the reads of
# each round (at 20,000/s a round must last past the CPU window, 3 to 8 s after its start).
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${FLEET_API_KEY:?set FLEET_API_KEY to a key of tenant bench}"
JAVA="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
PSQL="${PSQL:-psql}"
export PGPASSWORD="${PGPASSWORD:-fleet}"
db() { "$PSQL" -h localhost -p 15432 -U fleet -At "$@" fleet; }
load() { "$JAVA" -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SubmitLoad "$@"; }
sse() { "$JAVA" -Xss256k -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SseLoad "$@"; }
# A run with the CPU split sampled in its middle ($1: seconds from start, $2: window).
split() { local at=$1 window=$2; shift 2; (sleep "$at"; docs/bench/cpu-split.sh "$window") & "$@"; wait; }

sizes=("${@:-1000 10000 100000 1000000}")
# A fresh gateway's first seconds go to the JIT compiler: warm it up on both paths first.
load --mode submit --requests 600 --warmup 0 --concurrency 16 > /dev/null
load --mode read --requests "${READ_WARMUP:-30000}" --warmup 0 --concurrency 16 > /dev/null
parts=" ${PARTS:-reads submissions sse} "
for n in ${sizes[*]}; do
  [[ $parts == *" reads "* ]] || break
  queued=$(db -c "SELECT count(*) FROM jobs WHERE state = 'QUEUED'")
  # 200 of the bench tenant's jobs go in last: the reads are of jobs at the back of the queue.
  fill=$(( n - queued - 200 ))
  if (( fill > 0 )); then db -q -v n="$fill" -f docs/bench/fill-queue.sql > /dev/null; fi
  load --mode submit --requests 200 --warmup 0 --concurrency 4 > /dev/null
  echo "== $(db -c "SELECT count(*) FROM jobs WHERE state = 'QUEUED'") jobs queued"
  split 3 5 load --mode read --requests "${READ_REQUESTS:-50000}" --concurrency 16 --warmup 5000
  split 3 5 load --mode poll --requests "${READ_REQUESTS:-50000}" --concurrency 16 --warmup 5000
done
for c in 1 16 64; do
  [[ $parts == *" submissions "* ]] || break
  echo "== submissions, $c clients"
  split 4 3 load --mode submit --requests $(( c == 1 ? 2000 : 10000 )) --concurrency "$c" --warmup 1000
done
echo "== outbox not yet sent: $(db -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL")"
for s in 1000 10000; do
  [[ $parts == *" sse "* ]] || break
  echo "== SSE, $s subscribers"
  sse --subscribers "$s" --jobs "$s" --rate 200
  sse --subscribers "$s" --jobs 100 --rate 50
done
