import Foundation

/// A model's output for one track: label probabilities and the embedding.
public struct PredictionStore: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    /// Stores the probabilities and the embedding in one transaction, as upserts on
    /// (track, model, label) and (track, model): running a job twice leaves one result,
    /// the latest. Labels absent from `probabilities` but stored earlier are removed, so the
    /// stored set is exactly this run's. The track becomes `tagged`.
    public func write(trackID: Int64, modelID: Int64, probabilities: [String: Float], embedding: [Float]?) throws {
        try Self.validate(probabilities: probabilities, embedding: embedding)
        try pool.withTransaction { connection in
            try Self.write(trackID: trackID, modelID: modelID, probabilities: probabilities, embedding: embedding, on: connection)
        }
    }

    /// Throws unless every probability is in [0, 1] and the embedding is non-empty and finite.
    public static func validate(probabilities: [String: Float], embedding: [Float]?) throws {
        for (label, probability) in probabilities where !(probability >= 0 && probability <= 1) {
            throw CatalogError.invalidArgument("probability \(probability) for \(label) is outside [0, 1]")
        }
        if let embedding, embedding.isEmpty || embedding.contains(where: { !$0.isFinite }) {
            throw CatalogError.invalidArgument("an embedding must be non-empty and finite")
        }
    }

    /// `write` inside the caller's transaction (the worker writes a whole batch in one).
    static func write(trackID: Int64, modelID: Int64, probabilities: [String: Float], embedding: [Float]?,
                      on connection: PostgresConnection) throws {
        try validate(probabilities: probabilities, embedding: embedding)
        let labels = probabilities.keys.sorted()
        let values = labels.map { probabilities[$0] ?? 0 }
        try connection.query("""
            INSERT INTO predictions (track_id, model_id, label, probability)
            SELECT $1, $2, label, probability FROM unnest($3::text[], $4::real[]) AS p (label, probability)
            ON CONFLICT (track_id, model_id, label) DO UPDATE SET probability = excluded.probability
            """, [trackID, modelID, labels, values])
        try connection.query("DELETE FROM predictions WHERE track_id = $1 AND model_id = $2 AND label <> ALL($3::text[])",
                             [trackID, modelID, labels])
        if let embedding {
            try connection.query("""
                INSERT INTO embeddings (track_id, model_id, vector) VALUES ($1, $2, $3)
                ON CONFLICT (track_id, model_id) DO UPDATE SET vector = excluded.vector, created_at = now()
                """, [trackID, modelID, embedding])
        }
        try connection.query("UPDATE tracks SET status = 'tagged', last_error = NULL WHERE id = $1 AND status <> 'gone'", [trackID])
    }

    /// Label → probability for one track under one model.
    public func probabilities(trackID: Int64, modelID: Int64) throws -> [String: Float] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT label, probability FROM predictions WHERE track_id = $1 AND model_id = $2",
                                            [trackID, modelID])
            var result: [String: Float] = [:]
            for row in 0..<rows.rowCount { result[try rows.string(row, 0)] = Float(try rows.double(row, 1)) }
            return result
        }
    }

    public func embedding(trackID: Int64, modelID: Int64) throws -> [Float]? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT vector FROM embeddings WHERE track_id = $1 AND model_id = $2", [trackID, modelID])
            return rows.rowCount == 0 ? nil : try rows.floats(0, 0)
        }
    }

    /// Every embedding under `modelID` of a track that is not gone, by track id: what a
    /// similarity index loads.
    public func embeddings(modelID: Int64) throws -> [(trackID: Int64, vector: [Float])] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT e.track_id, e.vector FROM embeddings e JOIN tracks t ON t.id = e.track_id
                WHERE e.model_id = $1 AND t.status <> 'gone' ORDER BY e.track_id
                """, [modelID])
            return try (0..<rows.rowCount).map { (try rows.int($0, 0), try rows.floats($0, 1)) }
        }
    }

    /// Embeddings under `modelID` of tracks not gone that were stored at or after `since`
    /// (microseconds since 1970; all of them for nil), with when each was stored (the same
    /// unit): what keeps an in-memory index in sync.
    public func embeddings(modelID: Int64, since: Int64?) throws -> [(trackID: Int64, vector: [Float], storedAt: Int64)] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT e.track_id, e.vector, (extract(epoch FROM e.created_at) * 1000000)::bigint
                FROM embeddings e JOIN tracks t ON t.id = e.track_id
                WHERE e.model_id = $1 AND t.status <> 'gone'
                  AND ($2::bigint IS NULL OR e.created_at >= 'epoch'::timestamptz + $2::bigint * interval '1 microsecond')
                ORDER BY e.track_id
                """, [modelID, since])
            return try (0..<rows.rowCount).map { (try rows.int($0, 0), try rows.floats($0, 1), try rows.int($0, 2)) }
        }
    }

    /// Label → probability for each of `trackIDs` under `modelID`.
    public func probabilities(trackIDs: [Int64], modelID: Int64) throws -> [Int64: [String: Float]] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT track_id, label, probability FROM predictions WHERE model_id = $1 AND track_id = ANY($2::bigint[])
                """, [modelID, trackIDs])
            var result: [Int64: [String: Float]] = [:]
            for row in 0..<rows.rowCount {
                result[try rows.int(row, 0), default: [:]][try rows.string(row, 1)] = Float(try rows.double(row, 2))
            }
            return result
        }
    }

    /// Per label: tracks of `ownerID` (not gone) predicted at `threshold` or more under `modelID`.
    public func labelCounts(ownerID: Int64, modelID: Int64, threshold: Float) throws -> [String: Int] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT p.label, count(*) FROM predictions p JOIN tracks t ON t.id = p.track_id JOIN libraries l ON l.id = t.library_id
                WHERE p.model_id = $1 AND l.owner_id = $2 AND t.status <> 'gone' AND p.probability >= $3::real
                GROUP BY p.label
                """, [modelID, ownerID, threshold])
            var result: [String: Int] = [:]
            for row in 0..<rows.rowCount { result[try rows.string(row, 0)] = Int(try rows.int(row, 1)) }
            return result
        }
    }

    /// The `limit` labels with the highest mean probability over `trackIDs` under `modelID`
    /// (what a group of tracks has in common), highest first.
    public func meanProbabilities(trackIDs: [Int64], modelID: Int64, limit: Int) throws -> [(label: String, probability: Float)] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT label, avg(probability)::real AS mean FROM predictions
                WHERE model_id = $1 AND track_id = ANY($2::bigint[])
                GROUP BY label ORDER BY mean DESC, label LIMIT $3
                """, [modelID, trackIDs, limit])
            return try (0..<rows.rowCount).map { (try rows.string($0, 0), Float(try rows.double($0, 1))) }
        }
    }

    /// Tracks whose probability for `label` under `modelID` is at least `threshold`, most likely first.
    public func tracks(label: String, modelID: Int64, threshold: Float, limit: Int = 100) throws -> [(trackID: Int64, probability: Float)] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT track_id, probability FROM predictions
                WHERE model_id = $1 AND label = $2 AND probability >= $3::real
                ORDER BY probability DESC LIMIT $4
                """, [modelID, label, threshold, limit])
            return try (0..<rows.rowCount).map { (try rows.int($0, 0), Float(try rows.double($0, 1))) }
        }
    }

    /// For each of up to `limit` tagged tracks (by id), its `perTrack` most likely labels under `modelID`.
    public func topTags(modelID: Int64, limit: Int, perTrack: Int) throws -> [(trackID: Int64, path: String, tags: [(label: String, probability: Float)])] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                WITH chosen AS (
                    SELECT t.id, l.root_path || '/' || t.path AS path FROM tracks t JOIN libraries l ON l.id = t.library_id
                    WHERE t.status = 'tagged' AND EXISTS (SELECT 1 FROM predictions p WHERE p.track_id = t.id AND p.model_id = $1)
                    ORDER BY t.id LIMIT $2
                )
                SELECT c.id, c.path, r.label, r.probability FROM chosen c
                CROSS JOIN LATERAL (SELECT label, probability FROM predictions p WHERE p.track_id = c.id AND p.model_id = $1
                                    ORDER BY probability DESC, label LIMIT $3) r
                ORDER BY c.id, r.probability DESC, r.label
                """, [modelID, limit, perTrack])
            var result: [(trackID: Int64, path: String, tags: [(label: String, probability: Float)])] = []
            for row in 0..<rows.rowCount {
                let id = try rows.int(row, 0)
                let tag = (label: try rows.string(row, 2), probability: Float(try rows.double(row, 3)))
                if result.last?.trackID == id {
                    result[result.count - 1].tags.append(tag)
                } else {
                    result.append((id, try rows.string(row, 1), [tag]))
                }
            }
            return result
        }
    }
}
