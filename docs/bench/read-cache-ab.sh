#!/bin/bash
# The A/B of docs/BENCHMARKS.md ("Status reads from memory"): the packaged gateway with the read
# cache (fleet.jobs.read-cache-enabled=true) and without it (false, one query per read),
# alternately, two rounds each, on one stack with 10,000 jobs queued; then one round each while
# jobs change (submissions at 200/s, and from outside the gateway, as workers and other gateways
# would: the 5 oldest queued jobs taken and 2 of the read jobs cancelled every 0.5 s), after which
# every job of the tenant read through the API is compared with the database.
# Needs the packaged gateway, test classes and psql (PSQL). Usage: docs/bench/read-cache-ab.sh
set -u
cd "$(dirname "$0")/../.."
. docs/bench/common.sh
start_bench 10000
load --mode submit --requests 200 --warmup 0 --concurrency 4 > /dev/null
restart() {
  kill $GW; wait $GW 2>/dev/null
  start_gateway -Dfleet.jobs.read-cache-enabled=$([ "$1" = cache ] && echo true || echo false)
  load --mode submit --requests 600 --warmup 0 --concurrency 16 > /dev/null
  load --mode read --requests 30000 --warmup 0 --concurrency 16 > /dev/null
}
for variant in cache nocache cache nocache; do
  restart $variant
  echo "== $variant"
  split 2 3 load --mode read --requests 80000 --concurrency 16 --warmup 5000
  split 2 3 load --mode poll --requests 100000 --concurrency 16 --warmup 5000
done

# Jobs changing under the reads. The read set is the listing SubmitLoad reads (newest 200 queued).
changes() {
  while [ -e /tmp/read-cache-ab.changing ]; do
    db -q -c "UPDATE jobs SET state = 'RUNNING', worker = 'bench', started_at = now()
                WHERE id IN (SELECT id FROM jobs WHERE state = 'QUEUED' AND memory_class = 'vram-8g'
                             ORDER BY queue_ticket LIMIT 5)" \
          -c "UPDATE jobs SET state = 'CANCELLED', cancel_requested = true, finished_at = now()
                WHERE id IN (SELECT r.id FROM read_set r JOIN jobs j ON j.id = r.id
                             WHERE j.state = 'QUEUED' ORDER BY random() LIMIT 2)"
    sleep 0.5
  done
}
# Every job of tenant bench: status and queue position through the API, then from the database.
check() {
  db -c "SELECT id FROM read_set UNION SELECT id FROM (SELECT id FROM jobs WHERE tenant = 'bench'
          ORDER BY updated_at DESC LIMIT 200) recent" |
    while read -r id; do
      curl -s -H "Authorization: Bearer $FLEET_API_KEY" localhost:8080/v1/jobs/$id |
        jq -r '[.id, .status, (.queuePosition // "-")] | join(" ")'
    done | LC_ALL=C sort > /tmp/read-cache-ab.api
  db -F ' ' -c "SELECT id, state, coalesce((queue_ticket - (SELECT min(h.queue_ticket) FROM jobs h
                  WHERE h.memory_class = j.memory_class AND h.state = 'QUEUED') + 1)::text, '-')
                FROM jobs j WHERE tenant = 'bench' AND state = 'QUEUED'
                UNION ALL SELECT id, state, '-' FROM jobs WHERE tenant = 'bench' AND state <> 'QUEUED'" |
    LC_ALL=C sort > /tmp/read-cache-ab.db
  local differ
  differ=$(LC_ALL=C join /tmp/read-cache-ab.api /tmp/read-cache-ab.db -j1 -o 1.1,1.2,1.3,2.2,2.3 |
    awk '$2 != $4 || $3 != $5' | wc -l)
  echo "checked $(wc -l < /tmp/read-cache-ab.api) jobs (the read set and the 200 last changed) through the API against the database: $differ differ"
}
for variant in cache nocache; do
  restart $variant
  db -q -c "DROP TABLE IF EXISTS read_set" \
        -c "CREATE TABLE read_set AS SELECT id FROM jobs WHERE tenant = 'bench' AND state = 'QUEUED'
              ORDER BY created_at DESC, id DESC LIMIT 200"
  echo "== $variant, jobs changing"
  touch /tmp/read-cache-ab.changing
  changes &
  CH=$!
  load --mode submit --requests 2000 --warmup 0 --concurrency 4 --rate 200 > /tmp/read-cache-ab.submit &
  SUB=$!
  split 2 3 load --mode read --requests 50000 --concurrency 16 --warmup 5000
  rm -f /tmp/read-cache-ab.changing
  wait $SUB $CH
  grep successful /tmp/read-cache-ab.submit
  sleep 1
  check
done
db -q -c "DROP TABLE IF EXISTS read_set"
kill $GW; kill $STACK; wait
