@testable import Catalog
import Foundation
import XCTest

/// Migrations are compiled into the binary (BundledMigrations.swift, generated from
/// migrations/); read-only commands apply none; a catalog newer than the binary is refused.
final class MigrationEmbeddingTests: XCTestCase {
    /// The built-in migrations are the repository's files byte for byte (so their checksums
    /// match what catalogs recorded), and the committed Swift file is what the generator writes.
    func testBuiltInMigrationsAreTheRepositorysFiles() throws {
        let files = try Migration.load(from: TestDatabase.migrationsDirectory)
        XCTAssertFalse(files.isEmpty)
        XCTAssertEqual(Migration.bundled.map(\.name), files.map(\.name),
                       "migrations/ and BundledMigrations.swift disagree: run tools/migrations/generate-swift.sh")
        XCTAssertEqual(Migration.bundled.map(\.version), files.map(\.version))
        for (built, file) in zip(Migration.bundled, files) {
            XCTAssertEqual(built.sql, file.sql, "\(file.name) differs from its built-in copy: run tools/migrations/generate-swift.sh")
            XCTAssertEqual(built.checksum, file.checksum, file.name)
        }

        let script = TestDatabase.repositoryRoot.appendingPathComponent("tools/migrations/generate-swift.sh").path
        let generated = try ChildProcess.run(["/bin/bash", script, "-"])
        XCTAssertEqual(generated.status, 0, generated.description)
        let committed = try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("Sources/Catalog/Schema/BundledMigrations.swift"),
                                   encoding: .utf8)
        XCTAssertEqual(generated.output, committed, "BundledMigrations.swift is not what tools/migrations/generate-swift.sh writes; rerun it")
    }

    /// A copy of the binary in a folder with no migrations anywhere near, run from `/` with no
    /// TIMBRE_MIGRATIONS, migrates a fresh catalog with its built-in migrations.
    func testTheBinaryCarriesItsMigrations() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let binary = try installedCopy()
        let migrate = try ChildProcess.run([binary, "db", "migrate", "--database-url", url(database)])
        XCTAssertEqual(migrate.status, 0, migrate.description)
        for migration in Migration.bundled { XCTAssertTrue(migrate.output.contains("applied \(migration.name)"), migrate.description) }
        XCTAssertEqual(try appliedVersions(database), Migration.bundled.map(\.version))
        let status = try ChildProcess.run([binary, "db", "status", "--database-url", url(database)])
        XCTAssertEqual(status.status, 0, status.description)
        XCTAssertTrue(status.output.contains("migrations: built into timbre"), status.description)
        XCTAssertFalse(status.output.split(separator: "\n").contains { $0.hasPrefix("pending ") }, status.description)
    }

    /// Commands that only read leave a pending migration pending (and say it is); the first
    /// command that writes applies it.
    func testReadOnlyCommandsDoNotMigrate() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let all = Migration.bundled
        try Migrator(migrations: Array(all.dropLast())).migrate(database.pool)
        let binary = try WorkerTests.timbreBinary().path
        let url = url(database)
        let readers: [[String]] = [["tags"], ["similar", "1"], ["clusters"], ["model", "list"], ["model", "show", "nothing"],
                                   ["db", "status"], ["library", "list"], ["user", "list"], ["tag", "1"]]
        for command in readers {
            let result = try ChildProcess.run([binary] + command + ["--database-url", url])
            XCTAssertEqual(try appliedVersions(database), all.dropLast().map(\.version), "`timbre \(command.joined(separator: " "))` migrated: \(result.description)")
            if command == ["tags"] {
                XCTAssertEqual(result.status, 0, result.description)
                XCTAssertTrue(result.errors.contains("\(all.last!.name) pending"), result.description)
                XCTAssertTrue(result.errors.contains("timbre db migrate"), result.description)
            }
        }
        let writer = try ChildProcess.run([binary, "user", "add", "someone", "--database-url", url])
        XCTAssertEqual(writer.status, 0, writer.description)
        XCTAssertEqual(try appliedVersions(database), all.map(\.version), "a command that writes migrates")
    }

    /// A catalog with a migration this build lacks was migrated by a newer Timbre: refused
    /// with a message saying so, by read-only opens too, and nothing is changed.
    func testACatalogNewerThanTheBinaryIsRefused() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let connection = try database.connection()
        try connection.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_from_the_future.sql', 'x')")
        for schema in [Database.SchemaPolicy.readOnly, .migrate] {
            XCTAssertThrowsError(try Database.open(url: url(database), schema: schema)) { error in
                guard case CatalogError.unknownAppliedMigration(9999, "9999_from_the_future.sql") = error else { return XCTFail("\(error)") }
                XCTAssertTrue("\(error)".contains("newer Timbre"), "\(error)")
            }
        }
        let binary = try WorkerTests.timbreBinary().path
        for command in [["tags"], ["user", "list"], ["user", "add", "x"]] {
            let result = try ChildProcess.run([binary] + command + ["--database-url", url(database)])
            XCTAssertNotEqual(result.status, 0, result.description)
            XCTAssertTrue(result.errors.contains("9999_from_the_future.sql") && result.errors.contains("newer Timbre"), result.description)
        }
        // `timbre db status` still shows where the catalog stands.
        let status = try ChildProcess.run([binary, "db", "status", "--database-url", url(database)])
        XCTAssertEqual(status.status, 0, status.description)
        XCTAssertTrue(status.output.contains("newer   9999_from_the_future.sql"), status.description)
        XCTAssertEqual(try appliedVersions(database), Migration.bundled.map(\.version) + [9999])
    }

    // MARK: Helpers

    /// The test database's own URL (the test server's names the `postgres` database).
    private func url(_ database: TestDatabase) -> String {
        database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
    }

    private func appliedVersions(_ database: TestDatabase) throws -> [Int] {
        let rows = try database.connection().query("SELECT version FROM schema_migrations ORDER BY version")
        return try (0..<rows.rowCount).map { Int(try rows.int($0, 0)) }
    }

    /// The built binary copied to a fresh folder outside the repository, removed at the end.
    private func installedCopy() throws -> String {
        let source = try WorkerTests.timbreBinary()
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-install-\(UUID().uuidString.prefix(8))/bin")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let copy = folder.appendingPathComponent("timbre")
        try FileManager.default.copyItem(at: source, to: copy)
        return copy.path
    }
}
