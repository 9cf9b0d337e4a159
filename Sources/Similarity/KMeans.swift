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
/// shifts), then assign once more so labels match the final centroids. Each pass is split
/// across the cores (`RowPasses`, one BLAS thread per worker), and skips the points that
/// cannot change cluster: Hamerly's bounds (2010), an upper one on the distance to the
/// point's centroid and a lower one on the distance to any other, move with the centroids, and
/// a point whose bounds are apart by more than the float error of its products keeps its label
/// unmultiplied; the labels, and so everything else, are those of plain Lloyd. The clusters'
/// sums are kept in double precision and change only by the points that change cluster.
/// A cluster left empty takes the point farthest
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

    /// `lloyd` with its passes split across `workers`, and without the bounds when not
    /// `pruning` (tests compare both).
    static func lloyd(_ points: [Float], count n: Int, dimension d: Int, initial: [Float],
                      maxIterations: Int, tolerance: Double, workers: Int, pruning: Bool = true) throws(SimilarityError) -> Clustering {
        try lloydCounting(points, count: n, dimension: d, initial: initial, maxIterations: maxIterations, tolerance: tolerance,
                          workers: workers, pruning: pruning).clustering
    }

    /// `lloyd`, and how many point-centroid products it computed.
    static func lloydCounting(_ points: [Float], count n: Int, dimension d: Int, initial: [Float], maxIterations: Int,
                              tolerance: Double, workers requested: Int, pruning: Bool) throws(SimilarityError)
        -> (clustering: Clustering, multiplied: Int) {
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
        var state = LloydState(count: n, k: k, dimension: d)
        var iterations = 0
        var converged = false
        RowPasses.withOneBLASThread {
            while iterations < max(1, maxIterations) {
                iterations += 1
                let previous = state.labels
                assign(points, norms: norms, count: n, dimension: d, centroids: centroids, k: k, state: &state,
                       workers: workers, summing: true, pruning: pruning)
                let moved = update(points, count: n, dimension: d, k: k, centroids: centroids, state: &state)
                var shift = 0.0
                for c in 0..<k {
                    var moves = 0.0
                    for j in 0..<d { let delta = Double(moved[c * d + j]) - Double(centroids[c * d + j]); moves += delta * delta }
                    shift += moves
                    state.shifts[c] = moves.squareRoot()
                }
                centroids = moved
                if state.labels == previous { converged = true; break }
                if shift <= threshold { break }
            }
            if !converged {
                assign(points, norms: norms, count: n, dimension: d, centroids: centroids, k: k, state: &state,
                       workers: workers, summing: false, pruning: pruning)
            }
        }
        let labels = state.labels
        let inertia = self.inertia(points, count: n, dimension: d, centroids: centroids, labels: labels, workers: workers)
        return (Clustering(k: k, dimension: d, centroids: centroids, assignments: labels, inertia: inertia, iterations: iterations),
                state.multiplied)
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

    /// Centroids as the means of their points (`state.sums`, `state.counts` from `assign`); an
    /// empty cluster takes the point farthest from its centroid (among clusters that keep at
    /// least one), which changes that point's label and moves it between the sums.
    static func update(_ points: [Float], count n: Int, dimension d: Int, k: Int, centroids old: [Float],
                       state: inout LloydState) -> [Float] {
        let empty = (0..<k).filter { state.counts[$0] == 0 }
        if !empty.isEmpty {
            // Each point's squared distance to the centroid it was assigned (the pass skips
            // some points, so they are computed here, where they are needed).
            let distances = points.withUnsafeBufferPointer { x in
                old.withUnsafeBufferPointer { c in
                    (0..<n).map { squaredDistance(x.baseAddress! + $0 * d, c.baseAddress! + state.labels[$0] * d, count: d) }
                }
            }
            let farthest = (0..<n).sorted { distances[$0] != distances[$1] ? distances[$0] > distances[$1] : $0 < $1 }
            var next = 0
            for cluster in empty {
                while next < n && state.counts[state.labels[farthest[next]]] <= 1 { next += 1 }
                guard next < n else { break }
                let p = farthest[next], from = state.labels[p]
                state.counts[from] -= 1
                state.labels[p] = cluster
                state.counts[cluster] = 1
                state.upper[p] = .infinity
                for j in 0..<d {
                    let v = Double(points[p * d + j])
                    state.sums[from * d + j] -= v
                    state.sums[cluster * d + j] = v
                }
                next += 1
            }
        }
        var centroids = [Float](repeating: 0, count: k * d)
        for c in 0..<k where state.counts[c] > 0 {
            for j in 0..<d { centroids[c * d + j] = Float(state.sums[c * d + j] / Double(state.counts[c])) }
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
