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

    /// Connects to `url`, else `$TIMBRE_DATABASE_URL`, else starts (or reuses) the embedded
    /// cluster under `TimbreHome`. With `migrate`, applies pending migrations (under the lock).
    public static func open(url: String? = nil, migrate: Bool = true, migrationsDirectory: String? = nil,
                            maximumConnections: Int = 4,
                            applicationName: String = PostgresConnection.defaultApplicationName,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Database {
        var embedded: EmbeddedPostgres?
        let target: String
        if let url = url ?? environment["TIMBRE_DATABASE_URL"], !url.isEmpty {
            target = url
        } else {
            let cluster = try EmbeddedPostgres(home: TimbreHome.directory(environment: environment))
            try cluster.start()
            embedded = cluster
            target = cluster.url
        }
        let database = Database(pool: ConnectionPool(url: target, maximumConnections: maximumConnections, applicationName: applicationName), embedded: embedded)
        do {
            // Fail early with a clear message if the server cannot be reached.
            try database.pool.withConnection { try $0.query("SELECT 1") }
            if migrate {
                let directory = try Migration.locateDirectory(explicit: migrationsDirectory, environment: environment)
                try Migrator(directory: directory).migrate(database.pool)
            }
        } catch {
            database.close()
            throw error
        }
        return database
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
