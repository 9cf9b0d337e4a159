import Catalog
import Foundation
import XCTest

/// A fresh database per test on the server `scripts/test-postgres` started
/// (`TIMBRE_TEST_DATABASE_URL`); the test is skipped when that is unset.
final class TestDatabase {
    let name: String
    let url: String
    let pool: ConnectionPool

    static var serverURL: String? {
        let url = ProcessInfo.processInfo.environment["TIMBRE_TEST_DATABASE_URL"]
        return url?.isEmpty == false ? url : nil
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var migrationsDirectory: URL { repositoryRoot.appendingPathComponent("migrations") }

    /// - Parameter migrated: apply the repository's migrations.
    init(migrated: Bool = true, maximumConnections: Int = 4) throws {
        guard let url = Self.serverURL else {
            throw XCTSkip("TIMBRE_TEST_DATABASE_URL is not set; run `eval \"$(scripts/test-postgres start)\"` first")
        }
        self.url = url
        name = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PostgresConnection(url: url)
        try admin.execute(script: "CREATE DATABASE \(name)")
        pool = ConnectionPool(url: url, database: name, maximumConnections: maximumConnections)
        if migrated { try Migrator(directory: Self.migrationsDirectory).migrate(pool) }
    }

    /// A connection outside the pool (to the same test database).
    func connection() throws -> PostgresConnection { try PostgresConnection(url: url, database: name) }

    func drop() {
        pool.close()
        if let admin = try? PostgresConnection(url: url) {
            _ = try? admin.execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }

    /// A user and a library on `root`, which most catalog tests need.
    func makeLibrary(root: String) throws -> Library {
        let owner = try UserRepository(pool: pool).add(name: "owner-" + UUID().uuidString.prefix(8)).user
        return try LibraryRepository(pool: pool).add(path: root, ownerID: owner.id)
    }
}

/// A scratch folder removed by the caller.
func makeTemporaryDirectory(_ prefix: String = "timbre-test") throws -> URL {
    let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.resolvingSymlinksInPath()
}
