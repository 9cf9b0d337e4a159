import COpenBLAS
import Dispatch
import Foundation

/// Passes over the rows of a point matrix, split across the cores, and the SIMD loops they run.
///
/// k-means and PCA read every point once per pass; the work per point is small, so a pass is
/// cut into one contiguous range of rows per worker (`chunk`), each worker keeps its own partial
/// sums, and the partials are added in worker order: results are the same from run to run (the
/// split depends only on the row count and the number of workers).
enum RowPasses {
    /// Rows a worker should have at least: below that, starting a thread costs more than it saves.
    static let minimumRows = 2048

    /// Workers for `rows` rows: every core, fewer for small inputs.
    static func workers(rows: Int) -> Int {
        max(1, min(ProcessInfo.processInfo.activeProcessorCount, rows / minimumRows))
    }

    /// Part `i` of `0..<count` cut into `parts` nearly equal parts.
    static func chunk(_ i: Int, of parts: Int, count: Int) -> Range<Int> {
        (count * i / parts)..<(count * (i + 1) / parts)
    }

    /// Runs `body(worker, rows)` for each of `workers` parts of `0..<count`, inline when there is one.
    static func forEachChunk(_ count: Int, workers: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        if workers <= 1 {
            body(0, 0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { i in body(i, chunk(i, of: workers, count: count)) }
    }

    /// Runs `body` with OpenBLAS on one thread, then restores its thread count. The passes call
    /// BLAS from each of their workers: OpenBLAS's own threads would spin beside them.
    static func withOneBLASThread<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        let previous = openblas_get_num_threads()
        if previous != 1 { openblas_set_num_threads(1) }
        defer { if previous != 1 { openblas_set_num_threads(previous) } }
        return try body()
    }

    /// True when no value is NaN or infinite: x · 0 is 0 for every finite x and NaN otherwise.
    static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { v in
            let count = v.count, wide = count / 8 * 8
            guard let base = v.baseAddress else { return true }
            var poison = SIMD8<Float>(repeating: 0)
            var i = 0
            while i < wide {
                poison += UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self) * 0
                i += 8
            }
            var tail: Float = 0
            while i < count { tail += base[i] * 0; i += 1 }
            return (poison.sum() + tail).isFinite
        }
    }
}

/// Σ a[j]², eight lanes at a time (a scalar float sum would not vectorise: Swift keeps its order).
@inline(__always)
func squaredNorm(_ a: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var j = 0
    while j + 8 <= count {
        let x = UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Float>.self)
        lanes += x * x
        j += 8
    }
    var sum = lanes.sum()
    while j < count { sum += a[j] * a[j]; j += 1 }
    return sum
}

/// Σ (a[j] − b[j])², eight lanes at a time.
@inline(__always)
func squaredDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var j = 0
    while j + 8 <= count {
        let delta = UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Float>.self)
            - UnsafeRawPointer(b + j).loadUnaligned(as: SIMD8<Float>.self)
        lanes += delta * delta
        j += 8
    }
    var sum = lanes.sum()
    while j < count { let delta = a[j] - b[j]; sum += delta * delta; j += 1 }
    return sum
}

/// target[j] += x[j] for `count` values.
@inline(__always)
func add(_ x: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
    var j = 0
    while j + 8 <= count {
        let sum = UnsafeRawPointer(target + j).loadUnaligned(as: SIMD8<Float>.self)
            + UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(target + j).storeBytes(of: sum, as: SIMD8<Float>.self)
        j += 8
    }
    while j < count { target[j] += x[j]; j += 1 }
}
