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
///
/// A loop's split depends only on its size and `workerCount`, never on scheduling, and every
/// reduction across chunks adds them in chunk order: results are bit-identical from run to run.
public enum Parallel {
    /// All cores, or `TIMBRE_THREADS` when set (to share a machine or to measure one core).
    public static let defaultWorkerCount: Int = {
        if let value = ProcessInfo.processInfo.environment["TIMBRE_THREADS"], let n = Int(value), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    private static let override = LockedCount()

    /// The number of chunks a loop is split into at most: `defaultWorkerCount`, unless
    /// `withWorkerCount` is running.
    public static var workerCount: Int {
        let n = override.value
        return n > 0 ? n : defaultWorkerCount
    }

    /// Runs `body` with loops split into `count` chunks (tests compare splits; not for use while
    /// another thread runs layers).
    public static func withWorkerCount<T>(_ count: Int, _ body: () throws -> T) rethrows -> T {
        let previous = override.value
        override.value = max(1, count)
        defer { override.value = previous }
        return try body()
    }

    /// Splits `0..<count` into at most `workerCount` chunks of at least `grain` items and runs
    /// `body` on each; small loops run inline, where thread start-up would cost more than it saves.
    public static func forEachChunk(_ count: Int, grain: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = min(workerCount, count / max(1, grain))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            body(chunk(i, of: chunks, count: count))
        }
    }

    /// Runs `body(i, range)` for the `chunks` fixed parts of `0..<count`, each on its own worker;
    /// `i` lets a worker use its own scratch buffers.
    public static func forEachChunk(_ count: Int, chunks: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        if chunks <= 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { i in
            body(i, chunk(i, of: chunks, count: count))
        }
    }

    /// Runs `body(worker, part)` for the `parts` fixed parts of `0..<count` (`chunk`) on at most
    /// `workers` workers, each taking the next part as soon as it is free, so that a core slowed
    /// by other work (a decode thread, another process) takes fewer parts and the others do not
    /// wait for it. The parts never change, and `worker` only picks scratch buffers, so results
    /// stay bit-identical; not for loops whose workers sum into their own buffers.
    public static func forEachPart(_ count: Int, parts: Int, workers: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        let workers = min(workers, parts)
        if workers <= 1 {
            for p in 0..<parts { body(0, chunk(p, of: parts, count: count)) }
            return
        }
        let next = LockedCount()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while true {
                let p = next.takeNext()
                guard p < parts else { return }
                body(worker, chunk(p, of: parts, count: count))
            }
        }
    }

    /// Part `i` of `0..<count` cut into `chunks` nearly equal parts.
    public static func chunk(_ i: Int, of chunks: Int, count: Int) -> Range<Int> {
        (count * i / chunks)..<(count * (i + 1) / chunks)
    }
}

/// An integer behind a lock (Synchronization's Atomic needs macOS 15; the package supports 13).
private final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = 0
    var value: Int {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }

    /// The value, then one more.
    func takeNext() -> Int {
        lock.lock(); defer { lock.unlock() }
        stored += 1
        return stored - 1
    }
}

/// OpenBLAS's thread count. The layers split their GEMMs across cores themselves (by sample, or
/// by rows of a large product) and call BLAS with one thread from every worker: OpenBLAS's own
/// threads would otherwise spin-wait beside those workers and split small GEMMs poorly.
public enum BLASThreads {
    /// Every core (`Parallel.workerCount`), for one large GEMM called outside the layers, such
    /// as a peak measurement; the next layer call goes back to one thread.
    public static func configure() { set(Parallel.workerCount) }

    /// One thread per call: what the layers use before they fan out.
    public static func single() { set(1) }

    /// Cheap when nothing changes: OpenBLAS is asked only when the count differs.
    static func set(_ threads: Int) {
        if openblas_get_num_threads() != Int32(threads) { openblas_set_num_threads(Int32(threads)) }
    }
}
