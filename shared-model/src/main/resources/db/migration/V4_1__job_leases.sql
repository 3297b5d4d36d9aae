-- Leases on running jobs (issue 13): the run that holds a job's lease is the only one that may
-- finish it, and it proves it is alive by heartbeating. A reaper re-queues the jobs whose lease
-- holder stopped heartbeating.
--
-- The token lives on the job row, so that every guarded UPDATE checks it on the row it changes.
-- The heartbeats live in a table of their own: a heartbeat is no change of the job, so it must not
-- fire the jobs triggers (version bump, pg_notify to the event streams).
-- (Numbered 4.1 so that another branch's V4 does not collide with it.)

ALTER TABLE jobs ADD COLUMN lease uuid;

CREATE TABLE job_heartbeats (
    job_id   uuid        PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    lease    uuid        NOT NULL,
    worker   text        NOT NULL,
    beat_at  timestamptz NOT NULL DEFAULT now()
);

-- The reaper's scan: running jobs by their last heartbeat.
CREATE INDEX job_heartbeats_beat ON job_heartbeats (beat_at);
