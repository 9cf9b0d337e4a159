import Foundation
import SeededRandom
import Similarity
import XCTest

/// The blocked, duration-banded search finds exactly the pairs a brute-force scan of every pair
/// finds, at block boundaries, with unknown durations and across groups.
final class NearDuplicatesTests: XCTestCase {
    struct Library {
        var vectors: [Float] = []
        var durations: [Double?] = []
        var groups: [Int64] = []
        var count: Int { durations.count }
    }

    /// `n` random unit vectors; every 7th row is a slightly disturbed copy of an earlier one
    /// (a duplicate), some with a duration off by more than the tolerance, some of unknown duration.
    func makeLibrary(n: Int, dimension d: Int, seed: UInt64) -> Library {
        var generator = SeededGenerator(seed: seed)
        func unit(_ values: [Float]) -> [Float] {
            let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return values.map { $0 / norm }
        }
        var library = Library()
        for row in 0..<n {
            let vector: [Float]
            var duration: Double? = Double(generator.next() % 400) / 2 + 60
            if row % 7 == 6 {
                let source = Int(generator.next() % UInt64(row))
                let base = Array(library.vectors[(source * d)..<((source + 1) * d)])
                vector = unit(base.map { $0 + Float(Int(generator.next() % 200) - 100) / 100_000 })
                duration = library.durations[source].map { $0 + (row % 3 == 0 ? 5 : 0.4) }
            } else {
                vector = unit((0..<d).map { _ in Float(Int(generator.next() % 2001) - 1000) / 1000 })
            }
            library.vectors += vector
            library.durations.append(row % 11 == 10 ? nil : duration)
            library.groups.append(row % 13 == 12 ? 2 : 1)
        }
        return library
    }

    func bruteForce(_ library: Library, dimension d: Int, threshold: Float, tolerance: Double) -> [NearDuplicates.Pair] {
        var pairs: [NearDuplicates.Pair] = []
        for a in 0..<library.count {
            for b in (a + 1)..<library.count where library.groups[a] == library.groups[b] {
                if let x = library.durations[a], let y = library.durations[b], abs(x - y) > tolerance { continue }
                var dot: Float = 0
                for j in 0..<d { dot += library.vectors[a * d + j] * library.vectors[b * d + j] }
                if dot >= threshold { pairs.append(.init(a: a, b: b, score: min(1, dot))) }
            }
        }
        return pairs
    }

    func testBlockedSearchEqualsBruteForce() throws {
        let d = 32
        let library = makeLibrary(n: 700, dimension: d, seed: 9)
        let expected = bruteForce(library, dimension: d, threshold: 0.99, tolerance: 1)
        XCTAssertGreaterThan(expected.count, 20, "the library has planted duplicates")
        for block in [1, 7, 64, 512] {
            let found = try NearDuplicates.pairs(library.vectors, count: library.count, dimension: d, durations: library.durations,
                                                 groups: library.groups, threshold: 0.99, durationTolerance: 1, blockSize: block)
            XCTAssertEqual(found.map { [$0.a, $0.b] }, expected.map { [$0.a, $0.b] }, "block \(block)")
            for (f, e) in zip(found, expected) { XCTAssertEqual(f.score, e.score, accuracy: 1e-4) }
        }
    }

    func testComponentsJoinChainsAndLeaveSinglesOut() {
        let pairs = [NearDuplicates.Pair(a: 0, b: 3, score: 1), .init(a: 3, b: 5, score: 1), .init(a: 2, b: 4, score: 1)]
        XCTAssertEqual(NearDuplicates.components(pairs, count: 7), [[0, 3, 5], [2, 4]])
        XCTAssertEqual(NearDuplicates.components([], count: 3), [])
    }

    func testBadArgumentsAreErrors() {
        XCTAssertThrowsError(try NearDuplicates.pairs([1, 0], count: 2, dimension: 2, durations: [nil, nil], groups: [1, 1],
                                                      threshold: 0.9, durationTolerance: 1))
        XCTAssertThrowsError(try NearDuplicates.pairs([1, 0], count: 1, dimension: 2, durations: [nil], groups: [1],
                                                      threshold: 2, durationTolerance: 1))
        XCTAssertThrowsError(try NearDuplicates.pairs([1, 0], count: 1, dimension: 2, durations: [nil], groups: [1],
                                                      threshold: 0.9, durationTolerance: -1))
    }
}
