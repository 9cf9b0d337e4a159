import Foundation
import Logging

/// Applies `Migration`s in version order, each in its own transaction, and records them
/// in `schema_migrations` with their checksum.
///
/// The whole run holds a session advisory lock, so two processes starting together
/// (say, N workers after a deploy) migrate once: the second waits, then finds nothing to do.
/// An applied migration whose file has changed since is an error naming the file.
public struct Migrator: Sendable {
    public let migrations: [Migration]
    private let logger: Logger
    /// Arbitrary constant shared by every Timbre process ("timbre" in ASCII).
    static let advisoryLockKey: Int64 = 0x74_69_6d_62_72_65

    public init(migrations: [Migration], logger: Logger = Logger(label: "timbre.catalog.migrate")) {
        self.migrations = migrations
        self.logger = logger
    }

    /// Loads from `directory`; without one, the migrations built into the binary.
    public init(directory: URL? = nil) throws {
        self.init(migrations: try directory.map { try Migration.load(from: $0) } ?? Migration.bundled)
    }

    /// Applies what is missing; returns the migrations applied now (empty when up to date).
    @discardableResult
    public func migrate(_ pool: ConnectionPool) throws -> [Migration] {
        // Not retried: a lost connection mid-way leaves committed migrations committed and the
        // rest to the next run, which re-checks everything under the lock.
        try pool.withConnection(retryingOnConnectionLoss: false) { try migrate($0) }
    }

    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> [Migration] {
        try connection.query("SELECT pg_advisory_lock($1)", [Self.advisoryLockKey])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [Self.advisoryLockKey]) }
        try connection.execute(script: """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let applied = try appliedMigrations(connection)
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for record in applied {
            guard let migration = known[record.version] else {
                throw CatalogError.unknownAppliedMigration(version: record.version, name: record.name)
            }
            guard migration.checksum == record.checksum else {
                throw CatalogError.migrationChanged(version: record.version, file: migration.name,
                                                    applied: record.checksum, now: migration.checksum)
            }
        }
        let done = Set(applied.map(\.version))
        var appliedNow: [Migration] = []
        for migration in migrations where !done.contains(migration.version) {
            do {
                try connection.withTransaction { connection in
                    try connection.execute(script: migration.sql)
                    try connection.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                                         [migration.version, migration.name, migration.checksum])
                }
            } catch let error as CatalogError where !error.isConnectionLoss {
                throw CatalogError.migrationFailed(file: migration.name, underlying: error.description)
            }
            logger.info("applied migration \(migration.name)")
            appliedNow.append(migration)
        }
        return appliedNow
    }

    /// Where a catalog stands against these migrations, without changing it.
    public struct Status: Sendable {
        /// Recorded in `schema_migrations`, oldest first (empty for a database without one).
        public let applied: [(version: Int, name: String, checksum: String)]
        /// Known here, not applied there, oldest first.
        public let pending: [Migration]
        /// Applied there, unknown here: the catalog was migrated by a newer Timbre.
        public let unknown: [(version: Int, name: String)]
        /// The highest version applied (0 for none).
        public var version: Int { applied.map(\.version).max() ?? 0 }
    }

    /// Reads `schema_migrations` only: nothing is created or applied.
    public func status(_ connection: PostgresConnection) throws -> Status {
        let applied = try appliedMigrations(connection)
        let done = Set(applied.map(\.version)), known = Set(migrations.map(\.version))
        return Status(applied: applied, pending: migrations.filter { !done.contains($0.version) },
                      unknown: applied.filter { !known.contains($0.version) }.map { ($0.version, $0.name) })
    }

    /// Refuses a catalog migrated by a newer Timbre (a version applied there that this build
    /// lacks), as `migrate` does, without changing anything; returns its status.
    @discardableResult
    public func verify(_ connection: PostgresConnection) throws -> Status {
        let status = try status(connection)
        if let newest = status.unknown.max(by: { $0.version < $1.version }) {
            throw CatalogError.unknownAppliedMigration(version: newest.version, name: newest.name)
        }
        return status
    }

    /// What the database records as applied, oldest first.
    public func appliedMigrations(_ connection: PostgresConnection) throws -> [(version: Int, name: String, checksum: String)] {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")
        guard try exists.bool(0, 0) else { return [] }
        let rows = try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        return try (0..<rows.rowCount).map { row in
            (Int(try rows.int(row, 0)), try rows.string(row, 1), try rows.string(row, 2))
        }
    }
}
