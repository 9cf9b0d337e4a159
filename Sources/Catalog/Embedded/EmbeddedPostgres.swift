import Foundation
import Logging

/// Timbre's own PostgreSQL cluster, used when no `TIMBRE_DATABASE_URL` is given.
///
/// Lives in `<home>/postgres` (`data/` the cluster, `run/` the Unix socket, `server.log`) and
/// listens on that socket only (no TCP). Authentication is `peer` through the map in
/// `pg_ident.conf`: root, the server's user and the user running Timbre may connect, as the
/// `timbre` role (which owns the `timbre` database and is not a superuser; every catalog session
/// uses it) or as `timbre_admin`, the cluster's superuser, which only this class uses (roles,
/// the database, a look at the sessions before stopping). Started as root, it runs the server
/// as the unprivileged `timbre` system user (created with `useradd` if missing; `postgres` if
/// that fails), since PostgreSQL refuses to run as root; then nothing root writes or chowns
/// in that user's folder follows a link (`DirectoryHandle`).
///
/// Two locks beside the folder make concurrent processes safe: `postgres.lock` (exclusive)
/// is held while a process initialises, starts, upgrades or stops the cluster, so two first
/// starts make one cluster and one server; `postgres.users` is held shared by every process
/// using the server, from `start()` until `stopIfUnused()`, which stops the server only if it
/// can take it exclusively: the last process out stops it, and never one that is connecting.
/// A cluster made by an older Timbre (`trust`, `timbre` its superuser) is upgraded in place on
/// start, its data untouched (`ensureRolesAndDatabase`).
public final class EmbeddedPostgres: @unchecked Sendable {
    /// Timbre's data folder; the cluster is in `home/postgres`.
    public let home: URL
    public let directory: URL
    public let binDirectory: URL
    public static let databaseName = "timbre"
    /// The role every catalog session uses: owns the database, not a superuser.
    public static let roleName = "timbre"
    /// The cluster's superuser (its bootstrap user in clusters made by this version).
    public static let adminRoleName = "timbre_admin"
    /// What an older Timbre's bootstrap superuser, `timbre`, is renamed to by the upgrade.
    public static let legacyRoleName = "timbre_legacy"
    /// `application_name` of this class's own superuser sessions.
    static let adminApplicationName = "timbre-embedded"
    static let startLockName = "postgres.lock"
    static let usageLockName = "postgres.users"
    /// The OS user running the server when we are root; nil when we run it as ourselves.
    public private(set) var serverUser: String?
    public private(set) var startedHere = false
    private let logger: Logger
    private let usage = NSLock()
    /// The shared lock on `postgres.users` this instance holds while it uses the server; -1 when none.
    private var usageDescriptor: Int32 = -1

    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    public var socketDirectory: URL { directory.appendingPathComponent("run") }
    private var logFile: URL { directory.appendingPathComponent("server.log") }
    /// Present while `timbre db start` holds the server up: processes leaving do not stop it.
    public var keepRunningMarker: URL { directory.appendingPathComponent("keep-running") }

    /// libpq URI of the `timbre` database over the private socket, as the `timbre` role.
    public var url: String { url(role: Self.roleName, database: Self.databaseName) }

    func url(role: String, database: String) -> String {
        let host = socketDirectory.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "/-._~"))) ?? socketDirectory.path
        return "postgresql:///\(database)?host=\(host)&user=\(role)"
    }

    /// - Parameter home: Timbre's data folder (`TimbreHome.directory()`); the cluster goes in `home/postgres`.
    public init(home: URL, binDirectory: URL? = nil, logger: Logger = Logger(label: "timbre.catalog.embedded")) throws {
        self.home = home
        directory = home.appendingPathComponent("postgres")
        var logger = logger
        // Start and stop are debug-level lines: `TIMBRE_VERBOSE=1` shows them.
        if Database.isVerbose(), logger.logLevel > .debug { logger.logLevel = .debug }
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

    deinit { releaseUsage() }

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

    // MARK: Starting and stopping

    /// Initialises the cluster if needed, then starts it or reuses the running one. With
    /// `keepRunning` the server stays up when Timbre processes end, until `stop()`; this
    /// instance then does not count as a user of it.
    public func start(keepRunning: Bool) throws {
        guard keepRunning else { return try start() }
        let home = try createdHome()
        try withStartLock(home) {
            let top = try startLocked(home)
            try top.write("keep-running", Data("held up by `timbre db start`; `timbre db stop` stops it\n".utf8), mode: 0o644)
        }
    }

    /// Initialises the cluster if needed, then starts it or reuses the running one, and holds
    /// it (a shared lock on `postgres.users`) until `stopIfUnused()`.
    public func start() throws {
        let home = try createdHome()
        try withStartLock(home) {
            _ = try startLocked(home)
            try acquireUsage(home)
        }
    }

    /// Stops the server (fast shutdown) unless another Timbre process still uses it: the last
    /// process out stops it, whichever one started it. A process uses it from `start()` to here
    /// (the shared lock), so one that is starting or connecting is never stopped under. As a
    /// second look, for Timbre versions without the lock, sessions named `timbre…` other than
    /// `ownApplicationName` also keep it running. A server held up by `start(keepRunning: true)`
    /// is left running.
    public func stopIfUnused(ownApplicationName: String = PostgresConnection.defaultApplicationName) throws {
        releaseUsage()
        guard let home = try homeHandle(creating: false) else { return }
        try withStartLock(home) {
            guard let top = try? home.subdirectory("postgres"), top.status("keep-running") == nil,
                  let data = try? top.subdirectory("data"), serverState(data).isUp else { return }
            guard let exclusive = try home.lock(Self.usageLockName, exclusive: true, wait: false) else {
                logger.debug("leaving the embedded PostgreSQL running: another Timbre process uses it")
                return
            }
            defer { close(exclusive) }
            if let others = try? otherSessions(ownApplicationName: ownApplicationName), others > 0 {
                logger.debug("leaving the embedded PostgreSQL running: \(others) other Timbre session(s) use it")
                return
            }
            try stopLocked(top, data)
        }
    }

    /// Stops the server now (fast shutdown: sessions are disconnected, committed work is kept).
    public func stop() throws {
        guard let home = try homeHandle(creating: false) else { return }
        try withStartLock(home) {
            guard let top = try? home.subdirectory("postgres") else { return }
            top.remove("keep-running")
            guard let data = try? top.subdirectory("data") else { return }
            try stopLocked(top, data)
        }
    }

    /// Is a postmaster alive (or starting) for our data folder? Only looks: a stale
    /// `postmaster.pid` is removed by `start()`, under the start lock, never here.
    public func serverIsRunning() throws -> Bool {
        guard let data = try? DirectoryHandle(path: dataDirectory.path) else { return false }
        return serverState(data).isUp
    }

    // MARK: The server's state

    enum ServerState: Equatable {
        case stopped
        /// `postmaster.pid` is being written, or says "starting".
        case starting
        case running
        /// `postmaster.pid` names no live PostgreSQL process.
        case stale(String)

        var isUp: Bool { self == .running || self == .starting }
    }

    /// What `postmaster.pid` says. The postmaster creates it empty and then writes it whole,
    /// so an empty or one-line file is a server starting (for 5 s; older, it is a crash's
    /// remnant); its 8th line is the status ("starting", "ready", "stopping").
    func serverState(_ data: DirectoryHandle) -> ServerState {
        let contents: Data?
        do { contents = try data.read("postmaster.pid") } catch { return .stale("\(error)") }
        guard let contents else { return .stopped }
        let lines = String(decoding: contents, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map { String($0).trimmed }
        guard lines.count >= 2, let pid = Int32(lines[0]), pid > 0 else {
            let modified = data.status("postmaster.pid").map { Double($0.st_mtim.tv_sec) } ?? 0
            return Date().timeIntervalSince1970 - modified < 5 ? .starting : .stale("its postmaster.pid is empty or malformed")
        }
        if kill(pid, 0) != 0, errno == ESRCH { return .stale("process \(pid) is gone") }
        // Alive, but after a container restart its PID can belong to anything.
        guard let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), name.trimmed.hasPrefix("postgres") else {
            return .stale("process \(pid) is not PostgreSQL")
        }
        return lines.count < 8 || lines[7] == "starting" ? .starting : .running
    }

    /// Waits up to `seconds` for a starting server to be up (or found stale).
    private func settledState(_ data: DirectoryHandle, seconds: Double = 30) -> ServerState {
        var state = serverState(data)
        let deadline = Date().addingTimeInterval(seconds)
        while state == .starting, Date() < deadline {
            usleep(100_000)
            state = serverState(data)
        }
        return state
    }

    // MARK: Under the start lock

    /// `home`, created (with its parents) when asked; nil when it does not exist.
    private func homeHandle(creating: Bool) throws -> DirectoryHandle? {
        if creating {
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        } else if !FileManager.default.fileExists(atPath: home.path) {
            return nil
        }
        // TIMBRE_HOME itself may be a link the administrator made: it is followed.
        return try DirectoryHandle(path: home.resolvingSymlinksInPath().path)
    }

    private func createdHome() throws -> DirectoryHandle {
        guard let handle = try homeHandle(creating: true) else {
            throw CatalogError.fileSystem(path: home.path, message: "cannot be created")
        }
        return handle
    }

    private func withStartLock<T>(_ home: DirectoryHandle, _ body: () throws -> T) throws -> T {
        guard let descriptor = try home.lock(Self.startLockName, exclusive: true) else {
            throw CatalogError.fileSystem(path: home.path + "/" + Self.startLockName, message: "cannot be locked")
        }
        defer { close(descriptor) }
        return try body()
    }

    private func acquireUsage(_ home: DirectoryHandle) throws {
        usage.lock()
        defer { usage.unlock() }
        guard usageDescriptor < 0 else { return }
        // Under the start lock nobody holds it exclusively, so this does not wait.
        usageDescriptor = try home.lock(Self.usageLockName, exclusive: false) ?? -1
    }

    private func releaseUsage() {
        usage.lock()
        defer { usage.unlock() }
        if usageDescriptor >= 0 { close(usageDescriptor) }
        usageDescriptor = -1
    }

    /// Initialises, configures and starts the server, or reuses the running one, then makes
    /// the roles and the database right. Returns the cluster's folder.
    private func startLocked(_ home: DirectoryHandle) throws -> DirectoryHandle {
        try prepareUser()
        let owner = try serverOwner()
        let top = try clusterDirectory(home)
        try top.set(mode: 0o700, owner: owner)
        if try needsInitialising(top) { try initialize(top, owner: owner) }
        let data = try top.subdirectory("data")
        // The socket's folder: a real directory, the server user's, closed to everyone else.
        let socketFolder = try top.subdirectory("run", createWithMode: 0o700)
        try socketFolder.set(mode: 0o700, owner: owner)
        let configurationChanged = try writeConfiguration(data, owner: owner)

        let state = settledState(data)
        if state.isUp {
            logger.debug("reusing the embedded PostgreSQL already running in \(directory.path)")
        } else {
            if case let .stale(reason) = state {
                logger.warning("removing the stale \(dataDirectory.path)/postmaster.pid (\(reason))")
                data.remove("postmaster.pid")
                for name in (try? socketFolder.names()) ?? [] where name.hasPrefix(".s.PGSQL") { socketFolder.remove(name) }
            }
            if let owner {
                let skipped = try top.giveTree(to: owner)
                if !skipped.isEmpty {
                    logger.warning("not given to \(serverUser ?? "?") (symbolic links, or files with several hard links): \(skipped.prefix(5).joined(separator: ", "))")
                }
            }
            do {
                try run("pg_ctl", ["-D", data.path, "-l", logFile.path, "-w", "-t", "60", "-s", "start"], step: "start")
                startedHere = true
                logger.debug("started the embedded PostgreSQL in \(directory.path)")
            } catch {
                // Started meanwhile by something that does not take our lock?
                guard serverState(data).isUp else { throw error }
            }
        }
        try ensureRolesAndDatabase(reloadConfiguration: state.isUp && configurationChanged)
        return top
    }

    private func stopLocked(_ top: DirectoryHandle, _ data: DirectoryHandle) throws {
        guard settledState(data).isUp else { return }
        if getuid() == 0, serverUser == nil {
            // A process that did not start it (`timbre db stop`): pg_ctl runs as the data's owner.
            let info = data.status()
            if info.st_uid != 0, let entry = getpwuid(info.st_uid) {
                serverUser = String(cString: entry.pointee.pw_name)
            } else {
                try prepareUser()
            }
        }
        try run("pg_ctl", ["-D", data.path, "-m", "fast", "-w", "-t", "60", "-s", "stop"], step: "stop")
        startedHere = false
        logger.debug("stopped the embedded PostgreSQL in \(directory.path)")
    }

    /// `home/postgres`, created 0700 if missing; a symbolic link there is followed only if it
    /// is ours (made by the administrator), never one the server's user could have planted.
    private func clusterDirectory(_ home: DirectoryHandle) throws -> DirectoryHandle {
        if let info = home.status("postgres"), info.st_mode & DirectoryHandle.typeMask == DirectoryHandle.linkType {
            guard info.st_uid == geteuid() else {
                throw CatalogError.fileSystem(path: directory.path, message: "is a symbolic link owned by another user; Timbre does not follow it")
            }
            return try DirectoryHandle(path: directory.resolvingSymlinksInPath().path)
        }
        return try home.subdirectory("postgres", createWithMode: 0o700)
    }

    /// No cluster yet: `data/` missing, or an empty folder. A `data/` with files but no
    /// `PG_VERSION` is not ours to replace.
    private func needsInitialising(_ top: DirectoryHandle) throws -> Bool {
        guard top.status("data") != nil else { return true }
        let data = try top.subdirectory("data")
        if data.status("PG_VERSION") != nil { return false }
        guard try data.names().isEmpty else {
            throw CatalogError.embeddedClusterFailed(step: "initialise the cluster",
                output: "\(data.path) holds files but no PostgreSQL cluster (no PG_VERSION); move it away")
        }
        return true
    }

    /// `initdb` into `data.initdb`, renamed to `data` once complete: a start that dies half-way
    /// leaves no half-made cluster in `data`.
    private func initialize(_ top: DirectoryHandle, owner: (uid: uid_t, gid: gid_t)?) throws {
        let scratch = "data.initdb"
        if top.status(scratch) != nil {
            // Left by a start that died in initdb: removed as the server's user (rm follows no link).
            let output = try runAsServerUser("/bin/rm", ["-rf", "--", top.path + "/" + scratch])
            guard output.status == 0 else { throw CatalogError.embeddedClusterFailed(step: "remove \(top.path)/\(scratch)", output: output.text) }
        }
        let made = try top.subdirectory(scratch, createWithMode: 0o700)
        try made.set(mode: 0o700, owner: owner)
        try run("initdb", ["-D", made.path, "-U", Self.adminRoleName, "--auth-local=peer", "--auth-host=reject",
                           "-E", "UTF8", "--locale=C"], step: "initialise the cluster")
        if top.status("data") != nil, unlinkat(top.descriptor, "data", 0x200 /* AT_REMOVEDIR */) != 0 {
            throw CatalogError.fileSystem(path: dataDirectory.path, message: "cannot replace the empty folder: " + String(cString: strerror(errno)))
        }
        try top.rename(scratch, to: "data")
        logger.debug("initialised a new cluster in \(dataDirectory.path)")
    }

    /// Socket-only settings, `peer` authentication and its user map; rewritten each start (a
    /// moved home still works, an older cluster's `trust` goes), each file through
    /// `DirectoryHandle.write` (`O_NOFOLLOW`, renamed into place). Returns whether any changed.
    private func writeConfiguration(_ data: DirectoryHandle, owner: (uid: uid_t, gid: gid_t)?) throws -> Bool {
        var changed = false
        let quoted = socketDirectory.path.replacingOccurrences(of: "'", with: "''")
        let settings = "listen_addresses = ''\nunix_socket_directories = '\(quoted)'\nunix_socket_permissions = 0700\n"
        changed = try data.write("timbre.conf", Data(settings.utf8), owner: owner) || changed

        let include = "include_if_exists = 'timbre.conf'"
        if let main = try data.read("postgresql.conf"), !String(decoding: main, as: UTF8.self).contains(include) {
            let text = String(decoding: main, as: UTF8.self) + "\n# Timbre's settings, rewritten at every start.\n\(include)\n"
            changed = try data.write("postgresql.conf", Data(text.utf8), owner: owner) || changed
        }

        let hba = """
            # Written by Timbre at every start of its embedded cluster; changes here are replaced.
            # The Unix socket only (no TCP listener), and no `trust`: the OS user a session comes
            # from must be mapped in pg_ident.conf to the role it asks for.
            local   all   all   peer map=timbre

            """
        changed = try data.write("pg_hba.conf", Data(hba.utf8), owner: owner) || changed

        var systemUsers = ["root"]
        for user in [serverUser, Self.currentUserName()].compactMap({ $0 }) where !systemUsers.contains(user) { systemUsers.append(user) }
        var ident = """
            # Written by Timbre at every start of its embedded cluster; changes here are replaced.
            # The OS users that may connect (root, the server's user, the user running Timbre) and
            # as which roles: `timbre` (owns the catalog) and `timbre_admin` (the superuser).
            # MAPNAME  SYSTEM-USERNAME  PG-USERNAME

            """
        for user in systemUsers {
            guard let token = Self.identToken(user) else {
                logger.warning("the OS user name \(user) cannot be written in pg_ident.conf; it cannot connect")
                continue
            }
            for role in [Self.roleName, Self.adminRoleName] { ident += "timbre  \(token)  \(role)\n" }
        }
        changed = try data.write("pg_ident.conf", Data(ident.utf8), owner: owner) || changed
        return changed
    }

    /// A user name as a pg_ident.conf token: bare when plain, else in double quotes; nil when
    /// it has quotes, spaces or control characters.
    static func identToken(_ name: String) -> String? {
        guard !name.isEmpty, !name.contains(where: { $0 == "\"" || $0.isWhitespace || $0.asciiValue.map { $0 < 32 || $0 == 127 } ?? false }) else { return nil }
        let plain = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") } && !name.hasPrefix("/")
        return plain ? name : "\"\(name)\""
    }

    static func currentUserName() -> String? {
        getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) }
    }

    // MARK: Roles and the database

    /// Makes `timbre` a plain login role (no superuser, no CREATEDB/CREATEROLE/REPLICATION/
    /// BYPASSRLS) that owns the `timbre` database and everything in it. A cluster made by an
    /// older Timbre has `timbre` as its bootstrap superuser, which cannot drop superuser: it
    /// gets `timbre_admin` (made by the old superuser), the old role is renamed `timbre_legacy`,
    /// a new `timbre` is created, and the database and its objects are given to it, in one
    /// transaction. Each step checks first, so an upgrade that was interrupted resumes.
    private func ensureRolesAndDatabase(reloadConfiguration: Bool) throws {
        let admin = try adminConnection()
        if reloadConfiguration { try admin.query("SELECT pg_reload_conf()") }
        let role = try admin.query("""
            SELECT oid::bigint, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls OR NOT rolcanlogin
            FROM pg_roles WHERE rolname = $1
            """, [Self.roleName])
        if role.rowCount == 0 {
            try admin.execute(script: "CREATE ROLE \(Self.roleName) LOGIN")
        } else if try role.int(0, 0) == 10 {
            try admin.execute(script: "ALTER ROLE \(Self.roleName) RENAME TO \(Self.legacyRoleName); CREATE ROLE \(Self.roleName) LOGIN")
            logger.notice("upgraded the embedded PostgreSQL made by an older Timbre: sessions now use the role \(Self.roleName), which is not a superuser (the old superuser is \(Self.legacyRoleName))")
        } else if try role.bool(0, 1) {
            try admin.execute(script: "ALTER ROLE \(Self.roleName) NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS LOGIN")
        }
        let database = try admin.query("""
            SELECT d.datdba = r.oid FROM pg_database d, pg_roles r WHERE d.datname = $1 AND r.rolname = $2
            """, [Self.databaseName, Self.roleName])
        if database.rowCount == 0 {
            do {
                try admin.execute(script: "CREATE DATABASE \(Self.databaseName) OWNER \(Self.roleName)")
            } catch let error as CatalogError where error.sqlState == "42P04" {
                // Created meanwhile by something that does not take our lock.
            }
        } else if try !database.bool(0, 0) {
            try giveDatabaseToRole()
        }
    }

    /// Gives the database and what the bootstrap superuser (OID 10) owns in it — schemas,
    /// tables, views, sequences not tied to a column, standalone types, routines; not what
    /// belongs to an extension — to `timbre`. Indexes, TOAST tables and identity sequences
    /// follow their table.
    private func giveDatabaseToRole() throws {
        let connection = try connect(role: Self.adminRoleName, database: Self.databaseName)
        let role = Self.roleName
        try connection.withTransaction { connection in
            try connection.execute(script: """
                DO $$
                DECLARE
                    item record;
                BEGIN
                    FOR item IN
                        SELECT format('ALTER SCHEMA %I OWNER TO \(role)', nspname) AS statement
                        FROM pg_namespace WHERE nspowner = 10 AND nspname <> 'information_schema' AND nspname !~ '^pg_'
                      UNION ALL
                        SELECT format('ALTER %s %s OWNER TO \(role)',
                                      CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                                     WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END,
                                      c.oid::regclass)
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.relowner = 10 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'c')
                          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                            AND (d.deptype = 'e' OR (c.relkind = 'S' AND d.deptype IN ('a', 'i'))))
                      UNION ALL
                        SELECT format('ALTER TYPE %s OWNER TO \(role)', t.oid::regtype)
                        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                        WHERE t.typowner = 10 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                          AND t.typtype IN ('e', 'd', 'r')
                          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
                      UNION ALL
                        SELECT format('ALTER ROUTINE %s OWNER TO \(role)', p.oid::regprocedure)
                        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.proowner = 10 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
                          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
                    LOOP
                        EXECUTE item.statement;
                    END LOOP;
                END
                $$;
                ALTER DATABASE \(Self.databaseName) OWNER TO \(role);
                """)
        }
    }

    /// A superuser session on the `postgres` database. In a cluster made by an older Timbre
    /// there is no `timbre_admin` yet: its superuser `timbre` makes one first.
    private func adminConnection() throws -> PostgresConnection {
        do {
            return try connect(role: Self.adminRoleName, database: "postgres")
        } catch let CatalogError.connectionFailed(_, message) where message.contains("\"\(Self.adminRoleName)\" does not exist") {
            do {
                let legacy = try connect(role: Self.roleName, database: "postgres")
                try legacy.execute(script: "CREATE ROLE \(Self.adminRoleName) SUPERUSER LOGIN")
            }
            return try connect(role: Self.adminRoleName, database: "postgres")
        }
    }

    /// Connects over the socket, waiting up to 10 s while the server is still starting up.
    private func connect(role: String, database: String) throws -> PostgresConnection {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                return try PostgresConnection(url: url(role: role, database: database), applicationName: Self.adminApplicationName)
            } catch let CatalogError.connectionFailed(_, message) where message.contains("starting up") && Date() < deadline {
                usleep(100_000)
            }
        }
    }

    /// Client sessions named `timbre…` other than ours, looked at briefly: a process that has
    /// just hung up can still show for a few milliseconds.
    private func otherSessions(ownApplicationName: String) throws -> Int64 {
        let connection = try connect(role: Self.adminRoleName, database: "postgres")
        var others: Int64 = 0
        for _ in 1...10 {
            others = try connection.query("""
                SELECT count(DISTINCT application_name) FROM pg_stat_activity
                WHERE backend_type = 'client backend' AND application_name LIKE 'timbre%'
                  AND application_name NOT IN ($1, $2, 'timbre-backup')
                """, [ownApplicationName, Self.adminApplicationName]).int(0, 0)
            if others == 0 { break }
            usleep(100_000)
        }
        return others
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

    /// The server user's uid and gid when we run it as another user (as root); nil otherwise.
    private func serverOwner() throws -> (uid: uid_t, gid: gid_t)? {
        guard let serverUser else { return nil }
        guard let entry = getpwnam(serverUser) else {
            throw CatalogError.embeddedClusterFailed(step: "find the user \(serverUser)", output: "it does not exist")
        }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    private func runAsServerUser(_ executable: String, _ arguments: [String]) throws -> ProcessRunner.Output {
        if let serverUser {
            return try ProcessRunner.run("/usr/sbin/runuser", ["-u", serverUser, "--", executable] + arguments)
        }
        return try ProcessRunner.run(executable, arguments)
    }

    private func run(_ tool: String, _ arguments: [String], step: String) throws {
        let output = try runAsServerUser(binDirectory.appendingPathComponent(tool).path, arguments)
        guard output.status == 0 else {
            let log = (try? DirectoryHandle(path: directory.path).read("server.log")).flatMap { $0 }
                .map { "\n" + String(String(decoding: $0, as: UTF8.self).suffix(2000)) } ?? ""
            throw CatalogError.embeddedClusterFailed(step: step, output: output.text + log)
        }
    }
}
