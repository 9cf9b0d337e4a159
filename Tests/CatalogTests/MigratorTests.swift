@testable import Catalog
import Foundation
import XCTest

final class MigratorTests: XCTestCase {
    func testFreshDatabaseMigratesAndRerunIsANoOp() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let migrator = try Migrator(directory: TestDatabase.migrationsDirectory)
        let files = try FileManager.default.contentsOfDirectory(atPath: TestDatabase.migrationsDirectory.path).filter { $0.hasSuffix(".sql") }
        let applied = try migrator.migrate(database.pool)
        XCTAssertEqual(applied.map(\.name), files.sorted())
        let connection = try database.connection()
        for table in ["users", "libraries", "tracks", "models", "predictions", "embeddings", "corrections", "jobs"] {
            XCTAssertTrue(try connection.query("SELECT to_regclass($1) IS NOT NULL", [table]).bool(0, 0), table)
        }
        let recorded = try migrator.appliedMigrations(connection)
        XCTAssertEqual(recorded.map(\.name), files.sorted())
        // Checksums recorded are the files' SHA-256, as PostgreSQL computes it.
        let first = TestDatabase.migrationsDirectory.appendingPathComponent(files.sorted()[0])
        let serverHash = try connection.query("SELECT encode(sha256($1), 'hex')",
                                              [PostgresValue.bytes(Array(try Data(contentsOf: first)))]).string(0, 0)
        XCTAssertEqual(recorded[0].checksum, serverHash)

        XCTAssertEqual(try migrator.migrate(database.pool), [])
        XCTAssertEqual(try migrator.appliedMigrations(connection).count, files.count)
    }

    func testChangedAppliedMigrationIsAnErrorNamingIt() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("0001_first.sql")
        try "CREATE TABLE a (x integer);".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Migrator(directory: directory).migrate(database.pool).count, 1)
        try "CREATE TABLE a (x bigint);".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migrator(directory: directory).migrate(database.pool)) { error in
            guard case let CatalogError.migrationChanged(version, name, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(version, 1)
            XCTAssertEqual(name, "0001_first.sql")
            XCTAssertTrue("\(error)".contains("0001_first.sql"))
        }
    }

    func testFailingMigrationRollsBackAndStopsThere() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "CREATE TABLE a (x integer);".write(to: directory.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
        try "CREATE TABLE b (x integer); SELECT no_such_function();".write(to: directory.appendingPathComponent("0002_b.sql"), atomically: true, encoding: .utf8)
        try "CREATE TABLE c (x integer);".write(to: directory.appendingPathComponent("0003_c.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migrator(directory: directory).migrate(database.pool)) { error in
            guard case let CatalogError.migrationFailed(file, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(file, "0002_b.sql")
        }
        let connection = try database.connection()
        XCTAssertTrue(try connection.query("SELECT to_regclass('a') IS NOT NULL").bool(0, 0))
        XCTAssertFalse(try connection.query("SELECT to_regclass('b') IS NOT NULL").bool(0, 0))
        XCTAssertFalse(try connection.query("SELECT to_regclass('c') IS NOT NULL").bool(0, 0))
        XCTAssertEqual(try Migrator(directory: directory).appliedMigrations(connection).map(\.version), [1])
    }

    /// Two processes starting together: the advisory lock makes one apply and the other find nothing to do.
    func testConcurrentMigratorsApplyOnce() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let migrator = try Migrator(directory: TestDatabase.migrationsDirectory)
        let counts = LockedArray<Int>()
        let errors = LockedArray<String>()
        let url = database.url, name = database.name
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            do {
                let connection = try PostgresConnection(url: url, database: name)
                counts.append(try migrator.migrate(connection).count)
            } catch {
                errors.append("\(error)")
            }
        }
        XCTAssertEqual(errors.values, [])
        XCTAssertEqual(counts.values.sorted(), [0, 0, migrator.migrations.count])
    }

    func testBadFileNamesAreRejected() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "SELECT 1;".write(to: directory.appendingPathComponent("initial.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migration.load(from: directory)) { error in
            guard case CatalogError.badMigrationName("initial.sql") = error else { return XCTFail("\(error)") }
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("initial.sql"))
        try "SELECT 1;".write(to: directory.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
        try "SELECT 2;".write(to: directory.appendingPathComponent("1_b.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migration.load(from: directory)) { error in
            guard case CatalogError.duplicateMigrationVersion(1, _) = error else { return XCTFail("\(error)") }
        }
    }

    func testLocatesTheDirectoryFromTheEnvironment() throws {
        let found = try XCTUnwrap(try Migration.locateDirectory(environment: ["TIMBRE_MIGRATIONS": TestDatabase.migrationsDirectory.path]))
        XCTAssertEqual(found.path, TestDatabase.migrationsDirectory.path)
        // With nothing set, nothing is searched for: the migrations built into the binary apply.
        XCTAssertNil(try Migration.locateDirectory(environment: [:]))
        XCTAssertEqual(try Migration.resolve(environment: [:]).origin, "built into timbre")
        XCTAssertThrowsError(try Migration.locateDirectory(explicit: "/nonexistent/migrations"))
    }
}
