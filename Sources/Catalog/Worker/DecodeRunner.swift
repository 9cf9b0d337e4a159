import Foundation
import Tagger

/// Runs a batch's decodes on a few threads, each taking the next file, and stops waiting for a
/// file that outlives its time limit.
///
/// A thread stuck in a decode cannot be ended (a read blocked in the kernel on a dead mount, a
/// decoder in a loop): when a file passes its limit, its slot is answered `.timedOut` at once, a
/// new thread takes the stuck one's place for the files still to do, and the stuck thread is
/// left to finish on its own; whatever it returns then is dropped, and it takes no other file.
/// `stuckThreads` counts the threads left behind that have not finished yet.
final class DecodeRunner: @unchecked Sendable {
    enum Result: Sendable {
        case chunks(TrackChunks)
        case problem(FileProblem)
        /// Still running after `limit` seconds.
        case timedOut(limit: Double)
    }

    private let condition = NSCondition()
    private let limits: [Double?]
    private let work: @Sendable (Int) -> Result
    private var next = 0
    private var started: [Double?]
    private var results: [Result?]
    private var remaining: Int

    /// Threads abandoned in a decode (by any runner) that are still running.
    static var stuckThreads: Int { stuck.withLock { $0 } }
    private static let stuck = LockedCounter()

    /// - Parameters:
    ///   - limits: seconds each file may take from the moment a thread starts on it; nil: no limit.
    ///   - work: decodes file `index` (on one of the runner's threads).
    init(limits: [Double?], work: @escaping @Sendable (Int) -> Result) {
        self.limits = limits
        self.work = work
        started = Array(repeating: nil, count: limits.count)
        results = Array(repeating: nil, count: limits.count)
        remaining = limits.count
    }

    /// Decodes every file on `threads` threads; `timedOut(index)` is called (on this thread) as
    /// soon as a file is given up on. The results, in file order.
    func run(threads: Int, timedOut: (Int) -> Void) -> [Result] {
        guard !limits.isEmpty else { return [] }
        for _ in 0..<max(1, min(threads, limits.count)) { spawn() }
        condition.lock()
        while remaining > 0 {
            let now = monotonicSeconds()
            var wake: Double?
            var expired: [Int] = []
            for index in limits.indices where results[index] == nil {
                guard let start = started[index], let limit = limits[index] else { continue }
                if now - start >= limit {
                    results[index] = .timedOut(limit: limit)
                    remaining -= 1
                    expired.append(index)
                } else {
                    wake = min(wake ?? .infinity, start + limit)
                }
            }
            if !expired.isEmpty {
                Self.stuck.withLock { $0 += expired.count }
                condition.unlock()
                for index in expired {
                    timedOut(index)
                    spawn()  // in the stuck thread's place
                }
                condition.lock()
                continue
            }
            if remaining == 0 { break }
            if let wake {
                _ = condition.wait(until: Date(timeIntervalSinceNow: max(0.001, wake - now)))
            } else {
                condition.wait()
            }
        }
        let out = results.map { $0 ?? .problem(.permanent("no result")) }
        condition.unlock()
        return out
    }

    private func spawn() {
        let thread = Thread { [self] in loop() }
        thread.name = "timbre-decode"
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            guard next < limits.count else {
                condition.unlock()
                return
            }
            let index = next
            next += 1
            started[index] = monotonicSeconds()
            condition.broadcast()  // a new deadline to wait for
            condition.unlock()
            let result = work(index)
            condition.lock()
            guard results[index] == nil else {
                // Given up on while it ran: another thread has taken this one's place.
                condition.unlock()
                Self.stuck.withLock { $0 -= 1 }
                return
            }
            results[index] = result
            remaining -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// An integer shared by threads.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func withLock<T>(_ body: (inout Int) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
