@testable import Catalog
import Foundation
import XCTest

final class EmbeddedPostgresTests: XCTestCase {
    /// Start in a fresh home, reuse from a second process, stop, then recover from a stale pid file.
    func testStartReuseStopAndStalePidFile() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/15/bin/initdb")
                          || (try? EmbeddedPostgres.locateBinaries()) != nil, "PostgreSQL server binaries are not installed")
        let home = URL(fileURLWithPath: "/tmp/timbre-home-\(UUID().uuidString.prefix(8))")
        defer {
            // Whatever failed, no server is left running on a deleted folder.
            try? EmbeddedPostgres(home: home).stop()
            try? FileManager.default.removeItem(at: home)
        }
        let environment = ["TIMBRE_HOME": home.path, "TIMBRE_MIGRATIONS": TestDatabase.migrationsDirectory.path]

        // Two Timbre processes are told apart by their sessions' application_name.
        let first = try Database.open(applicationName: "timbre:first", environment: environment)
        let cluster = try XCTUnwrap(first.embedded)
        XCTAssertTrue(cluster.startedHere)
        XCTAssertEqual(cluster.serverUser, getuid() == 0 ? "timbre" : nil)
        // Socket only: no TCP listener.
        XCTAssertEqual(try first.pool.withConnection { try $0.query("SHOW listen_addresses").string(0, 0) }, "")
        XCTAssertEqual(try first.users.add(name: "someone").user.name, "someone")

        // The server restarts under an open pool: the pool reconnects and carries on.
        try cluster.stop()
        try cluster.start()
        XCTAssertEqual(try first.users.list().map(\.name), ["someone"])

        // A second process finds it running and reuses it. The first one ending leaves it
        // running for the second; the last one out stops it, though it did not start it.
        let second = try Database.open(applicationName: "timbre:second", environment: environment)
        XCTAssertEqual(second.embedded?.startedHere, false)
        XCTAssertEqual(try second.users.find(name: "someone")?.name, "someone")
        first.close()
        XCTAssertTrue(try cluster.serverIsRunning())
        XCTAssertEqual(try second.users.list().count, 1)
        second.close()
        XCTAssertFalse(try cluster.serverIsRunning())

        // A crash leaves postmaster.pid behind, naming a process that is not PostgreSQL.
        let pidFile = cluster.dataDirectory.appendingPathComponent("postmaster.pid")
        try "\(getpid())\n\(cluster.dataDirectory.path)\n".write(to: pidFile, atomically: true, encoding: .utf8)
        let third = try Database.open(environment: environment)
        XCTAssertEqual(third.embedded?.startedHere, true)
        XCTAssertEqual(try third.users.list().map(\.name), ["someone"], "data survives a restart")
        third.close()

        // `timbre db start` holds it up: processes leaving do not stop it, `stop()` does.
        try cluster.start(keepRunning: true)
        let fourth = try Database.open(applicationName: "timbre:fourth", environment: environment)
        fourth.close()
        XCTAssertTrue(try cluster.serverIsRunning(), "a held server outlives the processes using it")
        // `timbre db stop` is another process: it stops the server as the user that runs it.
        try EmbeddedPostgres(home: home).stop()
        XCTAssertFalse(try cluster.serverIsRunning())
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.keepRunningMarker.path))
        let fifth = try Database.open(environment: environment)
        fifth.close()
        XCTAssertFalse(try cluster.serverIsRunning(), "once stopped, the last process out stops it again")
    }
}
