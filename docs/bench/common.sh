# Sourced by the benchmark scripts here (from the repository root): the JDK, psql on the stack's
# database, the two load generators, and `split AT WINDOW CMD...` (CMD with the CPU split of
# cpu-split.sh sampled AT seconds after its start, over WINDOW seconds, for the stack in $DATA).
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}" PGPASSWORD="${PGPASSWORD:-fleet}"
J=$JAVA_HOME/bin/java
PSQL="${PSQL:-psql}"
DATA="${DATA:-/tmp/bench-stack}"
db() { $PSQL -h localhost -p 15432 -U fleet -At "$@" fleet; }
load() { $J -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SubmitLoad "$@"; }
sse() { $J -Xss256k -cp api-gateway/target/test-classes dev.fleet.gateway.bench.SseLoad "$@"; }
# Waits for its own sampler only: the stack, gateway or fleet run in the background too.
split() {
  local at=$1 window=$2
  shift 2
  (sleep "$at"; docs/bench/cpu-split.sh "$window" "$DATA") &
  local s=$!
  "$@"
  wait $s
}
# A fresh stack in $DATA (./fleet stack), waited for; its pid in STACK.
start_stack() {
  rm -rf "$DATA"
  ./fleet stack --data "$DATA" > /tmp/bench-stack.log 2>&1 &
  STACK=$!
  for _ in $(seq 1 90); do db -c "select 1" > /dev/null 2>&1 && break; sleep 1; done
}
# The packaged gateway on :8080, tenant "bench" without limits, extra JVM options as arguments,
# waited for until ready; its pid in GW.
start_gateway() {
  $J '-Dfleet.limits.tenants."bench".submit-rate=0' '-Dfleet.limits.tenants."bench".max-active-jobs=0' \
    "$@" -jar api-gateway/target/quarkus-app/quarkus-run.jar > /tmp/gw.log 2>&1 &
  GW=$!
  for _ in $(seq 1 60); do curl -sf localhost:8080/q/health/ready > /dev/null && break; sleep 1; done
}
# A fresh stack and gateway (start_stack, start_gateway), a key of tenant "bench" in FLEET_API_KEY
# and $1 jobs bulk-queued (fill-queue.sql, which announces none of them: a gateway that keeps job
# reads in memory may hold an out-of-date queue head until restarted, as the A/B scripts do).
start_bench() {
  start_stack
  start_gateway
  export FLEET_API_KEY=$(./fleet keys create --tenant bench --data "$DATA" | tail -1)
  db -q -v n="$1" -f docs/bench/fill-queue.sql > /dev/null
}
