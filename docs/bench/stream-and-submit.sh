#!/bin/bash
# The SSE fan-out and submission runs of docs/BENCHMARKS.md ("SSE fan-out and submissions again"), on their own: a
# fresh stack with 10,000 queued jobs and the packaged gateway (tenant "bench" without limits), then
# twice: 10,000 streams on 10,000 jobs (one each), 10,000 streams on 100 jobs (100 each),
# submissions due at 1,000/s (open loop, up to 64 in flight) and from 64 closed-loop clients. The
# CPU split is sampled in the middle of the one-stream-per-job and the submission runs (the 100-job
# runs cancel for 2 s only). Needs the packaged gateway (./mvnw -o -pl api-gateway -am
# package -DskipTests), its test classes and psql (PSQL). Usage: docs/bench/stream-and-submit.sh
set -u
cd "$(dirname "$0")/../.."
. docs/bench/common.sh
start_bench 10000
# A fresh gateway's first seconds go to the JIT compiler: warm up the paths the streams take.
load --mode submit --requests 600 --warmup 0 --concurrency 16 > /dev/null
sse --subscribers 1000 --jobs 100 --rate 50 > /dev/null
for round in 1 2; do
  echo "== round $round: 10,000 streams on 10,000 jobs"
  split 20 5 sse --subscribers 10000 --jobs 10000 --rate 200
  echo "== round $round: 10,000 streams on 100 jobs"
  sse --subscribers 10000 --jobs 100 --rate 50
  echo "== round $round: submissions due at 1,000/s, up to 64 in flight"
  split 5 3 load --mode submit --requests 10000 --concurrency 64 --rate 1000 --warmup 1000
  echo "== round $round: submissions from 64 clients, closed loop"
  split 3 3 load --mode submit --requests 10000 --concurrency 64 --warmup 1000
done
kill $GW; wait $GW 2>/dev/null; kill $STACK; wait
