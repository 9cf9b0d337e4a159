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
/// each point to its nearest centroid (distances as ‖c‖² − 2·x·c through a `cblas_sgemm` per
/// block of 256 points), move each centroid to its points' mean, stop when no assignment changes
/// or the centroids move less than `tolerance × mean per-feature variance` (summed squared
/// shifts), then assign once more so labels match the final centroids. As in scikit-learn, the
/// assignment and the sums for the means are one pass: each block's points are added to their
/// clusters' sums while the block is in cache, and the pass is split across the cores
/// (`RowPasses`, one BLAS thread per worker). A cluster left empty takes the point farthest
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
        try lloyd(points, count: n, dimension: d, initial: initial, maxIterations: maxIterations, tolerance: tolerance,
                  workers: RowPasses.workers(rows: n))
    }

    /// `lloyd` with its passes split across `workers` (tests compare splits).
    static func lloyd(_ points: [Float], count n: Int, dimension d: Int, initial: [Float],
                      maxIterations: Int, tolerance: Double, workers requested: Int) throws(SimilarityError) -> Clustering {
        guard d > 0, initial.count % d == 0, !initial.isEmpty else {
            throw .invalidArgument("the initial centroids must be k × \(d) values, got \(initial.count)")
        }
        let k = initial.count / d
        try checkShape(points, count: n, dimension: d, k: k)
        guard RowPasses.allFinite(initial) else { throw .invalidArgument("the initial centroids hold NaN or infinite values") }
        let workers = max(1, min(requested, n))
        guard let (norms, variance) = statistics(points, count: n, dimension: d, workers: workers) else {
            throw .invalidArgument("the points hold NaN or infinite values")
        }
        let threshold = tolerance * variance
        var centroids = initial
        var labels = [Int](repeating: -1, count: n)
        var distances = [Float](repeating: 0, count: n)
        var iterations = 0
        var converged = false
        RowPasses.withOneBLASThread {
            while iterations < max(1, maxIterations) {
                iterations += 1
                let previous = labels
                var (sums, counts) = assign(points, norms: norms, count: n, dimension: d, centroids: centroids, k: k,
                                            labels: &labels, distances: &distances, workers: workers, summing: true)
                let moved = update(points, count: n, dimension: d, k: k, labels: &labels, distances: distances,
                                   sums: &sums, counts: &counts)
                var shift = 0.0
                for i in 0..<(k * d) { let delta = Double(moved[i]) - Double(centroids[i]); shift += delta * delta }
                centroids = moved
                if labels == previous { converged = true; break }
                if shift <= threshold { break }
            }
            if !converged {
                _ = assign(points, norms: norms, count: n, dimension: d, centroids: centroids, k: k,
                           labels: &labels, distances: &distances, workers: workers, summing: false)
            }
        }
        let inertia = self.inertia(points, count: n, dimension: d, centroids: centroids, labels: labels, workers: workers)
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
        try checkShape(points, count: n, dimension: d, k: k)
        guard RowPasses.allFinite(points) else { throw .invalidArgument("the points hold NaN or infinite values") }
    }

    static func checkShape(_ points: [Float], count n: Int, dimension d: Int, k: Int) throws(SimilarityError) {
        guard d > 0, n > 0, points.count == n * d else {
            throw .invalidArgument("expected \(n) points of \(d) values (\(n * d) in all), got \(points.count)")
        }
        guard k >= 1, k <= n else { throw .invalidArgument("k must be between 1 and the number of points (\(n)), got \(k)") }
    }

    /// One pass before the iterations: each point's squared length, and the mean over features
    /// of each feature's (population) variance, scikit-learn's tolerance scale (column sums and
    /// sums of squares in double precision, one set per worker). Nil when a value is NaN or
    /// infinite: double sums of finite floats and of their squares cannot overflow, so they are
    /// finite exactly when every value is.
    static func statistics(_ points: [Float], count n: Int, dimension d: Int, workers: Int) -> (norms: [Float], meanVariance: Double)? {
        var partials = [Double](repeating: 0, count: workers * 2 * d)
        var norms = [Float](repeating: 0, count: n)
        points.withUnsafeBufferPointer { x in
            norms.withUnsafeMutableBufferPointer { norms in
                partials.withUnsafeMutableBufferPointer { out in
                    let pass = StatisticsBuffers(points: x.baseAddress!, norms: norms.baseAddress!, partials: out.baseAddress!)
                    RowPasses.forEachChunk(n, workers: workers) { w, range in
                        let sums = pass.partials + w * 2 * d, squares = sums + d
                        for p in range {
                            let row = pass.points + p * d
                            for j in 0..<d {
                                let v = Double(row[j])
                                sums[j] += v
                                squares[j] += v * v
                            }
                            pass.norms[p] = squaredNorm(row, count: d)
                        }
                    }
                }
            }
        }
        var total = 0.0
        for j in 0..<d {
            var sum = 0.0, square = 0.0
            for w in 0..<workers { sum += partials[w * 2 * d + j]; square += partials[w * 2 * d + d + j] }
            guard sum.isFinite, square.isFinite else { return nil }
            let mean = sum / Double(n)
            total += max(0, square / Double(n) - mean * mean)
        }
        return (norms, total / Double(d))
    }

    /// The squared length of each point.
    static func squaredNorms(_ points: [Float], count n: Int, dimension d: Int) -> [Float] {
        points.withUnsafeBufferPointer { x in
            (0..<n).map { squaredNorm(x.baseAddress! + $0 * d, count: d) }
        }
    }

    /// Rows a block of the assignment multiplies at once: the block stays in cache while its
    /// points are added to their clusters' sums.
    static let assignmentBlock = 256
    /// Points summed in single precision before the sums move to double precision.
    static let sumWindow = 4096

    /// Nearest centroid of each point and its squared distance, with ‖c‖² − 2·x·c from one
    /// `cblas_sgemm` per block of `assignmentBlock` points. When `summing`, also each cluster's
    /// point count and coordinate sums (for `update`): each worker adds its points to float sums
    /// over `sumWindow` points at a time, then into its double sums; the workers' sums are added
    /// in order. Call with OpenBLAS on one thread (each worker calls it).
    static func assign(_ points: [Float], norms pointNorms: [Float], count n: Int, dimension d: Int, centroids: [Float], k: Int,
                       labels: inout [Int], distances: inout [Float], workers: Int, summing: Bool) -> (sums: [Double], counts: [Int]) {
        let norms = squaredNorms(centroids, count: k, dimension: d)
        let block = min(assignmentBlock, n)
        var products = [Float](repeating: 0, count: workers * block * k)
        var window = [Float](repeating: 0, count: summing ? workers * k * d : 0)
        var sums = [Double](repeating: 0, count: summing ? workers * k * d : 0)
        var counts = [Int](repeating: 0, count: workers * k)
        points.withUnsafeBufferPointer { x in
            pointNorms.withUnsafeBufferPointer { xNorms in
                centroids.withUnsafeBufferPointer { c in
                    norms.withUnsafeBufferPointer { cNorms in
                        labels.withUnsafeMutableBufferPointer { labels in
                            distances.withUnsafeMutableBufferPointer { distances in
                                products.withUnsafeMutableBufferPointer { products in
                                    window.withUnsafeMutableBufferPointer { window in
                                        sums.withUnsafeMutableBufferPointer { sums in
                                            counts.withUnsafeMutableBufferPointer { counts in
                                                let pass = AssignmentBuffers(
                                                    points: x.baseAddress!, pointNorms: xNorms.baseAddress!, centroids: c.baseAddress!,
                                                    centroidNorms: cNorms.baseAddress!, labels: labels.baseAddress!,
                                                    distances: distances.baseAddress!, products: products.baseAddress!,
                                                    window: window.baseAddress, sums: sums.baseAddress, counts: counts.baseAddress!)
                                                RowPasses.forEachChunk(n, workers: workers) { w, range in
                                                    pass.run(range, worker: w, dimension: d, k: k, block: block, summing: summing)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard workers > 1 else { return (sums, counts) }
        for w in 1..<workers {
            for c in 0..<k { counts[c] += counts[w * k + c] }
            if summing { for i in 0..<(k * d) { sums[i] += sums[w * k * d + i] } }
        }
        return (Array(sums.prefix(summing ? k * d : 0)), Array(counts.prefix(k)))
    }

    /// Centroids as the means of their points (`sums`, `counts` from `assign`); an empty cluster
    /// takes the point farthest from its centroid (among clusters that keep at least one), which
    /// changes that point's label and moves it between the sums.
    static func update(_ points: [Float], count n: Int, dimension d: Int, k: Int,
                       labels: inout [Int], distances: [Float], sums: inout [Double], counts: inout [Int]) -> [Float] {
        let empty = (0..<k).filter { counts[$0] == 0 }
        if !empty.isEmpty {
            let farthest = (0..<n).sorted { distances[$0] != distances[$1] ? distances[$0] > distances[$1] : $0 < $1 }
            var next = 0
            for cluster in empty {
                while next < n && counts[labels[farthest[next]]] <= 1 { next += 1 }
                guard next < n else { break }
                let p = farthest[next], from = labels[p]
                counts[from] -= 1
                labels[p] = cluster
                counts[cluster] = 1
                for j in 0..<d {
                    let v = Double(points[p * d + j])
                    sums[from * d + j] -= v
                    sums[cluster * d + j] = v
                }
                next += 1
            }
        }
        var centroids = [Float](repeating: 0, count: k * d)
        for c in 0..<k where counts[c] > 0 {
            for j in 0..<d { centroids[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
        }
        return centroids
    }

    /// Σ ‖x − c(x)‖²: each point's in single precision, their sum in double.
    static func inertia(_ points: [Float], count n: Int, dimension d: Int, centroids: [Float], labels: [Int], workers: Int) -> Double {
        var partials = [Double](repeating: 0, count: workers)
        points.withUnsafeBufferPointer { x in
            centroids.withUnsafeBufferPointer { c in
                labels.withUnsafeBufferPointer { labels in
                    partials.withUnsafeMutableBufferPointer { out in
                        let pass = InertiaBuffers(points: x.baseAddress!, centroids: c.baseAddress!, labels: labels.baseAddress!,
                                                  partials: out.baseAddress!)
                        RowPasses.forEachChunk(n, workers: workers) { w, range in
                            var sum = 0.0
                            for p in range {
                                sum += Double(squaredDistance(pass.points + p * d, pass.centroids + pass.labels[p] * d, count: d))
                            }
                            pass.partials[w] = sum
                        }
                    }
                }
            }
        }
        return partials.reduce(0, +)
    }
}

/// What `KMeans.statistics` reads and writes: each worker its own rows of `norms` and its own
/// part of `partials`.
private struct StatisticsBuffers: @unchecked Sendable {
    let points: UnsafePointer<Float>
    let norms: UnsafeMutablePointer<Float>
    let partials: UnsafeMutablePointer<Double>
}

private struct InertiaBuffers: @unchecked Sendable {
    let points: UnsafePointer<Float>, centroids: UnsafePointer<Float>
    let labels: UnsafePointer<Int>
    let partials: UnsafeMutablePointer<Double>
}

/// What `KMeans.assign` reads and writes. Safe to share: each worker writes only its own rows of
/// `labels` and `distances` and its own part of `products`, `window`, `sums` and `counts`.
private struct AssignmentBuffers: @unchecked Sendable {
    let points: UnsafePointer<Float>, pointNorms: UnsafePointer<Float>
    let centroids: UnsafePointer<Float>, centroidNorms: UnsafePointer<Float>
    let labels: UnsafeMutablePointer<Int>, distances: UnsafeMutablePointer<Float>
    /// `block × k` per worker.
    let products: UnsafeMutablePointer<Float>
    /// `k × dimension` per worker, float and double; nil unless summing.
    let window: UnsafeMutablePointer<Float>?, sums: UnsafeMutablePointer<Double>?
    /// `k` per worker.
    let counts: UnsafeMutablePointer<Int>

    func run(_ range: Range<Int>, worker w: Int, dimension d: Int, k: Int, block: Int, summing: Bool) {
        let products = self.products + w * block * k, counts = self.counts + w * k
        let window = summing ? self.window! + w * k * d : nil, sums = summing ? self.sums! + w * k * d : nil
        var windowed = 0
        for start in stride(from: range.lowerBound, to: range.upperBound, by: block) {
            let rows = min(block, range.upperBound - start)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(k), Int32(d), 1,
                        points + start * d, Int32(d), centroids, Int32(d), 0, products, Int32(k))
            for r in 0..<rows {
                let scores = products + r * k
                var best = 0
                var bestValue = Float.infinity
                for c in 0..<k {
                    let value = centroidNorms[c] - 2 * scores[c]
                    if value < bestValue { bestValue = value; best = c }
                }
                let p = start + r
                labels[p] = best
                distances[p] = max(0, pointNorms[p] + bestValue)
                counts[best] += 1
                if let window { add(points + p * d, into: window + best * d, count: d) }
            }
            windowed += rows
            if let window, let sums, windowed >= KMeans.sumWindow || start + rows == range.upperBound {
                for i in 0..<(k * d) { sums[i] += Double(window[i]); window[i] = 0 }
                windowed = 0
            }
        }
    }
}
