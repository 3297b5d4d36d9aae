-- API keys: one row per key, each belonging to one tenant. The key itself is shown once, when it is
-- made, and never stored: only a salted SHA-256 of its secret part. The short public id (also the
-- key's prefix) finds the row for a check and names the key for listing and revocation.

CREATE TABLE api_keys (
    id          text        PRIMARY KEY,
    tenant      text        NOT NULL,
    -- Admin keys may also create, list and revoke keys (of every tenant) through /v1/admin/keys.
    admin       boolean     NOT NULL DEFAULT false,
    name        text,
    salt        bytea       NOT NULL,
    hash        bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at);

-- The submission cap counts a tenant's unfinished jobs.
CREATE INDEX jobs_tenant_active ON jobs (tenant) WHERE state IN ('QUEUED', 'RUNNING');
