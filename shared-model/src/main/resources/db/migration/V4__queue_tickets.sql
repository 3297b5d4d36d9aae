-- Queue position in constant time. Every time a job enters QUEUED (submitted, re-queued after a
-- fault, handed back by a draining worker) it draws a ticket: the next number of its memory class,
-- from that class's own sequence (queue_ticket_<class>, made on first use). A queued job's position
-- is then its ticket minus the smallest ticket still queued in its class, plus one: one lookup of
-- the first entry of the partial index below, whether 10 or 1,000,000 jobs wait.
--
-- It is exact while jobs leave the queue from its head (workers take them in order, the reaper
-- times out the oldest). A job that leaves from the middle (cancelled, or taken out of order from
-- another partition) still counts for the jobs behind it until the head passes it, and a ticket
-- drawn by a rolled-back insert leaves a gap that counts the same way: the position may read
-- high, never low, and corrects itself as the queue moves. The API says "estimate".
--
-- Sequences rather than a counter row: nextval takes no lock that concurrent submissions wait on.

ALTER TABLE jobs ADD COLUMN queue_ticket bigint;

CREATE FUNCTION jobs_queue_ticket() RETURNS trigger AS $$
DECLARE
    seq text := 'queue_ticket_' || regexp_replace(NEW.memory_class, '[^a-z0-9]', '_', 'g');
BEGIN
    IF NEW.state = 'QUEUED' AND (TG_OP = 'INSERT' OR OLD.state <> 'QUEUED') THEN
        IF to_regclass(seq) IS NULL THEN
            -- A class's first job: concurrent first jobs wait for each other's CREATE.
            PERFORM pg_advisory_xact_lock(hashtext('fleet.queue_ticket:' || seq));
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        END IF;
        NEW.queue_ticket := nextval(seq::regclass);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Jobs already queued keep their order: tickets by (created_at, id) within each class.
DO $$
DECLARE
    cls text;
    seq text;
BEGIN
    FOR cls IN SELECT DISTINCT memory_class FROM jobs WHERE state = 'QUEUED' LOOP
        seq := 'queue_ticket_' || regexp_replace(cls, '[^a-z0-9]', '_', 'g');
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        UPDATE jobs j SET queue_ticket = o.n
          FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n
                  FROM jobs WHERE state = 'QUEUED' AND memory_class = cls) o
         WHERE j.id = o.id;
        PERFORM setval(seq::regclass, (SELECT max(queue_ticket) FROM jobs WHERE memory_class = cls));
    END LOOP;
END;
$$;

CREATE TRIGGER jobs_queue_ticket BEFORE INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_queue_ticket();

-- The head of each class's queue (and the depth, by ticket range). Replaces V1's index on
-- (memory_class, created_at, id), whose only reader was the old counting query.
CREATE INDEX jobs_queue_head ON jobs (memory_class, queue_ticket) WHERE state = 'QUEUED';
DROP INDEX jobs_queued;
