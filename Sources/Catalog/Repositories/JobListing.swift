import Foundation

/// A job as a user sees it: its state and, for scans, how far it got.
public struct JobRecord: Sendable, Equatable {
    public let id: Int64
    public let kind: String
    public let state: JobState
    public let trackID: Int64?
    public let libraryID: Int64?
    public let attempts: Int
    public let lastError: String?
    public let createdAt: Date
    public let updatedAt: Date
    /// (done, total) when the job reports progress.
    public let progress: (done: Int, total: Int)?

    public static func == (a: JobRecord, b: JobRecord) -> Bool {
        a.id == b.id && a.state == b.state && a.attempts == b.attempts && a.progress?.done == b.progress?.done
            && a.progress?.total == b.progress?.total && a.updatedAt == b.updatedAt
    }
}

extension JobKind {
    /// Walk a library's folder and queue what changed; run by the server that accepted it.
    public static let scan = "scan"
}

/// Jobs by owner (a tagging job belongs to its track's library, a scan to its library), and the
/// scan jobs the server runs itself.
extension JobQueue {
    private static let recordColumns = """
        j.id, j.kind, j.state, j.track_id, coalesce(j.library_id, t.library_id), j.attempts, j.last_error, j.created_at,
        j.updated_at, (j.progress->>'done')::bigint, (j.progress->>'total')::bigint
        """
    /// A job belongs to its library's owner; jobs of no library (retraining) belong to the
    /// catalog, and are listed for administrators (`$2`).
    private static let ownedJobs = """
        FROM jobs j LEFT JOIN tracks t ON t.id = j.track_id
        LEFT JOIN libraries l ON l.id = coalesce(j.library_id, t.library_id)
        """
    private static let visible = "(l.owner_id = $1 OR (l.id IS NULL AND j.track_id IS NULL AND $2::boolean))"

    /// `ownerID`'s jobs (and, with `includeCatalogJobs`, retraining), newest first.
    public func list(ownerID: Int64, includeCatalogJobs: Bool = false, state: JobState? = nil, kind: String? = nil,
                     limit: Int = 50) throws -> [JobRecord] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(Self.recordColumns) \(Self.ownedJobs)
                WHERE \(Self.visible) AND ($3::text IS NULL OR j.state = $3::text) AND ($4::text IS NULL OR j.kind = $4::text)
                ORDER BY j.id DESC LIMIT $5
                """, [ownerID, includeCatalogJobs, state?.rawValue, kind, max(1, min(limit, 500))])
            return try (0..<rows.rowCount).map { try Self.record(rows, $0) }
        }
    }

    public func counts(ownerID: Int64, includeCatalogJobs: Bool = false) throws -> [JobState: Int] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT j.state, count(*) \(Self.ownedJobs) WHERE \(Self.visible) GROUP BY j.state",
                                            [ownerID, includeCatalogJobs])
            var counts: [JobState: Int] = [:]
            for row in 0..<rows.rowCount {
                if let state = JobState(rawValue: try rows.string(row, 0)) { counts[state] = Int(try rows.int(row, 1)) }
            }
            return counts
        }
    }

    public func record(id: Int64) throws -> JobRecord? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.recordColumns) \(Self.ownedJobs) WHERE j.id = $1", [id])
            return rows.rowCount == 0 ? nil : try Self.record(rows, 0)
        }
    }

    /// A scan job, already running under `owner` (the server runs it at once, on its own thread),
    /// leased for `lease` seconds and renewed by every progress report. Returns nil when a scan
    /// of the library is queued or running already. A running scan whose lease ran out (its
    /// server was killed) is failed first, so it does not block the library's scans.
    public func startScan(libraryID: Int64, owner: String, lease: TimeInterval = 300) throws -> Int64? {
        try pool.withTransaction(retryingOnConnectionLoss: false) { connection in
            try connection.query("""
                UPDATE jobs SET state = 'failed', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                    last_error = 'the server running this scan stopped before it ended (its lease ran out)'
                WHERE kind = 'scan' AND library_id = $1 AND state = 'running' AND lease_expires_at < now()
                """, [libraryID])
            let rows = try connection.query("""
                INSERT INTO jobs (kind, library_id, state, attempts, lease_owner, lease_expires_at, progress)
                SELECT 'scan', $1, 'running', 1, $2, now() + make_interval(secs => $3), '{"done": 0, "total": 0}'
                WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = 'scan' AND library_id = $1 AND state IN ('queued', 'running'))
                RETURNING id
                """, [libraryID, owner, lease])
            return rows.rowCount == 0 ? nil : try rows.int(0, 0)
        }
    }

    /// Records a scan's progress and renews its lease by `lease` seconds.
    public func reportProgress(jobID: Int64, done: Int, total: Int, lease: TimeInterval = 300) throws {
        try pool.withConnection {
            try $0.query("""
                UPDATE jobs SET progress = jsonb_build_object('done', $2::bigint, 'total', $3::bigint), updated_at = now(),
                    lease_expires_at = now() + make_interval(secs => $4)
                WHERE id = $1 AND state = 'running'
                """, [jobID, Int64(done), Int64(total), lease])
        }
    }

    /// Ends a job the server ran itself: done, or failed with `error`.
    public func finish(jobID: Int64, error: String? = nil) throws {
        try pool.withConnection {
            try $0.query("""
                UPDATE jobs SET state = CASE WHEN $2::text IS NULL THEN 'done' ELSE 'failed' END, last_error = $2::text,
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE id = $1
                """, [jobID, error.map { String($0.prefix(4000)) }])
        }
    }

    static func record(_ rows: QueryResult, _ row: Int) throws -> JobRecord {
        let done = try rows.optionalInt(row, 9), total = try rows.optionalInt(row, 10)
        return JobRecord(id: try rows.int(row, 0), kind: try rows.string(row, 1),
                         state: JobState(rawValue: try rows.string(row, 2)) ?? .queued, trackID: try rows.optionalInt(row, 3),
                         libraryID: try rows.optionalInt(row, 4), attempts: Int(try rows.int(row, 5)),
                         lastError: try rows.optionalString(row, 6), createdAt: try rows.date(row, 7), updatedAt: try rows.date(row, 8),
                         progress: done.flatMap { d in total.map { (Int(d), Int($0)) } })
    }
}
