import XCTest
@testable import Tagger

final class RetrievalMetricsTests: XCTestCase {
    /// Two tight groups far apart: every neighbour within k = group size − 1 is from the own group.
    func testSeparatedGroupsScoreOne() throws {
        let vectors: [[Float]] = [[1, 0.1], [1, 0.0], [0.9, 0.05], [0, 1], [0.1, 1], [0.05, 0.9]]
        let groups = ["a", "a", "a", "b", "b", "b"]
        XCTAssertEqual(try XCTUnwrap(RetrievalMetrics.precisionAtK(vectors: vectors, groups: groups, k: 2)), 1, accuracy: 1e-12)
        // k = 3 must take one track of the other group for each: 2/3.
        XCTAssertEqual(try XCTUnwrap(RetrievalMetrics.precisionAtK(vectors: vectors, groups: groups, k: 3)), 2.0 / 3, accuracy: 1e-12)
    }

    /// Cosine, not Euclidean: scaling a vector does not move it.
    func testScaleDoesNotMatterAndZeroVectorsAreFar() throws {
        let vectors: [[Float]] = [[1, 0], [100, 1], [0, 1], [0, 0]]
        let groups = ["a", "a", "b", "b"]
        let perTrack = try XCTUnwrap(RetrievalMetrics.precisionAtKPerTrack(vectors: vectors, groups: groups, k: 1))
        // Track 0's nearest is track 1 (same direction) despite the length; track 2's nearest is
        // track 1 (cosine 0.01 against 0 for track 0 and −1 for the zero vector); the zero vector
        // ties everything at −1 and takes the lowest index (track 0, group a).
        XCTAssertEqual(perTrack, [1, 1, 0, 0])
    }

    /// A track alone in its group is not scored; nothing to score gives nil.
    func testSingletonGroupsAreSkipped() throws {
        let perTrack = try XCTUnwrap(RetrievalMetrics.precisionAtKPerTrack(vectors: [[1, 0], [1, 0.1], [0, 1]], groups: ["a", "a", "c"], k: 1))
        XCTAssertEqual(perTrack, [1, 1])
        XCTAssertNil(RetrievalMetrics.precisionAtK(vectors: [[1, 0], [0, 1]], groups: ["a", "b"], k: 1))
    }

    /// Against a brute force in Double on random vectors: the share of the k most similar in the group.
    func testMatchesBruteForceOnRandomData() throws {
        var rng = SystemRandomNumberGenerator()
        let n = 40, d = 8
        let vectors = (0..<n).map { _ in (0..<d).map { _ in Float.random(in: -1...1, using: &rng) } }
        let groups = (0..<n).map { "g\($0 % 5)" }
        let got = try XCTUnwrap(RetrievalMetrics.precisionAtK(vectors: vectors, groups: groups, k: 5))
        var expected = 0.0
        for i in 0..<n {
            let norm = { (v: [Float]) in v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
            let sims = (0..<n).filter { $0 != i }.map { j -> (Double, Int) in
                (zip(vectors[i], vectors[j]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / (norm(vectors[i]) * norm(vectors[j])), j)
            }.sorted { $0.0 > $1.0 }
            expected += Double(sims.prefix(5).filter { groups[$0.1] == groups[i] }.count) / 5
        }
        XCTAssertEqual(got, expected / Double(n), accuracy: 1e-9)
    }

    func testStandardisedHasZeroMeanUnitVariance() {
        let s = RetrievalMetrics.standardised([[1, 5, 2], [3, 5, 4], [5, 5, 9]])
        for j in 0..<3 {
            let column = s.map { Double($0[j]) }
            let mean = column.reduce(0, +) / 3
            XCTAssertEqual(mean, 0, accuracy: 1e-6)
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 3
            XCTAssertEqual(variance, j == 1 ? 0 : 1, accuracy: 1e-5)  // a constant column becomes 0
        }
    }

    /// Groups are the first-level folders; files directly in the root are not tracks.
    func testTracksAreGroupedByFirstLevelFolder() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("retrieval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        for path in ["a/x.wav", "a/sub/y.flac", "b/z.ogg", "top.wav", "b/notes.txt"] {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data().write(to: url)
        }
        let tracks = try RetrievalEvaluation.tracks(under: root.path)
        XCTAssertEqual(tracks.map(\.path), ["a/sub/y.flac", "a/x.wav", "b/z.ogg"])
        XCTAssertEqual(tracks.map(\.group), ["a", "a", "b"])
    }
}
