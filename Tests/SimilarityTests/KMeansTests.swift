import Features
import XCTest
@testable import Similarity

final class KMeansTests: XCTestCase {
    /// `k` tight, well-apart groups of unit vectors; the group of each point.
    func groups(k: Int, perGroup: Int, dimension: Int, seed: UInt64) -> (points: [Float], truth: [Int]) {
        var generator = Xoshiro256StarStar(seed: seed)
        var points: [Float] = [], truth: [Int] = []
        for g in 0..<k {
            for _ in 0..<perGroup {
                var v = (0..<dimension).map { j in Float(j % k == g ? 1 : 0) + Float.random(in: -0.15...0.15, using: &generator) }
                let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                v = v.map { $0 / norm }
                points += v
                truth.append(g)
            }
        }
        return (points, truth)
    }

    func testPlusPlusFindsSeparatedGroupsAndIsDeterministic() throws {
        let (points, truth) = groups(k: 6, perGroup: 40, dimension: 32, seed: 1)
        var generator = Xoshiro256StarStar(seed: 42)
        let result = try KMeans.cluster(points, count: truth.count, dimension: 32, k: 6, using: &generator)
        // Same grouping as the truth, up to the clusters' numbering.
        var mapping: [Int: Int] = [:]
        for (label, group) in zip(result.assignments, truth) {
            XCTAssertEqual(mapping[group, default: label], label, "group \(group) split across clusters")
            mapping[group] = label
        }
        XCTAssertEqual(Set(mapping.values).count, 6)
        XCTAssertEqual(result.sizes, [Int](repeating: 40, count: 6))
        var again = Xoshiro256StarStar(seed: 42)
        XCTAssertEqual(try KMeans.cluster(points, count: truth.count, dimension: 32, k: 6, using: &again), result)
    }

    func testEmptyClusterTakesTheFarthestPoint() throws {
        // Two initial centroids far from every point: one cluster would be empty.
        let points: [Float] = [0, 0, 0.1, 0, 0, 0.1, 10, 10]
        let result = try KMeans.lloyd(points, count: 4, dimension: 2, initial: [0, 0, 100, 100, 200, 200])
        XCTAssertEqual(Set(result.assignments).count, 3, "no cluster is left empty")
        XCTAssertEqual(result.sizes.reduce(0, +), 4)
    }

    func testBadInputIsRefused() {
        var generator = Xoshiro256StarStar(seed: 1)
        XCTAssertThrowsError(try KMeans.cluster([1, 2, 3], count: 2, dimension: 2, k: 1, using: &generator))
        XCTAssertThrowsError(try KMeans.cluster([1, 2, 3, 4], count: 2, dimension: 2, k: 3, using: &generator)) {
            XCTAssertTrue("\($0)".contains("k must be"))
        }
        XCTAssertThrowsError(try KMeans.cluster([1, .nan, 3, 4], count: 2, dimension: 2, k: 1, using: &generator))
        XCTAssertThrowsError(try PrincipalComponents([1, 2], count: 1, dimension: 2))
        XCTAssertThrowsError(try PrincipalComponents([1, 2, 3, 4], count: 2, dimension: 2, components: 3))
    }
}
