import COpenBLAS
import Dispatch
import Foundation

/// Carries a pointer into a parallel loop. Safe because every loop below gives each worker a
/// disjoint range of the memory behind it.
public struct SendablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// Parallel loops over the batch or the channels, on all cores.
public enum Parallel {
    /// All cores, or `TIMBRE_THREADS` when set (to share a machine or to measure one core).
    public static let workerCount: Int = {
        if let value = ProcessInfo.processInfo.environment["TIMBRE_THREADS"], let n = Int(value), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Splits `0..<count` into at most `workerCount` chunks of at least `grain` items and runs
    /// `body` on each; small loops run inline, where thread start-up would cost more than it saves.
    public static func forEachChunk(_ count: Int, grain: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = min(workerCount, count / max(1, grain))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            body((count * i / chunks)..<(count * (i + 1) / chunks))
        }
    }
}

/// OpenBLAS's thread count, set once: GEMMs use every core, and the parallel loops above
/// never call BLAS from inside a worker.
public enum BLASThreads {
    private static let configured: Bool = {
        openblas_set_num_threads(Int32(Parallel.workerCount))
        return true
    }()

    public static func configure() { _ = configured }
}
