@testable import Catalog
import XCTest

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 example vectors (NIST CSRC "Examples with intermediate values").
    func testFIPSVectors() {
        XCTAssertEqual(SHA256.hash(Array("".utf8)).hexString, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)).hexString, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString,
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven pieces to exercise the buffering.
        var hasher = SHA256()
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 999)
        var fed = 0
        while fed < 1_000_000 {
            let count = min(piece.count, 1_000_000 - fed)
            hasher.update(Array(piece[0..<count]))
            fed += count
        }
        XCTAssertEqual(hasher.finalize().hexString, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A hasher copied in the middle of a stream goes on independently of the original, and
    /// `finalize` starts it afresh.
    func testCopiesAreIndependentAndFinalizeRestarts() {
        let head = Array("The quick brown fox ".utf8), a = Array("jumps over the lazy dog".utf8), b = Array("sleeps".utf8)
        var original = SHA256()
        original.update(head)
        var copy = original
        original.update(a)
        copy.update(b)
        XCTAssertEqual(original.finalize(), SHA256.hash(head + a))
        XCTAssertEqual(copy.finalize(), SHA256.hash(head + b))
        XCTAssertEqual(SHA256.hash(head + a).hexString, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
        original.update(Array("abc".utf8))
        XCTAssertEqual(original.finalize().hexString, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Not contiguous: a lazy collection takes the copying path.
        XCTAssertEqual(SHA256.hash(Array("abc".utf8).lazy.map { $0 }).hexString,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// Every length around the padding boundaries agrees with PostgreSQL's `sha256()`.
    func testAgreesWithPostgreSQL() throws {
        let database = try TestDatabase(migrated: false)
        defer { database.drop() }
        let connection = try database.connection()
        var generator = SystemRandomNumberGenerator()
        for length in Array(0...130) + [1000, 4097] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let server = try connection.query("SELECT sha256($1)", [PostgresValue.bytes(bytes)]).bytes(0, 0)
            XCTAssertEqual(SHA256.hash(bytes), server, "length \(length)")
        }
    }
}
