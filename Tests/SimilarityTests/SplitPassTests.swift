import SeededRandom
import XCTest
@testable import Similarity

/// k-means and PCA split their passes across workers, sum in float over windows of rows and
/// move the sums into double precision: the same answers for any split, and the answers of a
/// plain double-precision computation, on inputs larger than a window (the golden fixtures are
/// a few hundred points, one window, and run on one worker by default).
final class SplitPassTests: XCTestCase {
    /// `k` Gaussian blobs in `d` dimensions, far apart (so no point is near a tie), around an
    /// offset that makes the mean matter.
    func blobs(count n: Int, dimension d: Int, k: Int, seed: UInt64) -> [Float] {
        var generator = Xoshiro256StarStar(seed: seed)
        let centres = (0..<(k * d)).map { _ in Float.random(in: -8...8, using: &generator) }
        var points = [Float](repeating: 0, count: n * d)
        for p in 0..<n {
            let c = p % k
            for j in 0..<d { points[p * d + j] = 5 + centres[c * d + j] + Float.random(in: -1...1, using: &generator) }
        }
        return points
    }

    func testLloydIsTheSameForEverySplitAndMatchesDoubleSums() throws {
        let n = 10_007, d = 12, k = 5
        let points = blobs(count: n, dimension: d, k: k, seed: 7)
        let initial = Array(points[0..<(k * d)])
        let one = try KMeans.lloyd(points, count: n, dimension: d, initial: initial, maxIterations: 300, tolerance: 1e-4, workers: 1)
        for workers in [2, 3, 8] {
            let split = try KMeans.lloyd(points, count: n, dimension: d, initial: initial, maxIterations: 300, tolerance: 1e-4,
                                         workers: workers)
            XCTAssertEqual(split.assignments, one.assignments, "\(workers) workers")
            XCTAssertEqual(split.iterations, one.iterations, "\(workers) workers")
            XCTAssertEqual(split.inertia, one.inertia, accuracy: 1e-9 * one.inertia, "\(workers) workers")
            for (a, b) in zip(split.centroids, one.centroids) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(workers) workers") }
        }
        // Each centroid is its points' mean, and the inertia their squared distances, in double.
        var sums = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
        var inertia = 0.0
        for p in 0..<n {
            let c = one.assignments[p]
            counts[c] += 1
            for j in 0..<d { sums[c * d + j] += Double(points[p * d + j]) }
        }
        XCTAssertEqual(Set(one.assignments).count, k)
        for p in 0..<n {
            let c = one.assignments[p]
            for j in 0..<d {
                let delta = Double(points[p * d + j]) - Double(one.centroids[c * d + j])
                inertia += delta * delta
            }
        }
        for c in 0..<k {
            for j in 0..<d { XCTAssertEqual(Double(one.centroids[c * d + j]), sums[c * d + j] / Double(counts[c]), accuracy: 1e-5) }
        }
        XCTAssertEqual(one.inertia, inertia, accuracy: 1e-6 * inertia)
    }

    func testPrincipalComponentsAreTheSameForEverySplitAndMatchDoubleCovariance() throws {
        let n = 9_001, d = 10
        let points = blobs(count: n, dimension: d, k: 4, seed: 11)
        let one = try PrincipalComponents(points, count: n, dimension: d, components: 3, workers: 1)
        let projected = try one.project(points, count: n, workers: 1)
        for workers in [2, 3, 8] {
            let split = try PrincipalComponents(points, count: n, dimension: d, components: 3, workers: workers)
            for (a, b) in zip(split.axes, one.axes) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(workers) workers") }
            // Float sums over windows that hold other rows under another split: float-level changes.
            for (a, b) in zip(split.explainedVarianceRatio, one.explainedVarianceRatio) { XCTAssertEqual(a, b, accuracy: 1e-6) }
            for (a, b) in zip(try one.project(points, count: n, workers: workers), projected) {
                XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b)), "\(workers) workers")
            }
        }
        // The covariance and its eigenvectors in double precision from the start.
        var mean = [Double](repeating: 0, count: d)
        for p in 0..<n { for j in 0..<d { mean[j] += Double(points[p * d + j]) / Double(n) } }
        var covariance = [Double](repeating: 0, count: d * d)
        for p in 0..<n {
            for i in 0..<d {
                let a = Double(points[p * d + i]) - mean[i]
                for j in i..<d { covariance[i * d + j] += a * (Double(points[p * d + j]) - mean[j]) }
            }
        }
        let total = (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] }
        let (values, vectors) = try PrincipalComponents.topEigenpairs(&covariance, dimension: d, count: 3)
        for c in 0..<3 {
            let i = 2 - c
            XCTAssertEqual(one.explainedVarianceRatio[c], values[i] / total, accuracy: 1e-6)
            // Same axis up to its sign.
            let dot = (0..<d).reduce(0.0) { $0 + Double(one.axes[c * d + $1]) * vectors[i * d + $1] }
            XCTAssertEqual(abs(dot), 1, accuracy: 1e-5)
            for p in stride(from: 0, to: n, by: 97) {
                let expected = (0..<d).reduce(0.0) { $0 + (Double(points[p * d + $1]) - mean[$1]) * vectors[i * d + $1] }
                XCTAssertEqual(Double(projected[p * 3 + c]), dot.sign == .minus ? -expected : expected, accuracy: 1e-4)
            }
        }
    }

    /// The finite check rides on the column sums: a NaN or infinity in any row, any worker's
    /// part, is still refused, and huge but finite values are not mistaken for one.
    func testNaNAndInfinityAreRefusedAtAnySplit() throws {
        let n = 6_000, d = 4
        var points = blobs(count: n, dimension: d, k: 2, seed: 3)
        let initial = Array(points[0..<(2 * d)])
        for bad: Float in [.nan, .infinity, -.infinity] {
            for row in [0, n / 2, n - 1] {
                var broken = points
                broken[row * d + 1] = bad
                for workers in [1, 3] {
                    XCTAssertThrowsError(try KMeans.lloyd(broken, count: n, dimension: d, initial: initial, maxIterations: 10,
                                                          tolerance: 1e-4, workers: workers)) {
                        XCTAssertTrue("\($0)".contains("NaN or infinite"), "\($0)")
                    }
                    XCTAssertThrowsError(try PrincipalComponents(broken, count: n, dimension: d, components: 2, workers: workers)) {
                        XCTAssertTrue("\($0)".contains("NaN or infinite"), "\($0)")
                    }
                }
            }
        }
        // Float sums of these overflow; the values themselves are finite.
        for p in 0..<n { points[p * d] = p % 2 == 0 ? 3e38 : 2.9e38 }
        XCTAssertNoThrow(try KMeans.lloyd(points, count: n, dimension: d, initial: initial, maxIterations: 10, tolerance: 1e-4,
                                          workers: 2))
        // (Their squares overflow the float covariance: the eigensolver's error, not "NaN".)
        XCTAssertThrowsError(try PrincipalComponents(points, count: n, dimension: d, components: 1, workers: 2)) {
            XCTAssertFalse("\($0)".contains("NaN or infinite"), "\($0)")
        }
    }

    /// Unit vectors around `directions` directions with heavy noise, like track embeddings: the
    /// clusters overlap, so Lloyd takes many iterations and many points sit near a boundary.
    func embeddings(count n: Int, dimension d: Int, directions: Int, seed: UInt64) -> [Float] {
        var generator = Xoshiro256StarStar(seed: seed)
        let axes = (0..<(directions * d)).map { _ in Float.random(in: -1...1, using: &generator) }
        var points = [Float](repeating: 0, count: n * d)
        for p in 0..<n {
            let a = Int.random(in: 0..<directions, using: &generator)
            var norm: Float = 0
            for j in 0..<d {
                points[p * d + j] = axes[a * d + j] + 1.5 * Float.random(in: -1...1, using: &generator)
                norm += points[p * d + j] * points[p * d + j]
            }
            for j in 0..<d { points[p * d + j] /= norm.squareRoot() }
        }
        return points
    }

    /// The bounds only skip points whose products would have kept their label: the same
    /// clustering, bit for bit, as multiplying every point every time.
    func testBoundsChangeNothing() throws {
        let n = 6_000, d = 24, k = 12
        let points = embeddings(count: n, dimension: d, directions: 8, seed: 5)
        let initial = Array(points[0..<(k * d)])
        // Two centroids far from every point: their clusters start empty and take points.
        let far = initial + [Float](repeating: 10, count: d) + [Float](repeating: -10, count: d)
        for (start, tolerance) in [(initial, 1e-4), (initial, 0.05), (far, 1e-4)] {
            for workers in [1, 3] {
                let (plain, every) = try KMeans.lloydCounting(points, count: n, dimension: d, initial: start, maxIterations: 300,
                                                              tolerance: tolerance, workers: workers, pruning: false)
                let (bounded, some) = try KMeans.lloydCounting(points, count: n, dimension: d, initial: start, maxIterations: 300,
                                                               tolerance: tolerance, workers: workers, pruning: true)
                let name = "tolerance \(tolerance), \(start.count / d) centroids, \(workers) workers"
                XCTAssertGreaterThan(plain.iterations, 5, name)
                XCTAssertEqual(Set(plain.assignments).count, start.count / d, name)
                XCTAssertEqual(bounded, plain, name)
                // The bounds did skip points (a good part of them, on this data).
                XCTAssertGreaterThanOrEqual(every, n * (start.count / d) * plain.iterations, name)
                XCTAssertLessThan(some, every * 3 / 4, name)
            }
        }
    }
}
