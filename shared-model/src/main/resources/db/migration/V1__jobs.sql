-- Jobs, their outbox to Kafka, and the change notifications that the gateway streams as SSE.
-- JobStore (shared-model) is the only writer of both tables; its UPDATEs carry the state guards.

CREATE TABLE jobs (
    id                   uuid             PRIMARY KEY,
    tenant               text             NOT NULL,
    idempotency_key      text,
    -- Hash of the request as the client sent it: a reused key with another request is refused.
    request_fingerprint  text,

    prompt               text             NOT NULL,
    seed                 bigint           NOT NULL,
    steps                integer          NOT NULL,
    width                integer          NOT NULL,
    height               integer          NOT NULL,
    guidance             double precision NOT NULL,
    model                text             NOT NULL,

    memory_class         text             NOT NULL,
    predicted_peak_bytes bigint           NOT NULL,

    state                text             NOT NULL DEFAULT 'QUEUED'
        CHECK (state IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT')),
    progress_step        integer          NOT NULL DEFAULT 0,
    progress_steps       integer          NOT NULL,
    -- The number of the current (or last) attempt: 1 for the first delivery.
    attempts             integer          NOT NULL DEFAULT 1,
    worker               text,
    cancel_requested     boolean          NOT NULL DEFAULT false,

    result_key           text,
    result_bytes         bigint,
    error_code           text,
    error_message        text,

    created_at           timestamptz      NOT NULL DEFAULT now(),
    started_at           timestamptz,
    finished_at          timestamptz,
    updated_at           timestamptz      NOT NULL DEFAULT now(),
    -- Bumped on every change: lets a stream drop notifications older than its snapshot.
    version              bigint           NOT NULL DEFAULT 0,

    CONSTRAINT jobs_idempotency UNIQUE (tenant, idempotency_key),
    CONSTRAINT jobs_progress CHECK (progress_step >= 0 AND progress_step <= progress_steps)
);

-- Listing (newest first, cursor on created_at, id), per tenant, optionally by state.
CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_tenant_state_created ON jobs (tenant, state, created_at DESC, id DESC);
-- Queue position and depth.
CREATE INDEX jobs_queued ON jobs (memory_class, created_at, id) WHERE state = 'QUEUED';

CREATE FUNCTION jobs_touch() RETURNS trigger AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_touch();

-- One notification per change, delivered at commit, whoever made it (gateway or worker).
CREATE FUNCTION jobs_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('job_events', json_build_object(
        'id', NEW.id,
        'state', NEW.state,
        'previousState', CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END,
        'step', NEW.progress_step,
        'steps', NEW.progress_steps,
        'attempts', NEW.attempts,
        'cancelRequested', NEW.cancel_requested,
        'version', NEW.version)::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION jobs_notify();

-- Messages to Kafka written in the same transaction as the job change they announce; a relay
-- sends them and marks them sent once the broker has acknowledged them.
CREATE TABLE outbox (
    id           bigserial   PRIMARY KEY,
    topic        text        NOT NULL,
    message_key  text        NOT NULL,
    payload      text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);

CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
