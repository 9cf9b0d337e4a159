-- Timbre catalog, seventh schema: the password a user's Subsonic clients sign in with.
--
-- Subsonic's token scheme sends t = md5(password + s) with a random salt s, so the server must
-- hold the password itself to check it: a hash would not do. That is why this is a password of
-- its own, made by the server (`timbre user subsonic-password NAME`), used for nothing but the
-- /rest/ endpoints, and replaced or removed by the same command; Timbre's API keys stay stored
-- as SHA-256 only (a client using OpenSubsonic's apiKey needs no row here).
CREATE TABLE subsonic_passwords (
    user_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password   text NOT NULL CHECK (password <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);
