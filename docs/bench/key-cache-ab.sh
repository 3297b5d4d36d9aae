#!/bin/bash
# The A/B of docs/BENCHMARKS.md ("Checked API keys from memory"): the packaged gateway with the key
# cache (default) and without it (fleet.auth.key-cache-ttl=0), alternately, on one stack with 10,000
# jobs queued. Needs the packaged gateway, test classes and psql (PSQL). Usage: docs/bench/key-cache-ab.sh
set -u
cd "$(dirname "$0")/../.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}" PGPASSWORD=fleet
J=$JAVA_HOME/bin/java
PSQL="${PSQL:-psql}"
db() { $PSQL -h localhost -p 15432 -U fleet -At "$@" fleet; }
load() { $J -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SubmitLoad "$@"; }
rm -rf /tmp/bench-stack; ./fleet stack --data /tmp/bench-stack > /tmp/bench-stack.log 2>&1 &
STACK=$!
for i in $(seq 1 90); do grep -q -i "ready\|started\|up" /tmp/bench-stack.log && db -c "select 1" >/dev/null 2>&1 && break; sleep 1; done
gw() { $J '-Dfleet.limits.tenants."bench".submit-rate=0' '-Dfleet.limits.tenants."bench".max-active-jobs=0' "$@" -jar api-gateway/target/quarkus-app/quarkus-run.jar > /tmp/gw.log 2>&1 & GW=$!;
  for i in $(seq 1 60); do curl -sf localhost:8080/q/health/ready >/dev/null && break; sleep 1; done; }
gw
export FLEET_API_KEY=$(./fleet keys create --tenant bench --data /tmp/bench-stack | tail -1)
db -q -v n=10000 -f docs/bench/fill-queue.sql > /dev/null
load --mode submit --requests 200 --warmup 0 --concurrency 4 > /dev/null
for variant in cache nocache cache nocache; do
  kill $GW; wait $GW 2>/dev/null
  if [ $variant = cache ]; then gw; else gw -Dfleet.auth.key-cache-ttl=0; fi
  load --mode submit --requests 600 --warmup 0 --concurrency 16 > /dev/null
  load --mode read --requests 30000 --warmup 0 --concurrency 16 > /dev/null
  echo "== $variant"
  load --mode read --requests 50000 --concurrency 16 --warmup 5000
  load --mode poll --requests 50000 --concurrency 16 --warmup 5000
  load --mode submit --requests 5000 --concurrency 16 --warmup 500
done
kill $GW; kill $STACK; wait
