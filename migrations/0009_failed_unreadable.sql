-- Timbre catalog, ninth schema: whether a failed track failed only because its file could not be
-- read (missing, no permission, an I/O error, its disk away) on every attempt, rather than because
-- it does not decode. A scan that finds such a file back, unchanged at its path, queues it again.
ALTER TABLE tracks ADD COLUMN failed_unreadable boolean NOT NULL DEFAULT false;
