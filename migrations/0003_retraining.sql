-- Timbre catalog, third schema: retraining from corrections.

-- One retraining at a time: concurrent requests find the open job instead of adding one.
CREATE UNIQUE INDEX jobs_one_open_retrain ON jobs (kind) WHERE kind = 'retrain' AND state IN ('queued', 'running');
-- The retraining job that made a model (its report is in models.metrics).
ALTER TABLE models ADD COLUMN trained_by_job_id bigint REFERENCES jobs (id) ON DELETE SET NULL;
CREATE INDEX models_by_job ON models (trained_by_job_id) WHERE trained_by_job_id IS NOT NULL;
