import Foundation

/// A one-way switch threads wait on.
final class StopFlag: @unchecked Sendable {
    private let condition = NSCondition()
    private var flag = false

    var isSet: Bool { condition.withLock { flag } }

    func set() { condition.withLock { flag = true; condition.broadcast() } }

    /// Waits up to `seconds`; true once set.
    func wait(seconds: Double) -> Bool {
        condition.withLock {
            let deadline = Date().addingTimeInterval(seconds)
            while !flag, condition.wait(until: deadline) {}
            return flag
        }
    }

    func waitForever() { condition.withLock { while !flag { condition.wait() } } }

    /// A thread running `body`, with a way to wait for its end.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Thread {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
        return thread
    }

    static func join(_ thread: Thread) {
        while !thread.isFinished { usleep(20_000) }
    }
}
