import COpenBLAS
import Foundation

/// A track and how close it is to the query: the cosine of the angle between the embeddings,
/// in [-1, 1] (1: the same direction).
public struct SimilarityHit: Sendable, Equatable {
    public var id: Int64
    public var score: Float
    public init(id: Int64, score: Float) { self.id = id; self.score = score }
}

public enum SimilarityError: Error, Equatable, CustomStringConvertible {
    case dimensionMismatch(id: Int64?, expected: Int, got: Int)
    case notUsable(id: Int64?, reason: String)
    case unknown(id: Int64)
    case invalidArgument(String)

    public var description: String {
        func name(_ id: Int64?) -> String { id.map { "embedding \($0)" } ?? "the query" }
        switch self {
        case let .dimensionMismatch(id, expected, got):
            return "\(name(id)) has \(got) values but the index holds \(expected)-dimensional embeddings (another model's?)"
        case let .notUsable(id, reason):
            return "\(name(id)) cannot be compared: \(reason)"
        case let .unknown(id):
            return "no embedding \(id) in the index: the track is not tagged by this model yet"
        case let .invalidArgument(reason):
            return reason
        }
    }
}

/// Exact cosine-similarity search over embeddings held in memory (DESIGN: exact, BLAS over an
/// N×D matrix). Vectors are stored L2-normalised as rows of one matrix, so a query is one
/// `cblas_sgemv` (N·D multiply-adds) and a bounded heap keeps the k best: 100,000 tracks of
/// 256 values are 100 MB and a few milliseconds a query. Every answer carries its score;
/// ties go to the smaller id, so answers are deterministic.
///
/// Thread-safe: queries and updates may come from any thread (a read-write lock).
public final class EmbeddingIndex: @unchecked Sendable {
    public let dimension: Int
    private var ids: [Int64] = []
    private var rowOf: [Int64: Int] = [:]
    private var matrix: [Float] = []
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    public init(dimension: Int) {
        precondition(dimension > 0, "an embedding has at least one value")
        self.dimension = dimension
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    private func reading<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    private func writing<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    public var count: Int { reading { ids.count } }

    public func contains(_ id: Int64) -> Bool { reading { rowOf[id] != nil } }

    /// Adds `id`'s embedding, or replaces it.
    public func upsert(id: Int64, vector: [Float]) throws(SimilarityError) {
        let unit = try normalized(vector, id: id)
        writing {
            if let row = rowOf[id] {
                matrix.replaceSubrange((row * dimension)..<((row + 1) * dimension), with: unit)
            } else {
                rowOf[id] = ids.count
                ids.append(id)
                matrix += unit
            }
        }
    }

    /// Removes `id`; false when it was not there. The last row moves into its place.
    @discardableResult
    public func remove(id: Int64) -> Bool {
        writing {
            guard let row = rowOf.removeValue(forKey: id) else { return false }
            let last = ids.count - 1
            if row != last {
                let moved = ids[last]
                ids[row] = moved
                rowOf[moved] = row
                for j in 0..<dimension { matrix[row * dimension + j] = matrix[last * dimension + j] }
            }
            ids.removeLast()
            matrix.removeLast(dimension)
            return true
        }
    }

    /// The stored (unit-length) embedding of `id`.
    public func vector(id: Int64) -> [Float]? {
        reading { rowOf[id].map { Array(matrix[($0 * dimension)..<(($0 + 1) * dimension)]) } }
    }

    /// The `k` embeddings closest to `query` by cosine similarity, best first, leaving out `excluding`.
    public func nearest(to query: [Float], k: Int, excluding: Set<Int64> = []) throws(SimilarityError) -> [SimilarityHit] {
        let unit = try normalized(query, id: nil)
        return reading { search(unit, k: k, excluding: excluding) }
    }

    /// The `k` embeddings closest to `id`'s own, best first, without `id` itself ("more like this").
    public func nearest(toID id: Int64, k: Int) throws(SimilarityError) -> [SimilarityHit] {
        try reading { () throws(SimilarityError) -> [SimilarityHit] in
            guard let row = rowOf[id] else { throw .unknown(id: id) }
            return search(Array(matrix[(row * dimension)..<((row + 1) * dimension)]), k: k, excluding: [id])
        }
    }

    /// The `k` embeddings closest to `query` among the ids `allowed` accepts (a user's own
    /// tracks, say), best first. The scan is the same sgemv; only the heap is filtered.
    public func nearest(to query: [Float], k: Int, where allowed: (Int64) -> Bool) throws(SimilarityError) -> [SimilarityHit] {
        let unit = try normalized(query, id: nil)
        return reading { search(unit, k: k, excluding: [], allowed: allowed) }
    }

    /// Every stored id, in row order.
    public var allIDs: [Int64] { reading { ids } }

    /// Several queries at once, each with its own filter: one `cblas_sgemm` (N×D by D×M)
    /// reads the matrix once for all of them, which is what makes concurrent requests cheap
    /// (the scan is memory-bound). Each answer equals `nearest(to:k:where:)`'s for that query.
    public func nearest(batch queries: [[Float]], k: Int, where allowed: [(Int64) -> Bool]) throws(SimilarityError) -> [[SimilarityHit]] {
        precondition(allowed.count == queries.count, "one filter per query")
        let m = queries.count
        guard m > 1 else { return m == 0 ? [] : [try nearest(to: queries[0], k: k, where: allowed[0])] }
        var units = [Float]()
        units.reserveCapacity(m * dimension)
        for query in queries { units += try normalized(query, id: nil) }
        return reading {
            let n = ids.count
            guard k > 0, n > 0 else { return [[SimilarityHit]](repeating: [], count: m) }
            var scores = [Float](repeating: 0, count: n * m)
            matrix.withUnsafeBufferPointer { a in
                units.withUnsafeBufferPointer { q in
                    scores.withUnsafeMutableBufferPointer { y in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(m), Int32(dimension), 1,
                                    a.baseAddress, Int32(dimension), q.baseAddress, Int32(dimension), 0, y.baseAddress, Int32(m))
                    }
                }
            }
            return (0..<m).map { j in
                scores.withUnsafeBufferPointer { select($0, stride: m, offset: j, k: k, excluding: [], allowed: allowed[j]) }
            }
        }
    }

    /// Caller holds the read lock; `unit` has `dimension` values and length 1.
    private func search(_ unit: [Float], k: Int, excluding: Set<Int64>, allowed: (Int64) -> Bool = { _ in true }) -> [SimilarityHit] {
        let n = ids.count
        guard k > 0, n > 0 else { return [] }
        // sgemv with β = 0 writes every score: no need to zero them first.
        let scores = [Float](unsafeUninitializedCapacity: n) { y, count in
            matrix.withUnsafeBufferPointer { a in
                unit.withUnsafeBufferPointer { x in
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(dimension), 1,
                                a.baseAddress, Int32(dimension), x.baseAddress, 1, 0, y.baseAddress, 1)
                }
            }
            count = n
        }
        return scores.withUnsafeBufferPointer { select($0, stride: 1, offset: 0, k: k, excluding: excluding, allowed: allowed) }
    }

    /// The k best of `scores[offset + row·stride]`. A row that cannot enter the heap is passed
    /// over before its filter runs, so the filter costs only for the few rows that might rank.
    private func select(_ scores: UnsafeBufferPointer<Float>, stride: Int, offset: Int, k: Int, excluding: Set<Int64>,
                        allowed: (Int64) -> Bool) -> [SimilarityHit] {
        var best = TopK(capacity: k)
        // The heap's lowest score once it is full (−∞ before): most rows stop at this compare.
        var floor = -Float.infinity
        for row in 0..<ids.count {
            let score = min(1, max(-1, scores[offset + row * stride]))
            if score < floor { continue }
            let id = ids[row]
            guard !excluding.contains(id), allowed(id) else { continue }
            best.offer(SimilarityHit(id: id, score: score))
            floor = best.floor ?? -Float.infinity
        }
        return best.sorted()
    }

    private func normalized(_ vector: [Float], id: Int64?) throws(SimilarityError) -> [Float] {
        guard vector.count == dimension else { throw .dimensionMismatch(id: id, expected: dimension, got: vector.count) }
        guard vector.allSatisfy(\.isFinite) else { throw .notUsable(id: id, reason: "it holds NaN or infinite values") }
        let norm = vector.reduce(Double(0)) { $0 + Double($1) * Double($1) }.squareRoot()
        guard norm > 0 else { throw .notUsable(id: id, reason: "it is all zeros (no direction)") }
        return vector.map { Float(Double($0) / norm) }
    }
}

/// The k best hits seen so far: a min-heap on (score, then larger id = worse).
struct TopK {
    let capacity: Int
    private(set) var heap: [SimilarityHit] = []

    init(capacity: Int) {
        self.capacity = capacity
        heap.reserveCapacity(min(capacity, 1 << 16))
    }

    /// True when `a` ranks below `b`.
    @inline(__always)
    static func worse(_ a: SimilarityHit, _ b: SimilarityHit) -> Bool {
        a.score != b.score ? a.score < b.score : a.id > b.id
    }

    mutating func offer(_ hit: SimilarityHit) {
        if heap.count < capacity {
            heap.append(hit)
            var i = heap.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                guard Self.worse(heap[i], heap[parent]) else { break }
                heap.swapAt(i, parent)
                i = parent
            }
        } else if Self.worse(heap[0], hit) {
            heap[0] = hit
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && Self.worse(heap[l], heap[m]) { m = l }
                if r < heap.count && Self.worse(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
    }

    /// The lowest score still in the heap once it is full: a lower one cannot enter.
    var floor: Float? { heap.count == capacity && capacity > 0 ? heap[0].score : nil }

    /// Best first.
    func sorted() -> [SimilarityHit] { heap.sorted { Self.worse($1, $0) } }
}
