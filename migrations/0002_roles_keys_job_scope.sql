-- Timbre catalog, second schema: user roles, several revocable API keys per user, and jobs
-- that belong to a library (scans), with progress a client can show.

ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user'));
-- The first user is the administrator.
UPDATE users SET role = 'admin' WHERE id = (SELECT min(id) FROM users);

CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the key; the key itself is shown once and never stored.
    key_hash     bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    -- The key's first characters ("tmb_" + 8 hex digits), enough to name it for revocation.
    prefix       text NOT NULL,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
INSERT INTO api_keys (user_id, key_hash, prefix, label) SELECT id, api_key_hash, '', 'first key' FROM users;
ALTER TABLE users DROP COLUMN api_key_hash;

-- A scan job names its library; a tagging job's library is its track's.
ALTER TABLE jobs ADD COLUMN library_id bigint REFERENCES libraries (id) ON DELETE CASCADE;
ALTER TABLE jobs ADD COLUMN progress jsonb;
CREATE INDEX jobs_by_library ON jobs (library_id) WHERE library_id IS NOT NULL;
-- A user's corrections of a track, latest last.
CREATE INDEX corrections_by_user_track ON corrections (user_id, track_id, created_at);
