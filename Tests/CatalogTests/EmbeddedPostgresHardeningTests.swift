@testable import Catalog
import Foundation
import XCTest

/// The embedded cluster's safety as root, its authentication and roles, concurrent starts and
/// stops, the upgrade of a cluster made by an older Timbre, and how quiet it is.
final class EmbeddedPostgresHardeningTests: XCTestCase {
    private var home: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless((try? EmbeddedPostgres.locateBinaries()) != nil, "PostgreSQL 15 server binaries are not installed")
        // Short: the socket path must fit in 107 bytes.
        home = URL(fileURLWithPath: "/tmp/timbre-hard-\(UUID().uuidString.prefix(8))")
    }

    override func tearDownWithError() throws {
        guard let home else { return }
        // Whatever failed, no server is left running on a deleted folder.
        try? EmbeddedPostgres(home: home).stop()
        try? FileManager.default.removeItem(at: home)
    }

    private var environment: [String: String] { ["TIMBRE_HOME": home.path] }
    private var postgres: URL { home.appendingPathComponent("postgres") }

    private func owner(_ path: String) -> uid_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_uid : nil
    }

    private func mode(_ path: String) -> mode_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    /// No `trust` anywhere in pg_hba.conf; sessions use a role that owns the database and
    /// everything the migrations made, and is no superuser (superuser-only statements fail).
    func testPeerAuthenticationAndAPlainRoleThatOwnsTheCatalog() throws {
        let database = try Database.open(environment: environment)
        defer { database.close() }
        let cluster = try XCTUnwrap(database.embedded)

        let hba = try String(contentsOf: cluster.dataDirectory.appendingPathComponent("pg_hba.conf"), encoding: .utf8)
        let rules = hba.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        XCTAssertEqual(rules.count, 1, hba)
        XCTAssertFalse(rules.contains { $0.contains("trust") }, hba)
        XCTAssertTrue(rules[0].hasPrefix("local") && rules[0].contains("peer"), hba)

        try database.pool.withConnection { connection in
            XCTAssertEqual(try connection.query("SELECT current_user::text").string(0, 0), EmbeddedPostgres.roleName)
            let role = try connection.query("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user")
            XCTAssertFalse(try role.bool(0, 0), "the service role is not a superuser")
            XCTAssertFalse(try role.bool(0, 1))
            XCTAssertFalse(try role.bool(0, 2))
            XCTAssertEqual(try connection.query("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()").string(0, 0),
                           EmbeddedPostgres.roleName, "it owns the timbre database")
            XCTAssertEqual(try connection.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> current_user").int(0, 0), 0)
            XCTAssertGreaterThan(try connection.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").int(0, 0), 5)
            // Superuser-only: running a program as the server's OS user.
            XCTAssertThrowsError(try connection.query("COPY (SELECT 1) TO PROGRAM 'true'")) { error in
                XCTAssertEqual((error as? CatalogError)?.sqlState, "42501", "\(error)")
            }
        }
        // The superuser exists for the cluster's own upkeep, reachable only through the map.
        let admin = try PostgresConnection(url: cluster.url(role: EmbeddedPostgres.adminRoleName, database: "postgres"))
        XCTAssertTrue(try admin.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").bool(0, 0))
        XCTAssertEqual(try admin.query("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'").int(0, 0), 0)
        XCTAssertEqual(try admin.query("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL").int(0, 0), 0)
    }

    /// As root: a symbolic link or a hard link planted in the server user's folder is never
    /// chowned or written through; configuration files are replaced, not followed; the socket
    /// folder goes back to 0700.
    func testRootNeverFollowsLinksPlantedInTheClusterFolder() throws {
        try XCTSkipUnless(getuid() == 0, "needs root: the unprivileged server user and ownership changes exist only then")
        let cluster = try EmbeddedPostgres(home: home)
        try cluster.start()
        try cluster.stop()
        let serverUID = try XCTUnwrap(owner(cluster.dataDirectory.path))
        XCTAssertNotEqual(serverUID, 0, "the data belongs to the unprivileged server user")

        // Root's files outside the cluster, on the same file system (hard links need that).
        let outside = home.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        var victims: [String: String] = [:]
        for name in ["linked", "hard", "config", "marker", "socket-link"] {
            let path = outside.appendingPathComponent(name).path
            try "root's \(name)\n".write(toFile: path, atomically: false, encoding: .utf8)
            chmod(path, 0o600)
            victims[name] = path
        }
        // What a compromised server (running as the server user) could plant.
        let data = cluster.dataDirectory.path, run = cluster.socketDirectory.path
        XCTAssertEqual(symlink(victims["linked"]!, postgres.appendingPathComponent("evil-link").path), 0)
        XCTAssertEqual(symlink(victims["linked"]!, data + "/base/evil-link"), 0)
        XCTAssertEqual(symlink(victims["socket-link"]!, run + "/evil-link"), 0)
        XCTAssertEqual(link(victims["hard"]!, data + "/global/evil-hard-link"), 0)
        XCTAssertEqual(unlink(data + "/timbre.conf"), 0)
        XCTAssertEqual(symlink(victims["config"]!, data + "/timbre.conf"), 0)
        XCTAssertEqual(symlink(victims["marker"]!, cluster.keepRunningMarker.path), 0)
        chmod(run, 0o777)

        try cluster.start(keepRunning: true)
        XCTAssertTrue(try cluster.serverIsRunning())
        for (name, path) in victims {
            XCTAssertEqual(owner(path), 0, "\(name): still root's")
            XCTAssertEqual(mode(path), 0o600, name)
            XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "root's \(name)\n", "\(name): not written through")
        }
        XCTAssertEqual(mode(run), 0o700, "the socket folder is private again")
        XCTAssertEqual(owner(run), serverUID)
        var info = stat()
        XCTAssertEqual(lstat(data + "/timbre.conf", &info), 0)
        XCTAssertEqual(info.st_mode & 0o170000, 0o100000, "timbre.conf is a file again, not the link")
        XCTAssertEqual(info.st_uid, serverUID)
        XCTAssertTrue(try String(contentsOfFile: data + "/timbre.conf", encoding: .utf8).contains("listen_addresses = ''"))
        XCTAssertEqual(lstat(cluster.keepRunningMarker.path, &info), 0)
        XCTAssertEqual(info.st_mode & 0o170000, 0o100000, "the marker replaced the link")
        // The server is healthy on the rewritten settings.
        let database = try Database.open(environment: environment)
        XCTAssertEqual(try database.pool.withConnection { try $0.query("SHOW listen_addresses").string(0, 0) }, "")
        database.close()
    }

    /// A process that has started (or found) the server but not yet connected is a user of it:
    /// the last other process out leaves it running.
    func testTheLastProcessOutNeverStopsOneThatIsConnecting() throws {
        let first = try Database.open(applicationName: "timbre:first", environment: environment)
        let cluster = try XCTUnwrap(first.embedded)
        let connecting = try EmbeddedPostgres(home: home)
        try connecting.start()
        XCTAssertFalse(connecting.startedHere)
        first.close()
        XCTAssertTrue(try cluster.serverIsRunning(), "the first process out left the server to the one connecting")
        do {
            let session = try PostgresConnection(url: connecting.url, applicationName: "timbre:connecting")
            XCTAssertEqual(try session.query("SELECT 1").int(0, 0), 1)
        }
        try connecting.stopIfUnused(ownApplicationName: "timbre:connecting")
        XCTAssertFalse(try cluster.serverIsRunning(), "the last one out stops it")
    }

    /// A `postmaster.pid` being written (empty for an instant) is a server starting: looking
    /// never removes it; a start waits, and treats it as a crash's remnant only once it is old.
    func testAStartingServersPidFileIsNotRemoved() throws {
        let cluster = try EmbeddedPostgres(home: home)
        try cluster.start()
        try cluster.stop()
        let pidFile = cluster.dataDirectory.appendingPathComponent("postmaster.pid").path
        XCTAssertTrue(FileManager.default.createFile(atPath: pidFile, contents: Data()))
        XCTAssertTrue(try cluster.serverIsRunning(), "an empty, new pid file is a server starting")
        XCTAssertTrue(FileManager.default.fileExists(atPath: pidFile), "looking removed a starting server's pid file")

        let began = Date()
        try cluster.start()
        XCTAssertGreaterThan(Date().timeIntervalSince(began), 3, "the start waited for the pid file to be written")
        XCTAssertTrue(cluster.startedHere, "an empty pid file that stays empty is a crash's remnant")
        let pid = try XCTUnwrap(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).split(separator: "\n")[0]))
        XCTAssertEqual(kill(pid, 0), 0)
        try cluster.stopIfUnused()
        XCTAssertFalse(try cluster.serverIsRunning())
    }

    /// Two `timbre db start` at once on a new home: both succeed, one cluster, one postmaster.
    func testConcurrentFirstStartsMakeOneCluster() throws {
        let binary = try WorkerTests.timbreBinary()
        let scratch = NSTemporaryDirectory() + "timbre-concurrent-\(UUID().uuidString.prefix(8))"
        defer { for suffix in ["a.out", "a.err", "b.out", "b.err"] { unlink(scratch + suffix) } }
        let pids = try ["a", "b"].map { name in
            try ChildProcess.start([binary.path, "db", "start"], environment: environment,
                                   output: scratch + name + ".out", errors: scratch + name + ".err")
        }
        let results = try zip(pids, ["a", "b"]).map { try ChildProcess.finish($0, output: scratch + $1 + ".out", errors: scratch + $1 + ".err") }
        for result in results { XCTAssertEqual(result.status, 0, result.description) }
        let data = postgres.appendingPathComponent("data").path
        XCTAssertEqual(postmasters(of: data).count, 1, "one postmaster for the data folder")
        let names = try FileManager.default.contentsOfDirectory(atPath: postgres.path)
        XCTAssertFalse(names.contains("data.initdb"), "\(names)")

        let stopped = try ChildProcess.run([binary.path, "db", "stop"], environment: environment)
        XCTAssertEqual(stopped.status, 0, stopped.description)
        XCTAssertEqual(postmasters(of: data).count, 0)
    }

    /// Processes whose command line is `postgres -D <data>` (the postmaster; its children rename themselves).
    private func postmasters(of data: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let bytes = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let flag = arguments.firstIndex(of: "-D"), flag + 1 < arguments.count else { return false }
            return arguments.first?.hasSuffix("postgres") == true && arguments[flag + 1] == data
        }
    }

    /// A cluster as an older Timbre made it — `trust`, `timbre` its bootstrap superuser owning
    /// the catalog — running when this version starts: upgraded in place, its data kept, and
    /// the new role can migrate (it owns the tables). It starts again from stopped.
    func testUpgradesAClusterMadeByAnOlderTimbre() throws {
        let legacy = try LegacyCluster(home: home)
        try legacy.create()
        defer { legacy.stopQuietly() }

        let database = try Database.open(applicationName: "timbre:upgrade", environment: environment)
        XCTAssertEqual(try database.users.list().map(\.name), ["from-before"], "the catalog's data is kept")
        try database.pool.withConnection { connection in
            XCTAssertEqual(try connection.query("SELECT current_user::text").string(0, 0), "timbre")
            XCTAssertFalse(try connection.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").bool(0, 0))
            XCTAssertEqual(try connection.query("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()").string(0, 0), "timbre")
            XCTAssertEqual(try connection.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'timbre'").int(0, 0), 0)
            XCTAssertEqual(try connection.query("SELECT count(*) FROM pg_roles WHERE rolname = $1 AND rolsuper", [EmbeddedPostgres.legacyRoleName]).int(0, 0), 1)
        }
        let cluster = try XCTUnwrap(database.embedded)
        let hba = try String(contentsOf: cluster.dataDirectory.appendingPathComponent("pg_hba.conf"), encoding: .utf8)
        XCTAssertFalse(hba.split(separator: "\n").contains { !$0.hasPrefix("#") && $0.contains("trust") }, hba)
        // New migrations alter tables the old superuser made: the new role owns them now.
        let next = Migration(version: 9001, name: "9001_upgrade_test.sql", sql: "ALTER TABLE users ADD COLUMN upgrade_test integer;")
        XCTAssertEqual(try Migrator(migrations: Migration.bundled + [next]).migrate(database.pool).map(\.version), [9001])
        XCTAssertEqual(try database.users.add(name: "after").user.name, "after")
        database.close()
        XCTAssertFalse(try EmbeddedPostgres(home: home).serverIsRunning(), "the last one out stopped it")

        // From stopped, with the rewritten configuration. A read-only open refuses the catalog
        // now (it has a migration this build lacks); looking without a schema check works.
        XCTAssertThrowsError(try Database.open(schema: .readOnly, environment: environment)) { error in
            guard case CatalogError.unknownAppliedMigration(9001, _) = error else { return XCTFail("\(error)") }
        }
        let again = try Database.open(schema: .unchecked, environment: environment)
        XCTAssertEqual(try again.users.list().map(\.name).sorted(), ["after", "from-before"])
        again.close()
    }

    /// The embedded server's start and stop lines are debug-level: a plain command prints
    /// neither; `TIMBRE_VERBOSE=1` shows both.
    func testStartAndStopLinesOnlyWhenVerbose() throws {
        let binary = try WorkerTests.timbreBinary()
        let quiet = try ChildProcess.run([binary.path, "db", "status"], environment: environment)
        XCTAssertEqual(quiet.status, 0, quiet.description)
        XCTAssertTrue(quiet.output.contains("embedded cluster"), quiet.description)
        XCTAssertFalse(quiet.errors.contains("started the embedded PostgreSQL"), quiet.errors)
        XCTAssertFalse(quiet.errors.contains("stopped the embedded PostgreSQL"), quiet.errors)

        let verbose = try ChildProcess.run([binary.path, "db", "status"], environment: environment.merging(["TIMBRE_VERBOSE": "1"]) { $1 })
        XCTAssertEqual(verbose.status, 0, verbose.description)
        XCTAssertTrue(verbose.errors.contains("started the embedded PostgreSQL"), verbose.errors)
        XCTAssertTrue(verbose.errors.contains("stopped the embedded PostgreSQL"), verbose.errors)
    }
}

/// A cluster made the way Timbre did before peer authentication: `initdb -U timbre -A trust`,
/// the `timbre` database and the migrations applied by that superuser, one user row.
private struct LegacyCluster {
    let home: URL
    let binaries: URL
    /// As root, the server runs as `timbre` (created if missing), as the old code did.
    let serverUser: String?

    init(home: URL) throws {
        self.home = home
        binaries = try EmbeddedPostgres.locateBinaries()
        if getuid() == 0 {
            if getpwnam("timbre") == nil {
                _ = try? ChildProcess.run(["/usr/sbin/useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                                           "--shell", "/usr/sbin/nologin", "timbre"])
            }
            serverUser = "timbre"
        } else {
            serverUser = nil
        }
    }

    var postgres: URL { home.appendingPathComponent("postgres") }
    var data: String { postgres.appendingPathComponent("data").path }
    var socket: String { postgres.appendingPathComponent("run").path }

    private func run(_ tool: String, _ arguments: [String]) throws {
        let command = (serverUser.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []) + [binaries.appendingPathComponent(tool).path] + arguments
        let result = try ChildProcess.run(command)
        XCTAssertEqual(result.status, 0, "\(tool): \(result.description)")
        if result.status != 0 { throw CatalogError.embeddedClusterFailed(step: tool, output: result.description) }
    }

    func create() throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: socket, withIntermediateDirectories: true)
        if let serverUser, let entry = getpwnam(serverUser) {
            for path in [postgres.path, data, socket] { chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) }
        }
        chmod(data, 0o700)
        chmod(socket, 0o700)
        try run("initdb", ["-D", data, "-U", "timbre", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        let settings = "listen_addresses = ''\nunix_socket_directories = '\(socket)'\nunix_socket_permissions = 0700\n"
        let config = URL(fileURLWithPath: data).appendingPathComponent("postgresql.conf")
        let text = try String(contentsOf: config, encoding: .utf8) + "\n# Timbre's settings, rewritten at every start.\ninclude_if_exists = 'timbre.conf'\n"
        try text.write(to: config, atomically: false, encoding: .utf8)
        try settings.write(toFile: data + "/timbre.conf", atomically: false, encoding: .utf8)
        if let serverUser, let entry = getpwnam(serverUser) { chown(data + "/timbre.conf", entry.pointee.pw_uid, entry.pointee.pw_gid) }
        try run("pg_ctl", ["-D", data, "-l", postgres.appendingPathComponent("server.log").path, "-w", "-t", "60", "-s", "start"])

        let host = "?host=\(socket)&user=timbre"
        let admin = try PostgresConnection(url: "postgresql:///postgres" + host)
        try admin.execute(script: "CREATE DATABASE timbre")
        let catalog = try PostgresConnection(url: "postgresql:///timbre" + host)
        try Migrator(migrations: Migration.bundled).migrate(catalog)
        let pool = ConnectionPool(url: "postgresql:///timbre" + host, maximumConnections: 1)
        defer { pool.close() }
        try UserRepository(pool: pool).add(name: "from-before")
        XCTAssertTrue(try catalog.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").bool(0, 0), "the old role was the superuser")
    }

    func stopQuietly() {
        let command = (serverUser.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []) + [binaries.appendingPathComponent("pg_ctl").path, "-D", data, "-m", "immediate", "-w", "stop"]
        _ = try? ChildProcess.run(command)
    }
}
