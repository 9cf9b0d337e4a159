import COpenBLAS
import Foundation

/// Points grouped around `k` centroids.
public struct Clustering: Sendable, Equatable {
    public var k: Int
    public var dimension: Int
    /// `k × dimension`, row-major.
    public var centroids: [Float]
    /// The cluster of each point, in 0..<k.
    public var assignments: [Int]
    /// Sum of squared Euclidean distances from each point to its centroid.
    public var inertia: Double
    /// Lloyd iterations run.
    public var iterations: Int

    /// Points in each cluster.
    public var sizes: [Int] {
        var sizes = [Int](repeating: 0, count: k)
        for a in assignments { sizes[a] += 1 }
        return sizes
    }

    public func centroid(_ c: Int) -> [Float] { Array(centroids[(c * dimension)..<((c + 1) * dimension)]) }
}

/// k-means on float vectors (for track embeddings: unit length, so Euclidean k-means groups by
/// cosine). `lloyd` is scikit-learn's `KMeans(init=…, n_init=1, algorithm="lloyd")`: assign
/// each point to its nearest centroid (distances as ‖c‖² − 2·x·c through one `cblas_sgemm`),
/// move each centroid to its points' mean, stop when no assignment changes or the centroids
/// move less than `tolerance × mean per-feature variance` (summed squared shifts), then assign
/// once more so labels match the final centroids. A cluster left empty takes the point farthest
/// from its centroid (scikit-learn relocates the same way). `cluster` seeds with greedy
/// k-means++ (Arthur & Vassilvitskii 2007; 2 + ⌊ln k⌋ candidates per centre, as scikit-learn)
/// and keeps the best of `restarts` runs. Golden-tested against scikit-learn 1.9
/// (`tools/golden/make_similarity_fixtures.py`).
public enum KMeans {
    public static func cluster(_ points: [Float], count: Int, dimension: Int, k: Int, restarts: Int = 4,
                               maxIterations: Int = 300, tolerance: Double = 1e-4,
                               using generator: inout some RandomNumberGenerator) throws(SimilarityError) -> Clustering {
        try check(points, count: count, dimension: dimension, k: k)
        var best: Clustering?
        for _ in 0..<max(1, restarts) {
            let seeds = plusPlusSeeds(points, count: count, dimension: dimension, k: k, using: &generator)
            let run = try lloyd(points, count: count, dimension: dimension, initial: seeds,
                                maxIterations: maxIterations, tolerance: tolerance)
            if best == nil || run.inertia < best!.inertia { best = run }
        }
        return best!
    }

    public static func lloyd(_ points: [Float], count n: Int, dimension d: Int, initial: [Float],
                             maxIterations: Int = 300, tolerance: Double = 1e-4) throws(SimilarityError) -> Clustering {
        guard d > 0, initial.count % d == 0, !initial.isEmpty else {
            throw .invalidArgument("the initial centroids must be k × \(d) values, got \(initial.count)")
        }
        let k = initial.count / d
        try check(points, count: n, dimension: d, k: k)
        guard initial.allSatisfy(\.isFinite) else { throw .invalidArgument("the initial centroids hold NaN or infinite values") }
        let threshold = tolerance * meanVariance(points, count: n, dimension: d)
        var centroids = initial
        let norms = squaredNorms(points, count: n, dimension: d)
        var labels = [Int](repeating: -1, count: n)
        var distances = [Float](repeating: 0, count: n)
        var iterations = 0
        var converged = false
        while iterations < max(1, maxIterations) {
            iterations += 1
            let previous = labels
            assign(points, norms: norms, count: n, dimension: d, centroids: centroids, k: k, labels: &labels, distances: &distances)
            let moved = update(points, count: n, dimension: d, k: k, labels: &labels, distances: distances)
            var shift = 0.0
            for i in 0..<(k * d) { let delta = Double(moved[i]) - Double(centroids[i]); shift += delta * delta }
            centroids = moved
            if labels == previous { converged = true; break }
            if shift <= threshold { break }
        }
        if !converged {
            assign(points, norms: norms, count: n, dimension: d, centroids: centroids, k: k, labels: &labels, distances: &distances)
        }
        var inertia = 0.0
        for p in 0..<n {
            var sum = 0.0
            for j in 0..<d { let delta = Double(points[p * d + j]) - Double(centroids[labels[p] * d + j]); sum += delta * delta }
            inertia += sum
        }
        return Clustering(k: k, dimension: d, centroids: centroids, assignments: labels, inertia: inertia, iterations: iterations)
    }

    /// Greedy k-means++: the first centre uniformly, then each next one the best (lowest total
    /// squared distance) of 2 + ⌊ln k⌋ candidates drawn with probability ∝ squared distance to
    /// the nearest centre so far.
    public static func plusPlusSeeds(_ points: [Float], count n: Int, dimension d: Int, k: Int,
                                     using generator: inout some RandomNumberGenerator) -> [Float] {
        func squaredDistance(_ p: Int, _ q: Int) -> Double {
            var sum = 0.0
            for j in 0..<d { let delta = Double(points[p * d + j]) - Double(points[q * d + j]); sum += delta * delta }
            return sum
        }
        let trials = 2 + Int(log(Double(k)))
        var chosen = [Int.random(in: 0..<n, using: &generator)]
        var closest = (0..<n).map { squaredDistance($0, chosen[0]) }
        while chosen.count < k {
            let total = closest.reduce(0, +)
            var bestCandidate = -1
            var bestPotential = Double.infinity
            var bestClosest: [Double] = []
            for _ in 0..<trials {
                // Sample ∝ squared distance; all points coincide with centres → uniform.
                var candidate = Int.random(in: 0..<n, using: &generator)
                if total > 0 {
                    var target = Double.random(in: 0..<total, using: &generator)
                    for p in 0..<n {
                        target -= closest[p]
                        if target < 0 { candidate = p; break }
                    }
                }
                let updated = (0..<n).map { min(closest[$0], squaredDistance($0, candidate)) }
                let potential = updated.reduce(0, +)
                if potential < bestPotential {
                    bestPotential = potential; bestCandidate = candidate; bestClosest = updated
                }
            }
            chosen.append(bestCandidate)
            closest = bestClosest
        }
        return chosen.flatMap { Array(points[($0 * d)..<(($0 + 1) * d)]) }
    }

    static func check(_ points: [Float], count n: Int, dimension d: Int, k: Int) throws(SimilarityError) {
        guard d > 0, n > 0, points.count == n * d else {
            throw .invalidArgument("expected \(n) points of \(d) values (\(n * d) in all), got \(points.count)")
        }
        guard k >= 1, k <= n else { throw .invalidArgument("k must be between 1 and the number of points (\(n)), got \(k)") }
        guard points.allSatisfy(\.isFinite) else { throw .invalidArgument("the points hold NaN or infinite values") }
    }

    /// Mean over features of each feature's (population) variance: scikit-learn's tolerance scale.
    static func meanVariance(_ points: [Float], count n: Int, dimension d: Int) -> Double {
        var sums = [Double](repeating: 0, count: d), squares = [Double](repeating: 0, count: d)
        points.withUnsafeBufferPointer { x in
            for p in 0..<n {
                for j in 0..<d {
                    let v = Double(x[p * d + j])
                    sums[j] += v
                    squares[j] += v * v
                }
            }
        }
        var total = 0.0
        for j in 0..<d {
            let mean = sums[j] / Double(n)
            total += max(0, squares[j] / Double(n) - mean * mean)
        }
        return total / Double(d)
    }

    /// Nearest centroid of each point, and its squared distance.
    static func squaredNorms(_ points: [Float], count n: Int, dimension d: Int) -> [Float] {
        points.withUnsafeBufferPointer { x in
            (0..<n).map { p in
                var sum: Float = 0
                for j in 0..<d { sum += x[p * d + j] * x[p * d + j] }
                return sum
            }
        }
    }

    static func assign(_ points: [Float], norms pointNorms: [Float], count n: Int, dimension d: Int, centroids: [Float], k: Int,
                       labels: inout [Int], distances: inout [Float]) {
        let norms = squaredNorms(centroids, count: k, dimension: d)
        // Rows of points at a time, so the product stays small for large libraries.
        let block = 4096
        var products = [Float](repeating: 0, count: min(block, n) * k)
        for start in stride(from: 0, to: n, by: block) {
            let rows = min(block, n - start)
            points.withUnsafeBufferPointer { x in
                centroids.withUnsafeBufferPointer { c in
                    products.withUnsafeMutableBufferPointer { out in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(k), Int32(d), 1,
                                    x.baseAddress! + start * d, Int32(d), c.baseAddress, Int32(d), 0, out.baseAddress, Int32(k))
                    }
                }
            }
            for r in 0..<rows {
                var best = 0
                var bestValue = Float.infinity
                for c in 0..<k {
                    let value = norms[c] - 2 * products[r * k + c]
                    if value < bestValue { bestValue = value; best = c }
                }
                let p = start + r
                labels[p] = best
                distances[p] = max(0, pointNorms[p] + bestValue)
            }
        }
    }

    /// Centroids as the means of their points; an empty cluster takes the point farthest from
    /// its centroid (among clusters that keep at least one), which changes that point's label.
    static func update(_ points: [Float], count n: Int, dimension d: Int, k: Int,
                       labels: inout [Int], distances: [Float]) -> [Float] {
        var counts = [Int](repeating: 0, count: k)
        for label in labels { counts[label] += 1 }
        let empty = (0..<k).filter { counts[$0] == 0 }
        if !empty.isEmpty {
            let farthest = (0..<n).sorted { distances[$0] != distances[$1] ? distances[$0] > distances[$1] : $0 < $1 }
            var next = 0
            for cluster in empty {
                while next < n && counts[labels[farthest[next]]] <= 1 { next += 1 }
                guard next < n else { break }
                let p = farthest[next]
                counts[labels[p]] -= 1
                labels[p] = cluster
                counts[cluster] = 1
                next += 1
            }
        }
        var sums = [Double](repeating: 0, count: k * d)
        points.withUnsafeBufferPointer { x in
            sums.withUnsafeMutableBufferPointer { sum in
                for p in 0..<n {
                    let row = sum.baseAddress! + labels[p] * d, point = x.baseAddress! + p * d
                    for j in 0..<d { row[j] += Double(point[j]) }
                }
            }
        }
        var centroids = [Float](repeating: 0, count: k * d)
        for c in 0..<k where counts[c] > 0 {
            for j in 0..<d { centroids[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
        }
        return centroids
    }
}
