-- Timbre catalog, sixth schema: tag write-back (`timbre writeback`), opt-in per library.

-- Off unless the owner asks (`timbre library set L --writeback on`): Timbre writes into a
-- library's files only then, and only tags.
ALTER TABLE libraries ADD COLUMN writeback boolean NOT NULL DEFAULT false;

-- Every tag written into a file, and every undo. The file's size, mtime and content hash after
-- the write are stored on the track row in the same transaction (so a rescan sees the file
-- unchanged and keeps its predictions and embedding) and here, for the record.
CREATE TABLE writebacks (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    track_id       bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    -- 'genre', 'grouping', 'comment' or 'custom:NAME', as given to --field.
    field          text NOT NULL CHECK (field <> ''),
    -- TagLib's property key written: GENRE, GROUPING, COMMENT, NAME.
    tag_key        text NOT NULL CHECK (tag_key <> ''),
    -- 'write' put Timbre's value in; 'undo' put previous_value back.
    action         text NOT NULL CHECK (action IN ('write', 'undo')),
    -- The field's values after the write (empty: the field was removed).
    value          text[] NOT NULL,
    -- The field's values before the write, so an undo can restore them (empty: it had none).
    previous_value text[] NOT NULL,
    size           bigint NOT NULL CHECK (size >= 0),
    mtime_ns       bigint NOT NULL,
    content_hash   bytea NOT NULL CHECK (octet_length(content_hash) = 32),
    written_at     timestamptz NOT NULL DEFAULT now()
);
-- The latest write-back of a track's field.
CREATE INDEX writebacks_by_track ON writebacks (track_id, tag_key, id DESC);
