import Foundation

/// Hands tracks to rendering threads and reports their completion to the thread that
/// waits on the corpus. All state is guarded by one condition variable.
final class RenderQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [Int]
    private var completed: [(index: Int, audioSeconds: Double)] = []
    private var failure: DemoCorpusError?
    private var runningWorkers: Int

    init(pending: [Int], workers: Int) {
        self.pending = pending.reversed()
        self.runningWorkers = workers
    }

    /// The next track to render, or nil when there is none left or a worker has failed.
    func next() -> Int? {
        condition.lock(); defer { condition.unlock() }
        return failure == nil ? pending.popLast() : nil
    }

    func finished(_ index: Int, audioSeconds: Double) {
        condition.lock(); defer { condition.unlock() }
        completed.append((index, audioSeconds))
        condition.broadcast()
    }

    func fail(_ error: DemoCorpusError) {
        condition.lock(); defer { condition.unlock() }
        if failure == nil { failure = error }
        condition.broadcast()
    }

    func workerExited() {
        condition.lock(); defer { condition.unlock() }
        runningWorkers -= 1
        condition.broadcast()
    }

    /// Blocks until something happens; returns the tracks finished since the last call,
    /// whether all workers have exited, and the first failure.
    func waitForNews() -> (finished: [(index: Int, audioSeconds: Double)], allExited: Bool, failure: DemoCorpusError?) {
        condition.lock(); defer { condition.unlock() }
        while completed.isEmpty && runningWorkers > 0 && failure == nil { condition.wait() }
        let news = completed
        completed.removeAll()
        return (news, runningWorkers == 0, failure)
    }

    /// Blocks until every worker has exited (after a failure: their current track is abandoned).
    func waitForWorkers() {
        condition.lock(); defer { condition.unlock() }
        while runningWorkers > 0 { condition.wait() }
    }
}
