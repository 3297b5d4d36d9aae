#!/bin/bash
# Load while jobs run: ./fleet up (gateway + one worker drawing the bundled model), a tenant "bench"
# without limits; 1,000 SSE subscribers on queued and running jobs, status reads and submissions
# measured while the worker runs jobs. CPU split sampled in the middle of each run.
set -u
cd "$(dirname "$0")/../.."
DATA=${DATA:-/tmp/load-fleet}
. docs/bench/common.sh
rm -rf "$DATA"
FLEET_GATEWAY_OPTS='-Dfleet.limits.tenants."bench".submit-rate=0 -Dfleet.limits.tenants."bench".max-active-jobs=0' \
  ./fleet up --data "$DATA" > /tmp/load-up.log 2>&1 &
UP=$!
for i in $(seq 1 120); do curl -sf localhost:8080/q/health/ready > /dev/null && grep -q "Ctrl-C" /tmp/load-up.log && break; sleep 1; done
export FLEET_API_KEY=$(./fleet keys create --tenant bench --data "$DATA" | tail -1)
# Work for the worker: 400 jobs (about 0.7 s each), so that it runs jobs through every measurement.
load --mode submit --requests 400 --warmup 0 --concurrency 4 > /dev/null
done_jobs() { db -c "SELECT count(*) FROM jobs WHERE state = 'SUCCEEDED'"; }
START_DONE=$(done_jobs); T0=$(date +%s)
load --mode read --requests 30000 --warmup 0 --concurrency 16 > /dev/null
echo "== status reads while the worker runs jobs (16 clients)"
split 3 5 load --mode read --requests 50000 --concurrency 16 --warmup 5000
echo "== submissions while the worker runs jobs (16 clients)"
split 2 3 load --mode submit --requests 5000 --concurrency 16 --warmup 500
echo "== 1,000 SSE subscribers on 1,000 jobs, cancelled at 100/s, while reads run beside them"
( sleep 8; load --mode read --requests 30000 --concurrency 8 --warmup 2000 > /tmp/load-reads-beside-sse.txt ) &
R=$!
split 6 5 sse --subscribers 1000 --jobs 1000 --rate 100
wait $R
echo "-- reads beside the SSE run:"; cat /tmp/load-reads-beside-sse.txt
echo "== the worker finished $(( $(done_jobs) - START_DONE )) jobs in the $(( $(date +%s) - T0 )) s of the measurements"
kill -TERM $UP; wait $UP
