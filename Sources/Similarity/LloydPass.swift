import COpenBLAS
import Foundation

/// Lloyd's assignment pass, with Hamerly's bounds: the part of `KMeans.lloyd` that touches
/// every point every iteration.
extension KMeans {
    /// Rows a block of the assignment multiplies at once.
    static let assignmentBlock = 256

    /// What the iterations carry from one to the next: each point's label and bounds, each
    /// cluster's size and coordinate sums, each centroid's last move.
    struct LloydState {
        var labels: [Int]
        /// Hamerly's bounds (2010): `upper` is at least the point's distance to its centroid,
        /// `lower` at most its distance to any other. After each update the first grows by its
        /// centroid's move and the second shrinks by the largest move of another.
        var upper: [Double], lower: [Double]
        var counts: [Int]
        /// `k × dimension`, double precision; updated by the points that change cluster.
        var sums: [Double]
        /// How far each centroid moved in the last update.
        var shifts: [Double]
        /// Point–centroid products computed so far (tests compare it with and without the bounds).
        var multiplied = 0

        init(count n: Int, k: Int, dimension d: Int) {
            labels = [Int](repeating: -1, count: n)
            upper = [Double](repeating: .infinity, count: n)
            lower = [Double](repeating: 0, count: n)
            counts = [Int](repeating: 0, count: k)
            sums = [Double](repeating: 0, count: k * d)
            shifts = [Double](repeating: 0, count: k)
        }
    }

    /// Nearest centroid of each point: ‖c‖² − 2·x·c from a `cblas_sgemm` per block of
    /// `assignmentBlock` points, the first smallest wins, as in plain Lloyd. When `pruning`, a
    /// point whose bounds show that no other centroid can be nearer keeps its label without
    /// being multiplied; the bounds leave room for the float error of the products
    /// (`LloydPass.errorScale`), so a point skipped is one whose products would have chosen the
    /// same centroid. When `summing`, the points that change cluster move
    /// between the sums (one set of changes per worker, applied in worker order). Call with
    /// OpenBLAS on one thread (each worker calls it).
    static func assign(_ points: [Float], norms pointNorms: [Float], count n: Int, dimension d: Int, centroids: [Float], k: Int,
                       state: inout LloydState, workers: Int, summing: Bool, pruning: Bool) {
        let norms = squaredNorms(centroids, count: k, dimension: d)
        let block = min(assignmentBlock, n)
        // Bounds follow the last move: a point of cluster a is at most shifts[a] farther from
        // its centroid, and any other centroid at most the largest other shift nearer.
        var largest = 0, secondShift = 0.0
        for c in 0..<k where state.shifts[c] > state.shifts[largest] { largest = c }
        for c in 0..<k where c != largest { secondShift = max(secondShift, state.shifts[c]) }
        // Scratch per worker: products, gathered points, their row numbers, changes to the sums
        // and counts (with the number of points multiplied after each worker's counts).
        let products = UnsafeMutablePointer<Float>.allocate(capacity: workers * block * k)
        let gathered = UnsafeMutablePointer<Float>.allocate(capacity: workers * block * d)
        let rows = UnsafeMutablePointer<Int>.allocate(capacity: workers * block)
        let changes = UnsafeMutablePointer<Double>.allocate(capacity: summing ? workers * k * d : 0)
        let moves = UnsafeMutablePointer<Int>.allocate(capacity: workers * (k + 1))
        changes.initialize(repeating: 0, count: summing ? workers * k * d : 0)
        moves.initialize(repeating: 0, count: workers * (k + 1))
        defer { products.deallocate(); gathered.deallocate(); rows.deallocate(); changes.deallocate(); moves.deallocate() }
        let pass = LloydPass(dimension: d, k: k, block: block, summing: summing, pruning: pruning,
                             largestShift: state.shifts[largest], farthestMover: largest, secondShift: secondShift,
                             largestNorm: Double(norms.max() ?? 0))
        points.withUnsafeBufferPointer { x in
            pointNorms.withUnsafeBufferPointer { xNorms in
                centroids.withUnsafeBufferPointer { c in
                    norms.withUnsafeBufferPointer { cNorms in
                        state.shifts.withUnsafeBufferPointer { shifts in
                            state.labels.withUnsafeMutableBufferPointer { labels in
                                state.upper.withUnsafeMutableBufferPointer { upper in
                                    state.lower.withUnsafeMutableBufferPointer { lower in
                                        let buffers = AssignmentBuffers(
                                            points: x.baseAddress!, pointNorms: xNorms.baseAddress!, centroids: c.baseAddress!,
                                            centroidNorms: cNorms.baseAddress!, shifts: shifts.baseAddress!, labels: labels.baseAddress!,
                                            upper: upper.baseAddress!, lower: lower.baseAddress!, products: products,
                                            gathered: gathered, rows: rows, changes: changes, moves: moves)
                                        RowPasses.forEachChunk(n, workers: workers) { w, range in pass.run(range, worker: w, buffers) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for w in 0..<workers {
            state.multiplied += moves[w * (k + 1) + k] * k
            guard summing else { continue }
            for c in 0..<k { state.counts[c] += moves[w * (k + 1) + c] }
            for i in 0..<(k * d) { state.sums[i] += changes[w * k * d + i] }
        }
    }
}

/// What `KMeans.assign` reads and writes. Safe to share: each worker writes only its own rows
/// of `labels`, `upper` and `lower` and its own part of the scratch buffers.
private struct AssignmentBuffers: @unchecked Sendable {
    let points: UnsafePointer<Float>, pointNorms: UnsafePointer<Float>
    let centroids: UnsafePointer<Float>, centroidNorms: UnsafePointer<Float>, shifts: UnsafePointer<Double>
    let labels: UnsafeMutablePointer<Int>
    let upper: UnsafeMutablePointer<Double>, lower: UnsafeMutablePointer<Double>
    /// Per worker: `block × k` products, `block × dimension` gathered points, `block` row
    /// numbers, `k × dimension` changes to the sums (only when summing), and `k` changes to the
    /// counts followed by the number of points multiplied.
    let products: UnsafeMutablePointer<Float>, gathered: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Int>
    let changes: UnsafeMutablePointer<Double>, moves: UnsafeMutablePointer<Int>
}

/// One assignment pass's settings, and a worker's part of it.
private struct LloydPass: Sendable {
    let dimension: Int, k: Int, block: Int
    let summing: Bool, pruning: Bool
    let largestShift: Double, farthestMover: Int, secondShift: Double
    /// The largest ‖c‖².
    let largestNorm: Double

    /// |computed − exact| of a squared distance ‖x‖² + ‖c‖² − 2·x·c in float is at most about
    /// (d + 2)·2⁻²⁴·(‖x‖² + ‖c‖²) in any summation order (Higham, "Accuracy and Stability of
    /// Numerical Algorithms", §3.1): twice that, to be safe.
    var errorScale: Double { 4 * Double(dimension + 2) * 0x1p-24 }

    func run(_ range: Range<Int>, worker w: Int, _ b: AssignmentBuffers) {
        let d = dimension
        let products = b.products + w * block * k, rows = b.rows + w * block, moves = b.moves + w * (k + 1)
        let gathered = b.gathered + w * block * d, changes = summing ? b.changes + w * k * d : nil
        let scale = errorScale
        for start in stride(from: range.lowerBound, to: range.upperBound, by: block) {
            let end = min(start + block, range.upperBound)
            var m = 0
            for p in start..<end {
                let label = b.labels[p]
                if label >= 0 {
                    b.upper[p] += b.shifts[label]
                    b.lower[p] -= label == farthestMover ? secondShift : largestShift
                }
                // Skip when even the bounds leave a gap wider than the products' error.
                let slack = 2 * scale * (Double(b.pointNorms[p]) + largestNorm)
                if pruning && b.lower[p] > b.upper[p] && b.lower[p] * b.lower[p] - b.upper[p] * b.upper[p] > slack { continue }
                rows[m] = p
                m += 1
            }
            guard m > 0 else { continue }
            moves[k] += m
            var source = b.points + start * d
            if m < end - start {
                for i in 0..<m { gathered.advanced(by: i * d).update(from: b.points + rows[i] * d, count: d) }
                source = UnsafePointer(gathered)
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(k), Int32(d), 1,
                        source, Int32(d), b.centroids, Int32(d), 0, products, Int32(k))
            for i in 0..<m {
                let scores = products + i * k
                var best = 0
                var bestValue = Float.infinity, secondValue = Float.infinity
                for c in 0..<k {
                    let value = b.centroidNorms[c] - 2 * scores[c]
                    if value < bestValue {
                        secondValue = bestValue; bestValue = value; best = c
                    } else if value < secondValue {
                        secondValue = value
                    }
                }
                let p = rows[i], previous = b.labels[p]
                let norm = b.pointNorms[p]
                let distance = max(0, norm + bestValue)
                let error = scale * (Double(norm) + largestNorm)
                b.labels[p] = best
                b.upper[p] = (Double(distance) + error).squareRoot()
                b.lower[p] = k > 1 ? max(0, Double(norm + secondValue) - error).squareRoot() : .infinity
                guard let changes, best != previous else { continue }
                moves[best] += 1
                let x = b.points + p * d, into = changes + best * d
                for j in 0..<d { into[j] += Double(x[j]) }
                if previous >= 0 {
                    moves[previous] -= 1
                    let from = changes + previous * d
                    for j in 0..<d { from[j] -= Double(x[j]) }
                }
            }
        }
    }
}
