import Foundation
import Logging

/// Timbre's own PostgreSQL cluster, used when no `TIMBRE_DATABASE_URL` is given.
///
/// Lives in `<home>/postgres` (`data/` the cluster, `run/` the Unix socket, `server.log`),
/// listens on that socket only (no TCP), trusts local connections (the socket folder is
/// private to the server's user). Started as root, it runs the server as the unprivileged
/// `timbre` system user (created with `useradd` if missing; `postgres` if that fails), since
/// PostgreSQL refuses to run as root. `start()` reuses a cluster already running and clears
/// a stale `postmaster.pid` left by a crash; `stopIfUnused()` stops it when no other Timbre
/// process is connected, so `timbre scan` ending does not pull the server from under `timbre serve`.
public final class EmbeddedPostgres: @unchecked Sendable {
    public let directory: URL
    public let binDirectory: URL
    public static let databaseName = "timbre"
    public static let roleName = "timbre"
    /// The OS user running the server when we are root; nil when we run it as ourselves.
    public private(set) var serverUser: String?
    public private(set) var startedHere = false
    private let logger: Logger

    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    public var socketDirectory: URL { directory.appendingPathComponent("run") }
    private var logFile: URL { directory.appendingPathComponent("server.log") }
    /// Present while `timbre db start` holds the server up: processes leaving do not stop it.
    public var keepRunningMarker: URL { directory.appendingPathComponent("keep-running") }

    /// libpq URI of the `timbre` database over the private socket.
    public var url: String {
        let host = socketDirectory.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "/-._~"))) ?? socketDirectory.path
        return "postgresql:///\(Self.databaseName)?host=\(host)&user=\(Self.roleName)"
    }

    /// - Parameter home: Timbre's data folder (`TimbreHome.directory()`); the cluster goes in `home/postgres`.
    public init(home: URL, binDirectory: URL? = nil, logger: Logger = Logger(label: "timbre.catalog.embedded")) throws {
        directory = home.appendingPathComponent("postgres")
        self.logger = logger
        if let binDirectory {
            self.binDirectory = binDirectory
        } else {
            self.binDirectory = try Self.locateBinaries()
        }
        // Unix socket paths are limited to 107 bytes, "/.s.PGSQL.5432" included.
        guard directory.appendingPathComponent("run/.s.PGSQL.5432").path.utf8.count <= 107 else {
            throw CatalogError.invalidArgument("TIMBRE_HOME \(home.path) is too long for a Unix socket path; choose a shorter folder")
        }
    }

    /// `/usr/lib/postgresql/15/bin`, else `pg_config --bindir`.
    static func locateBinaries() throws -> URL {
        let standard = URL(fileURLWithPath: "/usr/lib/postgresql/15/bin")
        if FileManager.default.isExecutableFile(atPath: standard.appendingPathComponent("initdb").path) { return standard }
        if let output = try? ProcessRunner.run("/usr/bin/env", ["pg_config", "--bindir"]), output.status == 0 {
            let candidate = URL(fileURLWithPath: output.text.trimmed)
            if FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("initdb").path) { return candidate }
        }
        throw CatalogError.embeddedClusterFailed(step: "find initdb and pg_ctl",
            output: "PostgreSQL 15 server binaries are not installed (apt-get install postgresql-15)")
    }

    public var isInitialized: Bool {
        FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path)
    }

    /// Initialises the cluster if needed, then starts it or reuses the running one. With
    /// `keepRunning` the server stays up when Timbre processes end, until `stop()`.
    public func start(keepRunning: Bool) throws {
        try start()
        if keepRunning { try Data("held up by `timbre db start`; `timbre db stop` stops it\n".utf8).write(to: keepRunningMarker) }
    }

    /// Initialises the cluster if needed, then starts it or reuses the running one.
    public func start() throws {
        try prepareUser()
        if !isInitialized { try initialize() }
        if try serverIsRunning() {
            logger.debug("reusing the embedded PostgreSQL already running in \(directory.path)")
        } else {
            try writeSettings()
            do {
                try run("pg_ctl", ["-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-s", "start"], step: "start")
                startedHere = true
                logger.info("started the embedded PostgreSQL in \(directory.path)")
            } catch {
                // Another Timbre process may have started it a moment before us.
                guard try serverIsRunning() else { throw error }
            }
        }
        try createDatabaseIfMissing()
    }

    /// Stops the server (fast shutdown) unless another Timbre process is still connected to it:
    /// the last process out stops it, whichever one started it. Sessions named `ownApplicationName`
    /// are ours (see `PostgresConnection.defaultApplicationName`).
    /// A server held up by `start(keepRunning: true)` is left running.
    public func stopIfUnused(ownApplicationName: String = PostgresConnection.defaultApplicationName) throws {
        guard try serverIsRunning(), !FileManager.default.fileExists(atPath: keepRunningMarker.path) else { return }
        let connection = try PostgresConnection(url: url, database: "postgres", applicationName: ownApplicationName)
        // A process that just hung up can still show for a few milliseconds: look again briefly.
        for attempt in 1...10 {
            let others = try connection.query("""
                SELECT count(DISTINCT application_name) FROM pg_stat_activity
                WHERE backend_type = 'client backend' AND application_name LIKE 'timbre:%' AND application_name <> $1
                """, [ownApplicationName]).int(0, 0)
            if others == 0 { break }
            if attempt == 10 {
                logger.info("leaving the embedded PostgreSQL running: \(others) other Timbre process(es) use it")
                return
            }
            usleep(100_000)
        }
        try stop()
    }

    /// Stops the server now (fast shutdown: sessions are disconnected, committed work is kept).
    public func stop() throws {
        try? FileManager.default.removeItem(at: keepRunningMarker)
        guard try serverIsRunning() else { return }
        if getuid() == 0, serverUser == nil {
            // A process that did not start it (`timbre db stop`): pg_ctl runs as the data's owner.
            var info = stat()
            if stat(dataDirectory.path, &info) == 0, info.st_uid != 0, let entry = getpwuid(info.st_uid) {
                serverUser = String(cString: entry.pointee.pw_name)
            } else {
                try prepareUser()
            }
        }
        try run("pg_ctl", ["-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60", "-s", "stop"], step: "stop")
        startedHere = false
        logger.info("stopped the embedded PostgreSQL in \(directory.path)")
    }

    /// Is a postmaster alive for our data folder? Removes a stale `postmaster.pid` (its process
    /// gone, or its PID reused by something that is not PostgreSQL, as after a container restart).
    public func serverIsRunning() throws -> Bool {
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let contents = try? String(contentsOf: pidFile, encoding: .utf8) else { return false }
        if let pid = Int32(contents.split(separator: "\n").first.map(String.init)?.trimmed ?? ""), pid > 0, kill(pid, 0) == 0,
           let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), name.trimmed.hasPrefix("postgres") {
            return true
        }
        logger.warning("removing the stale \(pidFile.path) left by a server that is no longer running")
        try? FileManager.default.removeItem(at: pidFile)
        for lock in (try? FileManager.default.contentsOfDirectory(atPath: socketDirectory.path)) ?? [] where lock.hasPrefix(".s.PGSQL") {
            try? FileManager.default.removeItem(at: socketDirectory.appendingPathComponent(lock))
        }
        return false
    }

    private func initialize() throws {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        try ownDirectory()
        chmod(dataDirectory.path, 0o700)
        chmod(socketDirectory.path, 0o700)
        try run("initdb", ["-D", dataDirectory.path, "-U", Self.roleName, "-A", "trust", "-E", "UTF8", "--locale=C"], step: "initialise the cluster")
        let config = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: config)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n# Timbre's settings, rewritten at every start.\ninclude_if_exists = 'timbre.conf'\n".utf8))
    }

    /// Socket-only settings; rewritten each start so that a moved home still works.
    private func writeSettings() throws {
        try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        let quoted = socketDirectory.path.replacingOccurrences(of: "'", with: "''")
        let settings = "listen_addresses = ''\nunix_socket_directories = '\(quoted)'\nunix_socket_permissions = 0700\n"
        try Data(settings.utf8).write(to: dataDirectory.appendingPathComponent("timbre.conf"))
        try ownDirectory()
    }

    private func createDatabaseIfMissing() throws {
        let connection = try PostgresConnection(url: url, database: "postgres")
        let exists = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [Self.databaseName])
        if exists.rowCount == 0 {
            do {
                try connection.execute(script: "CREATE DATABASE \(Self.databaseName)")
            } catch let error as CatalogError where error.sqlState == "42P04" {
                // Created meanwhile by another process starting at the same time.
            }
        }
    }

    // MARK: Running as root

    /// As root, picks (or creates) the unprivileged user the server runs as.
    private func prepareUser() throws {
        guard getuid() == 0 else { serverUser = nil; return }
        if getpwnam("timbre") == nil {
            _ = try? ProcessRunner.run("/usr/sbin/useradd", ["--system", "--no-create-home", "--home-dir", "/nonexistent",
                                                             "--shell", "/usr/sbin/nologin", "timbre"])
        }
        if getpwnam("timbre") != nil {
            serverUser = "timbre"
        } else if getpwnam("postgres") != nil {
            serverUser = "postgres"
        } else {
            throw CatalogError.embeddedClusterFailed(step: "find an unprivileged user",
                output: "running as root, and neither a `timbre` nor a `postgres` user exists or could be created")
        }
        // The server user must be able to reach its folder through every parent.
        var parent = directory.deletingLastPathComponent()
        while parent.path != "/" {
            var info = stat()
            if stat(parent.path, &info) == 0, info.st_mode & 0o001 == 0 {
                throw CatalogError.embeddedClusterFailed(step: "prepare \(directory.path)",
                    output: "\(parent.path) is closed to other users, so the server (running as \(serverUser ?? "?")) cannot reach its data; set TIMBRE_HOME to a folder such as /var/lib/timbre")
            }
            parent = parent.deletingLastPathComponent()
        }
    }

    private func ownDirectory() throws {
        guard let serverUser, let entry = getpwnam(serverUser) else { return }
        let (uid, gid) = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chown(directory.path, uid, gid)
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        while let item = enumerator?.nextObject() as? String {
            chown(directory.appendingPathComponent(item).path, uid, gid)
        }
    }

    private func run(_ tool: String, _ arguments: [String], step: String) throws {
        let executable = binDirectory.appendingPathComponent(tool).path
        let output: ProcessRunner.Output
        if let serverUser {
            output = try ProcessRunner.run("/usr/sbin/runuser", ["-u", serverUser, "--", executable] + arguments)
        } else {
            output = try ProcessRunner.run(executable, arguments)
        }
        guard output.status == 0 else {
            let log = (try? String(contentsOf: logFile, encoding: .utf8)).map { "\n" + String($0.suffix(2000)) } ?? ""
            throw CatalogError.embeddedClusterFailed(step: step, output: output.text + log)
        }
    }
}
