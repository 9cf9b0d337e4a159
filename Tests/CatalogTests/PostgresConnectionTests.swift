@testable import Catalog
import Foundation
import XCTest

final class PostgresConnectionTests: XCTestCase {
    func testValuesRoundTripInBinary() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let connection = try database.connection()
        let vector: [Float] = (0..<256).map { Float($0) * 0.5 - 3.25 }
        let rows = try connection.query("""
            SELECT $1::bigint, $2::float8, $3::boolean, $4::text, $5::bytea, $6::real[], $7::text[], $8::text,
                   $9::jsonb, '2000-01-02 00:00:01.5+00'::timestamptz, 42::integer, 2.5::real, '{}'::real[]
            """, [Int64.min, -1.0e300, true, "it's a \"quote\"; DROP TABLE x; -- é✓", PostgresValue.bytes([0, 1, 255]),
                  vector, ["a", "b c", "ü"], PostgresValue.null, #"{"k": [1, 2]}"#])
        XCTAssertEqual(try rows.int(0, 0), Int64.min)
        XCTAssertEqual(try rows.double(0, 1), -1.0e300)
        XCTAssertEqual(try rows.bool(0, 2), true)
        XCTAssertEqual(try rows.string(0, 3), "it's a \"quote\"; DROP TABLE x; -- é✓")
        XCTAssertEqual(try rows.bytes(0, 4), [0, 1, 255])
        XCTAssertEqual(try rows.floats(0, 5), vector)
        XCTAssertEqual(try rows.strings(0, 6), ["a", "b c", "ü"])
        XCTAssertTrue(rows.isNull(0, 7))
        XCTAssertNil(try rows.optionalString(0, 7))
        XCTAssertEqual(try rows.string(0, 8), #"{"k": [1, 2]}"#)
        XCTAssertEqual(try rows.date(0, 9).timeIntervalSince1970, 946_684_800 + 86_400 + 1.5, accuracy: 1e-6)
        XCTAssertEqual(try rows.int(0, 10), 42)
        XCTAssertEqual(try rows.double(0, 11), 2.5)
        XCTAssertEqual(try rows.floats(0, 12), [])
        XCTAssertThrowsError(try rows.string(0, 0)) { error in
            guard case CatalogError.unexpectedColumn = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try rows.string(0, 7))
    }

    func testErrorsCarrySQLStateAndTransactionsRollBack() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let connection = try database.connection()
        try connection.execute(script: "CREATE TABLE t (k integer PRIMARY KEY)")
        XCTAssertThrowsError(try connection.withTransaction { connection in
            try connection.query("INSERT INTO t VALUES (1)")
            try connection.query("INSERT INTO t VALUES (1)")
        }) { error in
            XCTAssertEqual((error as? CatalogError)?.sqlState, "23505")
            XCTAssertTrue("\(error)".contains("23505"), "\(error)")
        }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM t").int(0, 0), 0)
        XCTAssertThrowsError(try connection.query("SELECT * FROM missing_table")) { error in
            XCTAssertEqual((error as? CatalogError)?.sqlState, "42P01")
        }
        XCTAssertThrowsError(try PostgresConnection(url: database.url, database: "no_such_database_here")) { error in
            guard case CatalogError.connectionFailed = error else { return XCTFail("\(error)") }
        }
    }

    /// The server kills the pool's connection; the next use reconnects and carries on.
    func testPoolReconnectsAfterBackendIsTerminated() throws {
        let database = try TestDatabase(migrated: false, maximumConnections: 1)
        defer { database.drop() }
        let firstPID = try database.pool.withConnection { try $0.query("SELECT pg_backend_pid()").int(0, 0) }
        let killer = try database.connection()
        XCTAssertTrue(try killer.query("SELECT pg_terminate_backend($1::integer)", [firstPID]).bool(0, 0))
        Thread.sleep(forTimeInterval: 0.1)

        // Idempotent work is retried once on a fresh connection.
        let secondPID = try database.pool.withConnection { try $0.query("SELECT pg_backend_pid()").int(0, 0) }
        XCTAssertNotEqual(firstPID, secondPID)

        // Work that must not be repeated reports the loss; the pool is fine afterwards.
        XCTAssertTrue(try killer.query("SELECT pg_terminate_backend($1::integer)", [secondPID]).bool(0, 0))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertThrowsError(try database.pool.withConnection(retryingOnConnectionLoss: false) { try $0.query("SELECT 1") }) { error in
            XCTAssertTrue((error as? CatalogError)?.isConnectionLoss == true, "\(error)")
        }
        XCTAssertEqual(try database.pool.withConnection(retryingOnConnectionLoss: false) { try $0.query("SELECT 7").int(0, 0) }, 7)
    }

    func testPasswordsAreRedactedFromMessages() {
        XCTAssertEqual(PostgresConnection.redact("postgresql://u:secret@db:5432/timbre"), "postgresql://u:***@db:5432/timbre")
        XCTAssertEqual(PostgresConnection.redact("postgresql:///t?host=/s&password=secret&user=u"), "postgresql:///t?host=/s&password=***&user=u")
        XCTAssertEqual(PostgresConnection.redact("host=db password=secret dbname=t"), "host=db password=*** dbname=t")
        XCTAssertEqual(PostgresConnection.redact("postgresql:///t?host=/s"), "postgresql:///t?host=/s")
    }

    func testPoolSharesConnectionsAcrossThreads() throws {
        let database = try TestDatabase(migrated: false, maximumConnections: 2)
        defer { database.drop() }
        let pool = database.pool
        let results = LockedArray<Int64>()
        DispatchQueue.concurrentPerform(iterations: 16) { index in
            let value = try? pool.withConnection { try $0.query("SELECT $1::bigint + 1, pg_sleep(0.01)", [index]).int(0, 0) }
            results.append(value ?? -1)
        }
        XCTAssertEqual(results.values.sorted(), (1...16).map(Int64.init))
    }
}

/// A thread-safe collector for concurrent tests.
final class LockedArray<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [T] = []
    func append(_ value: T) { lock.lock(); storage.append(value); lock.unlock() }
    func append(contentsOf values: [T]) { lock.lock(); storage.append(contentsOf: values); lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return storage }
}
