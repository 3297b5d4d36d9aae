-- Bulk-queues :n jobs of tenant "bulk" in class vram-8g, as submissions would have left them, for
-- the read benchmarks of docs/BENCHMARKS.md ("Control plane at scale"). The row triggers run as for
-- any insert (version, queue ticket), except the change notification, switched off for the load
-- so that the gateway's listener is not handed a million notifications at commit:
--   psql -h localhost -p 15432 -U fleet -v n=100000 -f docs/bench/fill-queue.sql fleet
ALTER TABLE jobs DISABLE TRIGGER jobs_notify;
INSERT INTO jobs (id, tenant, prompt, seed, steps, width, height, guidance, model, memory_class,
                  predicted_peak_bytes, progress_steps)
SELECT gen_random_uuid(), 'bulk', 'bulk job ' || g, g, 16, 128, 128, 0, 'flux-shapes', 'vram-8g',
       536870912, 16
  FROM generate_series(1, :n) g;
ALTER TABLE jobs ENABLE TRIGGER jobs_notify;
VACUUM ANALYZE jobs;
SELECT memory_class, count(*) AS queued FROM jobs WHERE state = 'QUEUED' GROUP BY memory_class;
