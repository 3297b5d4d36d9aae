-- Each job_events notification also names the job's memory class and its queue ticket (the one it
-- holds while QUEUED; kept on the row after it leaves). A reader that keeps each class's queue head
-- in memory can then tell which changes move a head: a job that enters QUEUED behind the head, or
-- leaves it from the middle, moves none, so a submission no longer costs every reader its heads.
CREATE OR REPLACE FUNCTION jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('job_events', json_build_object(
        'id', NEW.id,
        'state', NEW.state,
        'previousState', CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END,
        'step', NEW.progress_step,
        'steps', NEW.progress_steps,
        'attempts', NEW.attempts,
        'cancelRequested', NEW.cancel_requested,
        'version', NEW.version,
        'memoryClass', NEW.memory_class,
        'ticket', NEW.queue_ticket)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
