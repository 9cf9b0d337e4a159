-- Timbre catalog, first schema. Times are timestamptz set by the server's clock (now()),
-- so that workers on several machines agree on leases.

CREATE TABLE users (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (name <> ''),
    -- SHA-256 of the API key; the key itself is shown once and never stored.
    api_key_hash bytea NOT NULL UNIQUE CHECK (octet_length(api_key_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE libraries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id        bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- Canonical absolute path (symlinks resolved), so one folder is one library.
    root_path       text NOT NULL UNIQUE CHECK (root_path LIKE '/%'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_scanned_at timestamptz
);

CREATE TABLE tracks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    library_id    bigint NOT NULL REFERENCES libraries (id) ON DELETE CASCADE,
    -- Relative to the library root, '/'-separated, never starting with '/'.
    path          text NOT NULL CHECK (path <> '' AND path NOT LIKE '/%'),
    size          bigint NOT NULL CHECK (size >= 0),
    -- Nanoseconds since 1970: compared for equality with stat(), so kept exact.
    mtime_ns      bigint NOT NULL,
    -- SHA-256 over the size and the first and last MiB (see ContentHash.swift).
    content_hash  bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    format        text,
    duration_seconds real CHECK (duration_seconds >= 0),
    title         text,
    artist        text,
    album         text,
    genre         text,
    year          integer,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'tagged', 'failed', 'gone')),
    last_error    text,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    -- Last scan that found the file new, changed, moved or back. Unchanged files are not
    -- rewritten by a scan: a track not gone was present at libraries.last_scanned_at.
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (library_id, path)
);
-- Finds a moved file's old row by its content.
CREATE INDEX tracks_library_hash ON tracks (library_id, content_hash);
CREATE INDEX tracks_status ON tracks (status) WHERE status <> 'tagged';

CREATE TABLE models (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      text NOT NULL UNIQUE CHECK (version <> ''),
    file_path    text NOT NULL,
    labels       text[] NOT NULL CHECK (cardinality(labels) > 0),
    metrics      jsonb NOT NULL DEFAULT '{}',
    parent_id    bigint REFERENCES models (id) ON DELETE SET NULL,
    state        text NOT NULL DEFAULT 'candidate' CHECK (state IN ('candidate', 'active', 'retired', 'rejected')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz
);
-- At most one active model: promotion retires the old and activates the new in one transaction.
CREATE UNIQUE INDEX models_one_active ON models ((true)) WHERE state = 'active';

CREATE TABLE predictions (
    track_id    bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    model_id    bigint NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    label       text NOT NULL,
    probability real NOT NULL CHECK (probability >= 0 AND probability <= 1),
    PRIMARY KEY (track_id, model_id, label)
);
-- "Tracks with label L above threshold T under model M" is an index range scan.
CREATE INDEX predictions_by_label ON predictions (model_id, label, probability DESC) INCLUDE (track_id);

CREATE TABLE embeddings (
    track_id   bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    model_id   bigint NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    vector     real[] NOT NULL CHECK (array_ndims(vector) = 1 AND cardinality(vector) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (track_id, model_id)
);
CREATE INDEX embeddings_by_model ON embeddings (model_id);

CREATE TABLE corrections (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    track_id             bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    user_id              bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label                text NOT NULL CHECK (label <> ''),
    action               text NOT NULL CHECK (action IN ('added', 'removed')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- Set when a retraining run has used the correction.
    consumed_by_model_id bigint REFERENCES models (id) ON DELETE SET NULL
);
CREATE INDEX corrections_by_track ON corrections (track_id);
CREATE INDEX corrections_unconsumed ON corrections (created_at) WHERE consumed_by_model_id IS NULL;

CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL CHECK (kind <> ''),
    track_id         bigint REFERENCES tracks (id) ON DELETE CASCADE,
    payload          jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);
-- Claiming scans only open jobs, oldest first.
CREATE INDEX jobs_open ON jobs (id) WHERE state IN ('queued', 'running');
-- One open job of a kind per track: re-scanning a changed file does not pile up work.
CREATE UNIQUE INDEX jobs_one_open_per_track ON jobs (kind, track_id) WHERE state IN ('queued', 'running') AND track_id IS NOT NULL;
