@testable import Catalog
import Foundation
import XCTest

final class UserLibraryTests: XCTestCase {
    func testAPIKeyIsShownOnceAndStoredHashed() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let users = UserRepository(pool: database.pool)
        let (alice, key) = try users.add(name: "alice")
        XCTAssertTrue(key.hasPrefix("tmb_"))
        XCTAssertEqual(try users.verify(apiKey: key), alice)
        XCTAssertNil(try users.verify(apiKey: key + "x"))
        XCTAssertNil(try users.verify(apiKey: ""))
        let (_, otherKey) = try users.add(name: "bob")
        XCTAssertNotEqual(key, otherKey)
        // What is stored is PostgreSQL's own sha256 of the key, never the key.
        let stored = try database.pool.withConnection { connection in
            try connection.query("SELECT key_hash = sha256(convert_to($2, 'UTF8')), position(convert_to($2, 'UTF8') in key_hash) FROM api_keys WHERE user_id = $1",
                                 [alice.id, key])
        }
        XCTAssertTrue(try stored.bool(0, 0))
        XCTAssertEqual(try stored.int(0, 1), 0)
        XCTAssertThrowsError(try users.add(name: "alice")) { error in
            XCTAssertTrue("\(error)".contains("exists already"), "\(error)")
        }
        XCTAssertThrowsError(try users.add(name: "  "))
        XCTAssertThrowsError(try users.add(name: "eve\u{1B}[31m"))
    }

    func testFirstUserIsAdminAndKeysAreRevocableOneByOne() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let users = UserRepository(pool: database.pool)
        let (first, firstKey) = try users.add(name: "first")
        let (second, _) = try users.add(name: "second")
        let (third, _) = try users.add(name: "third", admin: true)
        XCTAssertEqual(first.role, .admin)
        XCTAssertEqual(second.role, .user)
        XCTAssertEqual(third.role, .admin)
        XCTAssertEqual(try users.firstAdmin(), first)

        let laptop = try users.issueKey(userID: first.id, label: "laptop")
        XCTAssertNotEqual(laptop, firstKey)
        XCTAssertEqual(try users.verify(apiKey: laptop), first)
        XCTAssertEqual(try users.revokeKeys(userID: first.id, prefix: String(laptop.prefix(12))), 1)
        XCTAssertNil(try users.verify(apiKey: laptop), "a revoked key no longer signs in")
        XCTAssertEqual(try users.verify(apiKey: firstKey), first, "revoking one key leaves the others")
        XCTAssertEqual(try users.keys(userID: first.id).map { $0.revokedAt != nil }, [false, true])
        XCTAssertEqual(try users.revokeKeys(userID: first.id), 1)
        XCTAssertNil(try users.verify(apiKey: firstKey))
    }

    func testLibraryRootsAreCanonicalAndNeverNested() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let base = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        try FileManager.default.createDirectory(at: base.appendingPathComponent("music/rock"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: base.appendingPathComponent("link").path,
                                                   withDestinationPath: base.appendingPathComponent("music").path)
        XCTAssertTrue(FileManager.default.createFile(atPath: base.appendingPathComponent("file.mp3").path, contents: Data()))
        let owner = try UserRepository(pool: database.pool).add(name: "owner").user
        let libraries = LibraryRepository(pool: database.pool)

        let library = try libraries.add(path: base.appendingPathComponent("link/./rock/..").path, ownerID: owner.id)
        XCTAssertEqual(library.rootPath, base.appendingPathComponent("music").path)
        XCTAssertThrowsError(try libraries.add(path: base.appendingPathComponent("music").path, ownerID: owner.id))
        XCTAssertThrowsError(try libraries.add(path: base.appendingPathComponent("music/rock").path, ownerID: owner.id))
        XCTAssertThrowsError(try libraries.add(path: base.path, ownerID: owner.id))
        XCTAssertThrowsError(try libraries.add(path: base.appendingPathComponent("file.mp3").path, ownerID: owner.id))
        XCTAssertThrowsError(try libraries.add(path: base.appendingPathComponent("missing").path, ownerID: owner.id))
        XCTAssertThrowsError(try libraries.add(path: base.appendingPathComponent("music").path, ownerID: owner.id + 1000))
        XCTAssertEqual(try libraries.list(), [library])
        XCTAssertEqual(try libraries.find(containing: base.appendingPathComponent("music/rock").path)?.id, library.id)
        XCTAssertNil(try libraries.find(containing: base.path))
    }
}
