#!/bin/bash
# Reads while jobs change, with what it takes to explain a slow one (docs/BENCHMARKS.md, "Queue
# heads that move, the slow read, and submissions after warm-up"): a fresh stack with 10,000 jobs
# queued and the packaged gateway of GATEWAY_DIR (a checkout whose gateway is packaged; default
# this one, so two checkouts make an A/B), the read cache on; then 16 closed-loop readers over the
# newest 200 queued jobs while submissions are due at 200/s and, every 0.5 s, the 5 oldest queued
# jobs are taken and 2 of the read jobs cancelled by SQL (as workers and other gateways would).
# Prints the 15 slowest reads with when each was sent, the index scans of `jobs` around the reads,
# and writes the gateway's GC log, vmstat and the change loop's timings under OUT (/tmp/changing-reads).
# Needs the packaged gateway, its test classes and psql (PSQL). Usage: docs/bench/changing-reads.sh
set -u
cd "$(dirname "$0")/../.."
. docs/bench/common.sh
GATEWAY_DIR=${GATEWAY_DIR:-.}
OUT=${OUT:-/tmp/changing-reads}
mkdir -p "$OUT"
rm -f "$OUT"/*.log
start_bench 10000
load --mode submit --requests 200 --warmup 0 --concurrency 4 > /dev/null
kill $GW; wait $GW 2>/dev/null
$J '-Dfleet.limits.tenants."bench".submit-rate=0' '-Dfleet.limits.tenants."bench".max-active-jobs=0' \
  -Dfleet.jobs.read-cache-enabled=true "-Xlog:gc*,safepoint:file=$OUT/gc.log:time,uptime" \
  -jar "$GATEWAY_DIR/api-gateway/target/quarkus-app/quarkus-run.jar" > /tmp/gw.log 2>&1 &
GW=$!
for _ in $(seq 1 60); do curl -sf localhost:8080/q/health/ready > /dev/null && break; sleep 1; done
load --mode submit --requests 600 --warmup 0 --concurrency 16 > /dev/null
load --mode read --requests 30000 --warmup 0 --concurrency 16 > /dev/null
db -q -c "DROP TABLE IF EXISTS read_set" \
      -c "CREATE TABLE read_set AS SELECT id FROM jobs WHERE tenant = 'bench' AND state = 'QUEUED'
            ORDER BY created_at DESC, id DESC LIMIT 200"
changes() {
  while [ -e "$OUT/changing" ]; do
    local s
    s=$(date +%s.%N)
    db -q -c "UPDATE jobs SET state = 'RUNNING', worker = 'bench', started_at = now()
                WHERE id IN (SELECT id FROM jobs WHERE state = 'QUEUED' AND memory_class = 'vram-8g'
                             ORDER BY queue_ticket LIMIT 5)" \
          -c "UPDATE jobs SET state = 'CANCELLED', cancel_requested = true, finished_at = now()
                WHERE id IN (SELECT r.id FROM read_set r JOIN jobs j ON j.id = r.id
                             WHERE j.state = 'QUEUED' ORDER BY random() LIMIT 2)"
    echo "change $(date -u +%H:%M:%S.%N -d @"$s") took $(echo "$(date +%s.%N) - $s" | bc) s" >> "$OUT/changes.log"
    sleep 0.5
  done
}
scans() {
  db -c "SELECT string_agg(indexrelname || '=' || idx_scan, ' ' ORDER BY indexrelname)
           FROM pg_stat_user_indexes WHERE relname = 'jobs'"
}
touch "$OUT/changing"
vmstat -t 1 > "$OUT/vmstat.log" &
VM=$!
changes &
CH=$!
load --mode submit --requests 2000 --warmup 0 --concurrency 4 --rate 200 --slowest 5 > "$OUT/submit.out" &
SUB=$!
echo "index scans before the reads: $(scans)"
load --mode read --requests 50000 --concurrency 16 --warmup 5000 --slowest 15
echo "index scans after the reads: $(scans)"
rm -f "$OUT/changing"
wait $SUB $CH
kill $VM
cat "$OUT/submit.out"
echo "slowest changes: $(sort -k4 -n "$OUT/changes.log" | tail -3 | awk '{printf "%s %ss; ", $2, $4}')"
db -c "SELECT 'last checkpoint', checkpoint_time FROM pg_control_checkpoint()"
db -c "SELECT relname, last_autovacuum, last_autoanalyze FROM pg_stat_user_tables
         WHERE relname IN ('jobs', 'outbox')"
db -q -c "DROP TABLE IF EXISTS read_set"
kill $GW; kill $STACK; wait
