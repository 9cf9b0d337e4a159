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
    /// Claimed in a batch of one: an earlier attempt's batch never finished (its lease ran out)
    /// or its file outlived the decode time limit.
    public let claimedAlone: Bool
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
///
/// A job whose lease ran out (its worker died or hung mid-batch) is claimed next *alone*, in a
/// batch of one, and so is one marked `claim_alone` (its file outlived the decode time limit):
/// a file that crashes workers costs its own attempts, not those of the jobs batched with it.
/// A job handed back with `retryLater` (its file could not be read right now) is not claimed
/// before its `not_before`.
///
/// Claims and track-less enqueues survive a lost COMMIT: the pool runs them once more on a new
/// connection when the old one died, and each carries a token (`claim_token`, `enqueue_token`)
/// by which the second run finds what the first one committed instead of claiming a second
/// batch (whose jobs would sit leased to nobody until their lease ran out) or adding a second job.
public struct JobQueue: Sendable {
    public let pool: ConnectionPool
    /// Tests: runs on the connection right after a claim's COMMIT (or a track-less enqueue's
    /// INSERT) returned, before the caller sees the result: a connection lost here is a COMMIT
    /// whose answer never arrived.
    var afterCommit: (@Sendable (_ operation: Operation, _ connection: PostgresConnection) throws -> Void)?

    enum Operation: Sendable { case claim, enqueue }

    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = "id, kind, track_id, payload, attempts, max_attempts, lease_owner, lease_expires_at, claim_alone"
    /// `columns` qualified with the table's name (for `UPDATE … FROM … RETURNING`).
    static let qualifiedColumns = columns.split(separator: ",").map { "jobs." + $0.trimmingCharacters(in: .whitespaces) }
        .joined(separator: ", ")

    /// Queues a job; for a track that has an open job of this kind already, returns nil.
    ///
    /// A job for a track is one open job per (kind, track), so running the INSERT again after a
    /// lost COMMIT adds nothing. A job without a track has nothing that tells it from another:
    /// it carries an `enqueue_token`, and an INSERT run again finds the job the first one made.
    @discardableResult
    public func enqueue(kind: String, trackID: Int64? = nil, payload: String = "{}", maxAttempts: Int = 3) throws -> Int64? {
        guard trackID == nil else {
            return try pool.withConnection { connection in
                let rows = try connection.query("""
                    INSERT INTO jobs (kind, track_id, payload, max_attempts) VALUES ($1, $2, $3::jsonb, $4)
                    ON CONFLICT (kind, track_id) WHERE state IN ('queued', 'running') AND track_id IS NOT NULL DO NOTHING
                    RETURNING id
                    """, [kind, trackID, payload, maxAttempts])
                return rows.rowCount == 0 ? nil : try rows.int(0, 0)
            }
        }
        let token = UUID().uuidString.lowercased()
        return try pool.withConnection { connection in  // run again on a new connection if this one dies
            let rows = try connection.query("""
                INSERT INTO jobs (kind, payload, max_attempts, enqueue_token) VALUES ($1, $2::jsonb, $3, $4::uuid)
                ON CONFLICT (enqueue_token) WHERE enqueue_token IS NOT NULL DO NOTHING
                RETURNING id
                """, [kind, payload, maxAttempts, token])
            let id = rows.rowCount == 1
                ? try rows.int(0, 0)
                : try connection.query("SELECT id FROM jobs WHERE enqueue_token = $1::uuid", [token]).int(0, 0)
            try afterCommit?(.enqueue, connection)
            return id
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
    /// Jobs whose lease expired with no attempts left are failed here first. Then a job to run
    /// alone is looked for (one whose lease ran out, or marked `claim_alone`): if there is one,
    /// it is the whole claim. Otherwise up to `limit` queued jobs, oldest first, none of them
    /// before its `not_before`.
    ///
    /// When the connection dies under the claim, the COMMIT may or may not have happened: the
    /// claim is run once more on a new connection, which first looks for jobs leased under this
    /// claim's token and returns those if the first run committed.
    public func claim(limit: Int, lease: TimeInterval, owner: String, kind: String? = nil) throws -> [Job] {
        guard limit > 0 else { return [] }
        guard lease > 0 else { throw CatalogError.invalidArgument("a lease must be longer than zero seconds") }
        let token = UUID().uuidString.lowercased()
        var runs = 0
        return try pool.withConnection { connection in  // run again on a new connection if this one dies
            runs += 1
            if runs > 1 {
                let committed = try Self.claimed(token: token, owner: owner, on: connection)
                if !committed.isEmpty { return committed }
            }
            let jobs = try connection.withTransaction {
                try Self.claim(limit: limit, lease: lease, owner: owner, kind: kind, token: token, on: $0)
            }
            try afterCommit?(.claim, connection)
            return jobs
        }
    }

    /// `claim` inside the caller's transaction, its jobs marked with `token`.
    static func claim(limit: Int, lease: TimeInterval, owner: String, kind: String?, token: String,
                      on connection: PostgresConnection) throws -> [Job] {
        try connection.query("""
            UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                   last_error = coalesce(last_error || '; ', '') || 'lease expired on attempt ' || attempts || ' of ' || max_attempts
            WHERE state = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
            """)
        // A batch whose lease ran out never finished: one of its files may be what killed the
        // worker, so each of its jobs runs alone from now on.
        let alone = try connection.query("""
            WITH picked AS (
                SELECT id FROM jobs
                WHERE (state = 'running' AND lease_expires_at < now()
                       OR state = 'queued' AND claim_alone AND (not_before IS NULL OR not_before <= now()))
                  AND attempts < max_attempts AND ($1::text IS NULL OR kind = $1::text)
                ORDER BY id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = $2,
                   lease_expires_at = now() + make_interval(secs => $3), claim_alone = true, claim_token = $4::uuid,
                   not_before = NULL, updated_at = now()
            FROM picked WHERE jobs.id = picked.id
            RETURNING \(qualifiedColumns)
            """, [kind, owner, lease, token])
        if alone.rowCount > 0 { return try (0..<alone.rowCount).map { try job(alone, $0) } }
        let rows = try connection.query("""
            WITH picked AS (
                SELECT id FROM jobs
                WHERE state = 'queued' AND NOT claim_alone AND (not_before IS NULL OR not_before <= now())
                  AND attempts < max_attempts AND ($4::text IS NULL OR kind = $4::text)
                ORDER BY id
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            UPDATE jobs SET state = 'running', attempts = jobs.attempts + 1, lease_owner = $2,
                   lease_expires_at = now() + make_interval(secs => $3), claim_token = $5::uuid, not_before = NULL,
                   updated_at = now()
            FROM picked WHERE jobs.id = picked.id
            RETURNING \(qualifiedColumns)
            """, [limit, owner, lease, kind, token])
        return try (0..<rows.rowCount).map { try job(rows, $0) }.sorted { $0.id < $1.id }
    }

    /// The jobs a claim with `token` leased to `owner` and that `owner` still holds.
    static func claimed(token: String, owner: String, on connection: PostgresConnection) throws -> [Job] {
        let rows = try connection.query("""
            SELECT \(columns) FROM jobs WHERE claim_token = $1::uuid AND state = 'running' AND lease_owner = $2 ORDER BY id
            """, [token, owner])
        return try (0..<rows.rowCount).map { try job(rows, $0) }
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

    /// Hands a job held by `owner` back for a later attempt, keeping `error`: queued again but not
    /// claimable for `delay` seconds (and from then on claimed alone, with `alone`), or failed for
    /// good when its attempts are used up. For work that may succeed later, such as a file that
    /// cannot be read right now. Returns the job's new state (nil if `owner` did not hold it).
    static func retryLater(jobID: Int64, owner: String, error: String, delay: TimeInterval, alone: Bool,
                           on connection: PostgresConnection) throws -> JobState? {
        let rows = try connection.query("""
            UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                   not_before = CASE WHEN attempts >= max_attempts THEN NULL ELSE now() + make_interval(secs => $4) END,
                   claim_alone = claim_alone OR $5, lease_owner = NULL, lease_expires_at = NULL, last_error = $3,
                   updated_at = now()
            WHERE id = $1 AND state = 'running' AND lease_owner = $2
            RETURNING state
            """, [jobID, owner, String(error.prefix(4000)), max(0, delay), alone])
        return rows.rowCount == 0 ? nil : JobState(rawValue: try rows.string(0, 0))
    }

    /// Seconds before attempt `attempts + 1` of a job handed back with `retryLater`: `base`
    /// after the first attempt, doubled after each later one, at most `cap`.
    public static func retryDelay(afterAttempt attempts: Int, base: TimeInterval, cap: TimeInterval) -> TimeInterval {
        min(cap, base * pow(2, Double(min(max(attempts - 1, 0), 30))))
    }

    /// The files of these tracks moved or changed: their queued tag jobs start over (every
    /// attempt again, no back-off, batched again), and those of them that had failed are pending
    /// again with a new job. Returns how many jobs were queued.
    @discardableResult
    static func retagAfterFileChange(trackIDs: [Int64], on connection: PostgresConnection) throws -> Int {
        guard !trackIDs.isEmpty else { return 0 }
        let failed = try connection.query("""
            UPDATE tracks SET status = 'pending', last_error = NULL, failed_unreadable = false
            WHERE id = ANY($1::bigint[]) AND status = 'failed' RETURNING id
            """, [trackIDs])
        try connection.query("""
            UPDATE jobs SET attempts = 0, not_before = NULL, claim_alone = false, updated_at = now()
            WHERE kind = $1 AND state = 'queued' AND track_id = ANY($2::bigint[])
            """, [JobKind.tag, trackIDs])
        return try enqueue(kind: JobKind.tag, trackIDs: try (0..<failed.rowCount).map { try failed.int($0, 0) }, on: connection)
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

    /// Jobs queued or running (of one kind, if given): work that is not finished.
    ///
    /// - Parameter includingDeferred: count queued jobs whose `not_before` is still ahead (handed
    ///   back to be tried later) too.
    public func openCount(kind: String? = nil, includingDeferred: Bool = true) throws -> Int {
        try pool.withConnection { connection in
            Int(try connection.query("""
                SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND ($1::text IS NULL OR kind = $1::text)
                  AND ($2 OR state = 'running' OR not_before IS NULL OR not_before <= now())
                """, [kind, includingDeferred]).int(0, 0))
        }
    }

    public func job(id: Int64) throws -> (job: Job, state: JobState, lastError: String?)? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns), state, last_error FROM jobs WHERE id = $1", [id])
            guard rows.rowCount == 1 else { return nil }
            return (try Self.job(rows, 0), JobState(rawValue: try rows.string(0, 9)) ?? .failed, try rows.optionalString(0, 10))
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
            leaseOwner: try rows.optionalString(row, 6), leaseExpiresAt: try rows.optionalDate(row, 7),
            claimedAlone: try rows.bool(row, 8))
    }
}
