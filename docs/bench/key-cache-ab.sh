#!/bin/bash
# The A/B of docs/BENCHMARKS.md ("Checked API keys from memory"): the packaged gateway with the key
# cache (default) and without it (fleet.auth.key-cache-ttl=0), alternately, on one stack with 10,000
# jobs queued. Needs the packaged gateway, test classes and psql (PSQL). Usage: docs/bench/key-cache-ab.sh
set -u
cd "$(dirname "$0")/../.."
. docs/bench/common.sh
start_bench 10000
load --mode submit --requests 200 --warmup 0 --concurrency 4 > /dev/null
for variant in cache nocache cache nocache; do
  kill $GW; wait $GW 2>/dev/null
  if [ $variant = cache ]; then start_gateway; else start_gateway -Dfleet.auth.key-cache-ttl=0; fi
  load --mode submit --requests 600 --warmup 0 --concurrency 16 > /dev/null
  load --mode read --requests 30000 --warmup 0 --concurrency 16 > /dev/null
  echo "== $variant"
  load --mode read --requests 50000 --concurrency 16 --warmup 5000
  load --mode poll --requests 50000 --concurrency 16 --warmup 5000
  load --mode submit --requests 5000 --concurrency 16 --warmup 500
done
kill $GW; kill $STACK; wait
