-- Timbre catalog, fifth schema: jobs retried later, jobs claimed alone, and claims and
-- enqueues that can be looked up after a lost COMMIT.

-- A job handed back because its file could not be read right now (missing, no permission, an
-- I/O error, the library's disk away) is not claimed again before this time (back-off).
ALTER TABLE jobs ADD COLUMN not_before timestamptz;
-- Claimed in a batch of one: an earlier attempt's batch never finished (its lease ran out: the
-- worker died or hung) or its file outlived the decode time limit. One poisonous file then
-- costs its own attempts, not its batch-mates'.
ALTER TABLE jobs ADD COLUMN claim_alone boolean NOT NULL DEFAULT false;
-- The claim that leased the job, unique per claim: a claimer whose COMMIT's answer was lost
-- looks its jobs up by it instead of claiming a second batch.
ALTER TABLE jobs ADD COLUMN claim_token uuid;
-- An enqueue's own name for a job without a track (nothing else tells two such jobs apart):
-- an enqueue run again after a lost COMMIT finds the job it made instead of adding another.
ALTER TABLE jobs ADD COLUMN enqueue_token uuid;
CREATE UNIQUE INDEX jobs_enqueue_token ON jobs (enqueue_token) WHERE enqueue_token IS NOT NULL;
CREATE INDEX jobs_claim_token ON jobs (claim_token) WHERE state = 'running';
-- Claiming looks first for a job to run alone: few rows, whatever the length of the queue.
CREATE INDEX jobs_to_claim_alone ON jobs (id) WHERE state = 'running' OR (state = 'queued' AND claim_alone);
