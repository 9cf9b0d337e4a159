import Foundation

public enum ModelState: String, Sendable, CaseIterable { case candidate, active, retired, rejected }

public struct ModelVersion: Sendable, Equatable {
    public let id: Int64
    public let version: String
    public let filePath: String
    public let labels: [String]
    /// JSON text.
    public let metrics: String
    public let parentID: Int64?
    public let state: ModelState
    public let createdAt: Date
    public let activatedAt: Date?
}

/// Model versions. Immutable once registered; at most one is active (a partial unique index
/// enforces it), and promotion switches the active one in a single transaction.
public struct ModelRepository: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = "id, version, file_path, labels, metrics, parent_id, state, created_at, activated_at"

    public func register(version: String, filePath: String, labels: [String], metrics: String = "{}", parentID: Int64? = nil) throws -> ModelVersion {
        try pool.withConnection(retryingOnConnectionLoss: false) { connection in
            try Self.model(connection.query("""
                INSERT INTO models (version, file_path, labels, metrics, parent_id) VALUES ($1, $2, $3, $4::jsonb, $5)
                RETURNING \(Self.columns)
                """, [version, filePath, labels, metrics, parentID]), 0)
        }
    }

    public func active() throws -> ModelVersion? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM models WHERE state = 'active'")
            return rows.rowCount == 0 ? nil : try Self.model(rows, 0)
        }
    }

    /// Every version, newest first.
    public func list() throws -> [ModelVersion] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM models ORDER BY id DESC")
            return try (0..<rows.rowCount).map { try Self.model(rows, $0) }
        }
    }

    public func find(id: Int64) throws -> ModelVersion? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM models WHERE id = $1", [id])
            return rows.rowCount == 0 ? nil : try Self.model(rows, 0)
        }
    }

    public func find(version: String) throws -> ModelVersion? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM models WHERE version = $1", [version])
            return rows.rowCount == 0 ? nil : try Self.model(rows, 0)
        }
    }

    /// Makes `id` the active model, retiring the previous one, atomically. Promoting a retired
    /// model is how one rolls back.
    public func promote(id: Int64) throws {
        try pool.withTransaction { connection in try Self.promote(id: id, on: connection) }
    }

    /// `promote` inside the caller's transaction.
    static func promote(id: Int64, on connection: PostgresConnection) throws {
        let target = try connection.query("SELECT state FROM models WHERE id = $1 FOR UPDATE", [id])
        guard target.rowCount == 1 else { throw CatalogError.notFound(what: "model \(id)") }
        guard try target.string(0, 0) != ModelState.rejected.rawValue else {
            throw CatalogError.invalidArgument("model \(id) was rejected and cannot be promoted")
        }
        try connection.query("UPDATE models SET state = 'retired' WHERE state = 'active' AND id <> $1", [id])
        try connection.query("UPDATE models SET state = 'active', activated_at = now() WHERE id = $1", [id])
    }

    /// The model a retraining job registered.
    public func find(trainedByJobID jobID: Int64) throws -> ModelVersion? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM models WHERE trained_by_job_id = $1 ORDER BY id DESC LIMIT 1", [jobID])
            return rows.rowCount == 0 ? nil : try Self.model(rows, 0)
        }
    }

    public func reject(id: Int64) throws {
        try pool.withConnection { try $0.query("UPDATE models SET state = 'rejected' WHERE id = $1 AND state = 'candidate'", [id]) }
    }

    static func model(_ rows: QueryResult, _ row: Int) throws -> ModelVersion {
        ModelVersion(id: try rows.int(row, 0), version: try rows.string(row, 1), filePath: try rows.string(row, 2),
                     labels: try rows.strings(row, 3), metrics: try rows.string(row, 4), parentID: try rows.optionalInt(row, 5),
                     state: ModelState(rawValue: try rows.string(row, 6)) ?? .candidate,
                     createdAt: try rows.date(row, 7), activatedAt: try rows.optionalDate(row, 8))
    }
}
