import Foundation
import Logging

/// Where Timbre keeps its own data (the embedded cluster, …).
public enum TimbreHome {
    /// `$TIMBRE_HOME`; else, for root, `/var/lib/timbre` (root's home is closed to the unprivileged
    /// server user); else `$XDG_DATA_HOME/timbre`, else `~/.local/share/timbre`.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["TIMBRE_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/timbre") }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return URL(fileURLWithPath: data).appendingPathComponent("timbre") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/timbre")
    }
}

/// An open catalog: the connection pool, the embedded server if one was started, the repositories.
public final class Database: @unchecked Sendable {
    public let pool: ConnectionPool
    public let embedded: EmbeddedPostgres?

    public var users: UserRepository { UserRepository(pool: pool) }
    public var libraries: LibraryRepository { LibraryRepository(pool: pool) }
    public var tracks: TrackRepository { TrackRepository(pool: pool) }
    public var jobs: JobQueue { JobQueue(pool: pool) }
    public var predictions: PredictionStore { PredictionStore(pool: pool) }
    public var models: ModelRepository { ModelRepository(pool: pool) }
    public var corrections: CorrectionRepository { CorrectionRepository(pool: pool) }
    public var browser: TrackBrowser { TrackBrowser(pool: pool) }

    public init(pool: ConnectionPool, embedded: EmbeddedPostgres? = nil) {
        self.pool = pool
        self.embedded = embedded
    }

    /// What opening does with the catalog's schema.
    public enum SchemaPolicy: Sendable, Equatable {
        /// Applies pending migrations (under the advisory lock). Commands that change the catalog.
        case migrate
        /// Applies nothing; refuses a catalog migrated by a newer Timbre, and says so (a notice)
        /// when migrations are pending. Commands that only read the catalog.
        case readOnly
        /// Looks at nothing (`migrate: false`): `timbre db status`, `db migrate`, `db backup` and
        /// `db restore` check for themselves.
        case unchecked
    }

    /// Connects to `url`, else `$TIMBRE_DATABASE_URL`, else starts (or reuses) the embedded
    /// cluster under `TimbreHome`. With `migrate`, applies pending migrations (under the lock);
    /// without, leaves the schema alone (`SchemaPolicy.unchecked`; commands that only read
    /// want `.readOnly`, which also refuses a catalog newer than this build).
    public static func open(url: String? = nil, migrate: Bool = true, migrationsDirectory: String? = nil,
                            maximumConnections: Int = 4,
                            applicationName: String = PostgresConnection.defaultApplicationName,
                            verbose: Bool? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Database {
        try open(url: url, schema: migrate ? .migrate : .unchecked, migrationsDirectory: migrationsDirectory,
                 maximumConnections: maximumConnections, applicationName: applicationName, verbose: verbose, environment: environment)
    }

    /// As above, with the schema policy spelled out. The migrations are the folder
    /// `migrationsDirectory` or `$TIMBRE_MIGRATIONS` names, else those built into the binary.
    /// `verbose` (default: `$TIMBRE_VERBOSE` set to 1, true or yes) shows the embedded server's
    /// start and stop lines, which are debug-level.
    public static func open(url: String? = nil, schema: SchemaPolicy, migrationsDirectory: String? = nil,
                            maximumConnections: Int = 4,
                            applicationName: String = PostgresConnection.defaultApplicationName,
                            verbose: Bool? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Database {
        let migrations = schema == .unchecked ? nil : try Migration.resolve(explicit: migrationsDirectory, environment: environment)
        var embedded: EmbeddedPostgres?
        let target: String
        if let url = url ?? environment["TIMBRE_DATABASE_URL"], !url.isEmpty {
            target = url
        } else {
            var logger = Logger(label: "timbre.catalog.embedded")
            if verbose ?? isVerbose(environment) { logger.logLevel = .debug }
            let cluster = try EmbeddedPostgres(home: TimbreHome.directory(environment: environment), logger: logger)
            try cluster.start()
            embedded = cluster
            target = cluster.url
        }
        let database = Database(pool: ConnectionPool(url: target, maximumConnections: maximumConnections, applicationName: applicationName), embedded: embedded)
        do {
            // Fail early with a clear message if the server cannot be reached.
            try database.pool.withConnection { try $0.query("SELECT 1") }
            if let migrations {
                let migrator = Migrator(migrations: migrations.migrations)
                switch schema {
                case .migrate:
                    try migrator.migrate(database.pool)
                case .readOnly:
                    let status = try database.pool.withConnection { try migrator.verify($0) }
                    // An empty database (a fresh catalog, a restore's target) is not worth a notice.
                    if let latest = status.pending.last, status.version > 0 {
                        Logger(label: "timbre.catalog").notice("""
                            the catalog's schema is at version \(status.version) and this timbre's at \(latest.version) \
                            (\(status.pending.map(\.name).joined(separator: ", ")) pending); this command only reads, so it does \
                            not migrate: run `timbre db migrate`
                            """)
                    }
                case .unchecked:
                    break
                }
            }
        } catch {
            database.close()
            throw error
        }
        return database
    }

    /// `$TIMBRE_VERBOSE` is 1, true or yes.
    public static func isVerbose(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["1", "true", "yes"].contains(environment["TIMBRE_VERBOSE"]?.lowercased() ?? "")
    }

    /// Closes the pool and stops the embedded server unless another Timbre process still uses it.
    public func close() {
        pool.close()
        do {
            try embedded?.stopIfUnused(ownApplicationName: pool.applicationName)
        } catch {
            Logger(label: "timbre.catalog").error("could not stop the embedded PostgreSQL: \(error)")
        }
    }
}
