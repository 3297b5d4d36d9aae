#!/bin/bash
# The submission goal of docs/BENCHMARKS.md ("Submissions against the goal, three rounds"): a fresh
# stack with 10,000 jobs queued and the packaged gateway, then three rounds of 10,000 submissions
# due at 1,000/s (an open loop, at most 64 in flight, each timed from when it was due) and of
# 10,000 from 16 closed-loop clients, each run with its CPU split. Needs the packaged gateway, its
# test classes and psql (PSQL). Usage: docs/bench/submissions.sh
set -u
cd "$(dirname "$0")/../.."
. docs/bench/common.sh
start_bench 10000
# Warm-up: the gateway JIT-compiles its submission path over the first ~20,000 (rounds after a
# 3,000 warm-up measured p99 168, 61 and 16 ms at 1,000/s, the gateway at 1.15 cores then 0.68).
load --mode submit --requests ${WARMUP:-20000} --warmup 0 --concurrency 16 > /dev/null
for round in 1 2 3; do
  echo "== round $round: due at 1,000/s"
  split 3 4 load --mode submit --requests 10000 --concurrency 64 --rate 1000 --warmup 1000 --slowest 3
  echo "== round $round: 16 clients"
  split 2 3 load --mode submit --requests 10000 --concurrency 16 --warmup 1000 --slowest 3
done
echo "outbox backlog: $(db -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL")"
kill $GW; kill $STACK; wait
