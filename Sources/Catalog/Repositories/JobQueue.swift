import Foundation

/// A unit of work leased to one worker at a time.
public struct Job: Sendable, Equatable {
    public let id: Int64
    public let kind: String
    public let trackID: Int64?
    /// JSON text.
    public let payload: String
    /// Including the current one.
    public let attempts: Int
    public let maxAttempts: Int
    public let leaseOwner: String?
    public let leaseExpiresAt: Date?
}

public enum JobKind {
    /// Decode, run the active model, store predictions and the embedding.
    public static let tag = "tag"
}

public enum JobState: String, Sendable, CaseIterable { case queued, running, done, failed }

/// The work queue in PostgreSQL, shared by any number of worker processes.
///
/// `claim` takes the oldest open jobs with `FOR UPDATE SKIP LOCKED`, so concurrent claimers
/// never block on nor receive the same job. A claimed job carries a lease (server clock);
/// a live worker `renew`s it, and a job whose lease ran out is claimable again: that is how
/// a crashed worker's work comes back. Every claim counts an attempt; after `maxAttempts` the
/// job is failed with its last error kept. Only the lease's holder finishes a job: `complete`,
/// `fail` and `failPermanently` match `lease_owner`, so a worker whose lease ran out and was
/// claimed by another cannot finish that worker's job (nor write its results: the worker
/// finishes the job first, in the results' transaction, and writes only if that succeeded).
/// Workers must still write results idempotently (see `PredictionStore`): a lease that ran out
/// but was not claimed again is still its holder's to finish.
public struct JobQueue: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = "id, kind, track_id, payload, attempts, max_attempts, lease_owner, lease_expires_at"

    /// Queues a job; for a track that has an open job of this kind already, returns nil.
    @discardableResult
    public func enqueue(kind: String, trackID: Int64? = nil, payload: String = "{}", maxAttempts: Int = 3) throws -> Int64? {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                INSERT INTO jobs (kind, track_id, payload, max_attempts) VALUES ($1, $2, $3::jsonb, $4)
                ON CONFLICT (kind, track_id) WHERE state IN ('queued', 'running') AND track_id IS NOT NULL DO NOTHING
                RETURNING id
                """, [kind, trackID, payload, maxAttempts])
            return rows.rowCount == 0 ? nil : try rows.int(0, 0)
        }
    }

    /// Queues one job per track (skipping tracks with an open job of that kind); returns how many.
    @discardableResult
    static func enqueue(kind: String, trackIDs: [Int64], on connection: PostgresConnection) throws -> Int {
        guard !trackIDs.isEmpty else { return 0 }
        return try connection.query("""
            INSERT INTO jobs (kind, track_id) SELECT $1, unnest($2::bigint[])
            ON CONFLICT (kind, track_id) WHERE state IN ('queued', 'running') AND track_id IS NOT NULL DO NOTHING
            """, [kind, trackIDs]).affectedRows
    }

    /// Leases up to `limit` open jobs (optionally of one `kind`) to `owner` for `lease` seconds.
    ///
    /// Jobs whose lease expired with no attempts left are failed here first.
    public func claim(limit: Int, lease: TimeInterval, owner: String, kind: String? = nil) throws -> [Job] {
        guard limit > 0 else { return [] }
        guard lease > 0 else { throw CatalogError.invalidArgument("a lease must be longer than zero seconds") }
        return try pool.withTransaction { connection in
            try connection.query("""
                UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                       last_error = coalesce(last_error || '; ', '') || 'lease expired on attempt ' || attempts || ' of ' || max_attempts
                WHERE state = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                """)
            let rows = try connection.query("""
                WITH picked AS (
                    SELECT id FROM jobs
                    WHERE (state = 'queued' OR (state = 'running' AND lease_expires_at < now()))
                      AND attempts < max_attempts AND ($4::text IS NULL OR kind = $4::text)
                    ORDER BY id
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = $2,
                       lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
                FROM picked WHERE jobs.id = picked.id
                RETURNING \(Self.columns.split(separator: ",").map { "jobs." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                """, [limit, owner, lease, kind])
            return try (0..<rows.rowCount).map { try Self.job(rows, $0) }.sorted { $0.id < $1.id }
        }
    }

    /// Extends the lease; false when `owner` no longer holds the job (expired and re-claimed, or finished).
    public func renew(jobID: Int64, owner: String, lease: TimeInterval) throws -> Bool {
        try pool.withConnection { connection in
            try connection.query("""
                UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
                WHERE id = $1 AND state = 'running' AND lease_owner = $2
                """, [jobID, owner, lease]).affectedRows == 1
        }
    }

    /// Marks a job held by `owner` done; false (and nothing changed) when `owner` does not hold
    /// it: finished already, or its lease ran out and another worker claimed it.
    @discardableResult
    public func complete(jobID: Int64, owner: String) throws -> Bool {
        try pool.withConnection { try Self.complete(jobID: jobID, owner: owner, on: $0) }
    }

    /// Records a failed attempt by `owner`: the job is queued again, or failed for good once its
    /// attempts are used up. Returns the job's new state (nil if `owner` did not hold it).
    @discardableResult
    public func fail(jobID: Int64, owner: String, error: String) throws -> JobState? {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                       lease_owner = NULL, lease_expires_at = NULL, last_error = $3, updated_at = now()
                WHERE id = $1 AND state = 'running' AND lease_owner = $2
                RETURNING state
                """, [jobID, owner, String(error.prefix(4000))])
            return rows.rowCount == 0 ? nil : JobState(rawValue: try rows.string(0, 0))
        }
    }

    /// Extends the leases of several jobs in one statement; returns the ids `owner` still holds.
    public func renew(jobIDs: [Int64], owner: String, lease: TimeInterval) throws -> Set<Int64> {
        guard !jobIDs.isEmpty else { return [] }
        return try pool.withConnection { connection in
            let rows = try connection.query("""
                UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
                WHERE id = ANY($1::bigint[]) AND state = 'running' AND lease_owner = $2
                RETURNING id
                """, [jobIDs, owner, lease])
            return Set(try (0..<rows.rowCount).map { try rows.int($0, 0) })
        }
    }

    /// `complete` inside the caller's transaction.
    @discardableResult
    static func complete(jobID: Int64, owner: String, on connection: PostgresConnection) throws -> Bool {
        try connection.query("""
            UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, updated_at = now()
            WHERE id = $1 AND state = 'running' AND lease_owner = $2
            """, [jobID, owner]).affectedRows == 1
    }

    /// Fails a job held by `owner` for good, keeping `error`: for work that cannot succeed on a
    /// retry, such as an undecodable file. False when `owner` does not hold it.
    @discardableResult
    static func failPermanently(jobID: Int64, owner: String, error: String, on connection: PostgresConnection) throws -> Bool {
        try connection.query("""
            UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, last_error = $3, updated_at = now()
            WHERE id = $1 AND state = 'running' AND lease_owner = $2
            """, [jobID, owner, String(error.prefix(4000))]).affectedRows == 1
    }

    /// Jobs queued or running (of one kind, if given): work that is not finished.
    /// Hands back the jobs `owner` still holds (a worker stopping cleanly): queued again with the
    /// attempt their claim counted given back, so a clean stop costs no attempt. Returns how many.
    @discardableResult
    public func release(owner: String) throws -> Int {
        try pool.withConnection { connection in
            try connection.query("""
                UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = now()
                WHERE lease_owner = $1 AND state = 'running' RETURNING id
                """, [owner]).rowCount
        }
    }

    public func openCount(kind: String? = nil) throws -> Int {
        try pool.withConnection { connection in
            Int(try connection.query("""
                SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND ($1::text IS NULL OR kind = $1::text)
                """, [kind]).int(0, 0))
        }
    }

    public func job(id: Int64) throws -> (job: Job, state: JobState, lastError: String?)? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns), state, last_error FROM jobs WHERE id = $1", [id])
            guard rows.rowCount == 1 else { return nil }
            return (try Self.job(rows, 0), JobState(rawValue: try rows.string(0, 8)) ?? .failed, try rows.optionalString(0, 9))
        }
    }

    /// How many jobs are in each state (of one kind, if given).
    public func counts(kind: String? = nil) throws -> [JobState: Int] {
        try pool.withConnection { connection in
            let rows = try connection.query(
                "SELECT state, count(*) FROM jobs WHERE $1::text IS NULL OR kind = $1::text GROUP BY state", [kind])
            var counts: [JobState: Int] = [:]
            for row in 0..<rows.rowCount {
                if let state = JobState(rawValue: try rows.string(row, 0)) { counts[state] = Int(try rows.int(row, 1)) }
            }
            return counts
        }
    }

    static func job(_ rows: QueryResult, _ row: Int) throws -> Job {
        Job(id: try rows.int(row, 0), kind: try rows.string(row, 1), trackID: try rows.optionalInt(row, 2),
            payload: try rows.string(row, 3), attempts: Int(try rows.int(row, 4)), maxAttempts: Int(try rows.int(row, 5)),
            leaseOwner: try rows.optionalString(row, 6), leaseExpiresAt: try rows.optionalDate(row, 7))
    }
}
