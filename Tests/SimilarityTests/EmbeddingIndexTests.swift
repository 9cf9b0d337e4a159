import Foundation
import XCTest
@testable import Similarity

final class EmbeddingIndexTests: XCTestCase {
    /// Seeded vectors with mixed signs and lengths.
    func vectors(_ count: Int, dimension: Int, seed: UInt64) -> [[Float]] {
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        return (0..<count).map { _ in (0..<dimension).map { _ in next() } }
    }

    /// Cosine in double precision, the oracle.
    func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in a.indices { dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i]) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }

    func testNearestMatchesBruteForce() throws {
        let data = vectors(2000, dimension: 256, seed: 3)
        let index = EmbeddingIndex(dimension: 256)
        for (i, v) in data.enumerated() { try index.upsert(id: Int64(i * 7), vector: v) }
        XCTAssertEqual(index.count, 2000)
        for query in vectors(20, dimension: 256, seed: 99) {
            let hits = try index.nearest(to: query, k: 10)
            let expected = data.indices.map { (id: Int64($0 * 7), score: cosine(query, data[$0])) }
                .sorted { $0.score > $1.score }.prefix(10)
            XCTAssertEqual(hits.map(\.id), expected.map(\.id))
            for (hit, truth) in zip(hits, expected) { XCTAssertEqual(Double(hit.score), truth.score, accuracy: 1e-5) }
        }
        // "More like this" leaves the track itself out, and its best match is its own vector's nearest.
        let similar = try index.nearest(toID: 70, k: 5)
        XCTAssertFalse(similar.contains { $0.id == 70 })
        XCTAssertEqual(similar.map(\.id), try index.nearest(to: data[10], k: 6).map(\.id).filter { $0 != 70 }.prefix(5).map { $0 })
        XCTAssertEqual(try index.nearest(to: data[0], k: 5000).count, 2000, "k larger than the index gives every track")
        XCTAssertEqual(try index.nearest(to: data[0], k: 0), [])
    }

    /// A batch of queries through one sgemm answers each query exactly as it would alone,
    /// each with its own filter (a user's own tracks), against a brute-force oracle.
    func testBatchedFilteredQueriesEqualBruteForce() throws {
        let data = vectors(1500, dimension: 64, seed: 5)
        let index = EmbeddingIndex(dimension: 64)
        for (i, v) in data.enumerated() { try index.upsert(id: Int64(i), vector: v) }
        let queries = vectors(7, dimension: 64, seed: 77)
        let filters: [(Int64) -> Bool] = (0..<7).map { j in { id in id % Int64(j + 2) == 0 } }
        let batched = try index.nearest(batch: queries, k: 8, where: filters)
        XCTAssertEqual(batched.count, 7)
        for j in 0..<7 {
            let expected = data.indices.filter { filters[j](Int64($0)) }.map { (id: Int64($0), score: cosine(queries[j], data[$0])) }
                .sorted { $0.score > $1.score }.prefix(8)
            XCTAssertEqual(batched[j].map(\.id), expected.map(\.id), "query \(j)")
            XCTAssertEqual(batched[j].map(\.id), try index.nearest(to: queries[j], k: 8, where: filters[j]).map(\.id))
            for (hit, truth) in zip(batched[j], expected) { XCTAssertEqual(Double(hit.score), truth.score, accuracy: 1e-5) }
        }
        XCTAssertThrowsError(try index.nearest(batch: [queries[0], [1, 2]], k: 3, where: [{ _ in true }, { _ in true }]))
    }

    func testScoresTiesAndExclusions() throws {
        let index = EmbeddingIndex(dimension: 3)
        try index.upsert(id: 5, vector: [1, 0, 0])
        try index.upsert(id: 2, vector: [2, 0, 0])     // same direction, longer: same score
        try index.upsert(id: 9, vector: [0, 1, 0])
        try index.upsert(id: 4, vector: [-3, 0, 0])
        let hits = try index.nearest(to: [10, 0, 0], k: 4)
        XCTAssertEqual(hits, [SimilarityHit(id: 2, score: 1), SimilarityHit(id: 5, score: 1),
                              SimilarityHit(id: 9, score: 0), SimilarityHit(id: 4, score: -1)], "ties go to the smaller id")
        XCTAssertEqual(try index.nearest(to: [1, 0, 0], k: 2, excluding: [2]).map(\.id), [5, 9])
        XCTAssertEqual(index.vector(id: 2), [1, 0, 0], "stored unit length")
    }

    func testUpdatesAndRemovals() throws {
        let index = EmbeddingIndex(dimension: 2)
        for (id, v) in [(1, [1, 0]), (2, [0, 1]), (3, [1, 1]), (4, [-1, 0])] as [(Int64, [Float])] { try index.upsert(id: id, vector: v) }
        try index.upsert(id: 2, vector: [1, 0.1])  // replaced, not added
        XCTAssertEqual(index.count, 4)
        XCTAssertEqual(try index.nearest(to: [1, 0], k: 2).map(\.id), [1, 2])
        XCTAssertTrue(index.remove(id: 1))
        XCTAssertFalse(index.remove(id: 1))
        XCTAssertFalse(index.contains(1))
        XCTAssertEqual(index.count, 3)
        // The moved last row (4) is still found under its id.
        XCTAssertEqual(try index.nearest(to: [-1, 0], k: 1).map(\.id), [4])
        XCTAssertEqual(try index.nearest(toID: 4, k: 3).map(\.id).last, 2)
        XCTAssertThrowsError(try index.nearest(toID: 1, k: 3)) { XCTAssertEqual($0 as? SimilarityError, .unknown(id: 1)) }
    }

    func testBadVectorsAreRefusedWithReasons() {
        let index = EmbeddingIndex(dimension: 4)
        XCTAssertThrowsError(try index.upsert(id: 1, vector: [1, 2, 3])) {
            XCTAssertEqual($0 as? SimilarityError, .dimensionMismatch(id: 1, expected: 4, got: 3))
        }
        XCTAssertThrowsError(try index.upsert(id: 1, vector: [0, 0, 0, 0])) { XCTAssertTrue("\($0)".contains("all zeros")) }
        XCTAssertThrowsError(try index.nearest(to: [1, .nan, 0, 0], k: 1)) { XCTAssertTrue("\($0)".contains("NaN")) }
        XCTAssertEqual(index.count, 0)
    }

    func testConcurrentQueriesAndUpdates() throws {
        let data = vectors(500, dimension: 32, seed: 5)
        let index = EmbeddingIndex(dimension: 32)
        for (i, v) in data.enumerated() { try index.upsert(id: Int64(i), vector: v) }
        let expected = try index.nearest(to: data[0], k: 3)
        final class Failures: @unchecked Sendable { var count = 0; let lock = NSLock() }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<200 {
                if worker == 0 {
                    // Rows 400..<500 come and go; the query's neighbours stay.
                    let id = Int64(400 + i % 100)
                    if i % 2 == 0 { index.remove(id: id) } else { try? index.upsert(id: id, vector: data[Int(id)]) }
                } else if let hits = try? index.nearest(to: data[0], k: 3), hits.first?.id != 0 {
                    failures.lock.lock(); failures.count += 1; failures.lock.unlock()
                }
            }
        }
        XCTAssertEqual(failures.count, 0)
        XCTAssertEqual(expected.first?.id, 0)
    }
}
