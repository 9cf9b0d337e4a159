-- The similarity index in a server follows the catalog by asking for embeddings stored since
-- its last look: an index range scan instead of reading every embedding of the model.
CREATE INDEX embeddings_by_model_time ON embeddings (model_id, created_at);
