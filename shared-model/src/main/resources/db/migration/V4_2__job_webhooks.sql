-- Webhooks (issue 13): a job may name a URL that is told of its terminal state. The event is
-- written by a trigger in the transaction that finishes the job, whoever finishes it (a worker,
-- the reaper, a cancellation), so none is lost; the gateway's webhook relay POSTs it, retrying
-- with backoff until the receiver answers 2xx.

CREATE TABLE job_webhooks (
    job_id  uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    url     text NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               bigserial   PRIMARY KEY,
    job_id           uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    url              text        NOT NULL,
    payload          text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text,
    delivered_at     timestamptz,
    -- Set when the relay gives up (fleet.webhooks.max-attempts); kept for operators.
    abandoned_at     timestamptz
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;

CREATE FUNCTION job_webhook_event() RETURNS trigger AS $$
BEGIN
    INSERT INTO webhook_deliveries (job_id, url, payload)
    SELECT NEW.id, w.url, json_build_object(
        'type', 'job.' || lower(NEW.state),
        'jobId', NEW.id,
        'state', NEW.state,
        'attempts', NEW.attempts,
        'errorCode', NEW.error_code,
        'errorMessage', NEW.error_message,
        'resultBytes', NEW.result_bytes,
        'finishedAt', NEW.finished_at,
        'href', '/v1/jobs/' || NEW.id)::text
    FROM job_webhooks w WHERE w.job_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER job_webhook_event AFTER UPDATE OF state ON jobs FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
          AND NEW.state IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'))
    EXECUTE FUNCTION job_webhook_event();
