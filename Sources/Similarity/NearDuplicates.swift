import COpenBLAS
import Foundation

/// Pairs of rows whose embeddings nearly coincide (cosine ≥ a threshold) and whose durations
/// agree: the same recording in two files (another format, another bitrate). Rows are compared
/// only within their group (a user's tracks) and only with rows of about the same duration:
/// sorted by duration, each block of `blockSize` rows meets, in one `cblas_sgemm`, just the rows
/// whose duration lies within the tolerance of the block's, so a 100,000-track library costs a
/// few hundred candidates per track rather than 100,000. Rows of unknown duration are compared
/// with every row of their group (blocked the same way).
public enum NearDuplicates {
    /// Two rows (`a < b`) and the cosine of their embeddings.
    public struct Pair: Sendable, Equatable {
        public let a: Int
        public let b: Int
        public let score: Float
        public init(a: Int, b: Int, score: Float) { self.a = a; self.b = b; self.score = score }
    }

    /// - Parameters:
    ///   - vectors: `count` rows of `dimension` values, row-major, each of length 1.
    ///   - durations: one per row, seconds; nil where unknown.
    ///   - groups: one per row; rows of different groups never pair.
    /// - Returns: every qualifying pair once, sorted by (a, b).
    public static func pairs(_ vectors: [Float], count n: Int, dimension d: Int, durations: [Double?], groups: [Int64],
                             threshold: Float, durationTolerance: Double, blockSize: Int = 512) throws(SimilarityError) -> [Pair] {
        guard d > 0, vectors.count == n * d else {
            throw .invalidArgument("\(vectors.count) values do not make \(n) rows of \(d)")
        }
        guard durations.count == n, groups.count == n else { throw .invalidArgument("one duration and one group per row") }
        guard threshold.isFinite, (-1...1).contains(threshold) else { throw .invalidArgument("the threshold is a cosine, from -1 to 1") }
        guard durationTolerance.isFinite, durationTolerance >= 0 else { throw .invalidArgument("the duration tolerance is 0 seconds or more") }
        let block = max(1, blockSize)

        var byGroup: [Int64: [Int]] = [:]
        for row in 0..<n { byGroup[groups[row], default: []].append(row) }
        var found: [Pair] = []
        for rows in byGroup.values where rows.count > 1 {
            let known = rows.filter { durations[$0]?.isFinite == true }.sorted { (durations[$0]!, $0) < (durations[$1]!, $1) }
            let unknown = rows.filter { durations[$0]?.isFinite != true }
            let seconds = known.map { durations[$0]! }
            // Known against known: rows [s, e) meet the later rows whose duration is within reach.
            var end = 0
            for s in stride(from: 0, to: known.count, by: block) {
                let e = min(s + block, known.count)
                let reach = seconds[e - 1] + durationTolerance
                end = max(end, e)
                while end < known.count, seconds[end] <= reach { end += 1 }
                compare(vectors, dimension: d, rows: known[s..<e], columns: known[s..<end], threshold: threshold, into: &found) { r, c in
                    c > r && abs(seconds[s + r] - seconds[s + c]) <= durationTolerance
                }
            }
            // Unknown against everything of the group: each known row, and the unknown rows after it.
            let columns = unknown + known
            for s in stride(from: 0, to: unknown.count, by: block) {
                let e = min(s + block, unknown.count)
                compare(vectors, dimension: d, rows: unknown[s..<e], columns: columns[s...], threshold: threshold, into: &found) { r, c in
                    c > r
                }
            }
        }
        return found.sorted { ($0.a, $0.b) < ($1.a, $1.b) }
    }

    /// The connected components of `pairs` over rows 0..<n with two or more rows, each sorted,
    /// ordered by their first row (union–find with path halving).
    public static func components(_ pairs: [Pair], count n: Int) -> [[Int]] {
        var parent = Array(0..<n)
        func root(_ x: Int) -> Int {
            var x = x
            while parent[x] != x { parent[x] = parent[parent[x]]; x = parent[x] }
            return x
        }
        for pair in pairs where pair.a < n && pair.b < n {
            let (ra, rb) = (root(pair.a), root(pair.b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        var members: [Int: [Int]] = [:]
        for pair in pairs where pair.a < n && pair.b < n {
            for row in [pair.a, pair.b] { members[root(row), default: []].append(row) }
        }
        return members.values.map { Array(Set($0)).sorted() }.filter { $0.count > 1 }.sorted { $0[0] < $1[0] }
    }

    /// Scores `rows` against `columns` in tiles (one sgemm per tile) and keeps each pair that
    /// reaches `threshold` and that `accept(rowOffset, columnOffset)` takes: offsets count from
    /// the start of each slice, so a caller can hold its own per-row data by position.
    private static func compare(_ vectors: [Float], dimension d: Int, rows: ArraySlice<Int>, columns: ArraySlice<Int>,
                                threshold: Float, into found: inout [Pair], accept: (Int, Int) -> Bool) {
        let m = rows.count
        guard m > 0, !columns.isEmpty else { return }
        var a = [Float](repeating: 0, count: m * d)
        for (i, row) in rows.enumerated() { for j in 0..<d { a[i * d + j] = vectors[row * d + j] } }
        let tile = 4096
        var start = columns.startIndex
        while start < columns.endIndex {
            let stop = min(start + tile, columns.endIndex)
            let c = stop - start
            var b = [Float](repeating: 0, count: c * d)
            for k in 0..<c { let column = columns[start + k]; for j in 0..<d { b[k * d + j] = vectors[column * d + j] } }
            var scores = [Float](repeating: 0, count: m * c)
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    scores.withUnsafeMutableBufferPointer { ps in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(c), Int32(d), 1,
                                    pa.baseAddress, Int32(d), pb.baseAddress, Int32(d), 0, ps.baseAddress, Int32(c))
                    }
                }
            }
            let columnOffset = start - columns.startIndex
            for i in 0..<m {
                for k in 0..<c where scores[i * c + k] >= threshold {
                    guard accept(i, columnOffset + k) else { continue }
                    let (x, y) = (rows[rows.startIndex + i], columns[start + k])
                    found.append(Pair(a: min(x, y), b: max(x, y), score: min(1, scores[i * c + k])))
                }
            }
            start = stop
        }
    }
}
