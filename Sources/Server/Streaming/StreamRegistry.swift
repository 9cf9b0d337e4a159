import Foundation

/// The live prediction streams: at most `limit` at once (a slot is taken before the upgrade, so
/// the one over the limit gets an HTTP 503 it can read), released when a stream ends however it
/// ends. `stopAll` asks every stream to close (1001) and waits for them, before the daemon stops.
final class StreamRegistry: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var active = 0
    private var stopping = false

    init(limit: Int) { self.limit = max(0, limit) }

    /// Takes a slot, or false when all are taken (or the server is stopping).
    func acquire() -> Bool {
        lock.withLock {
            guard !stopping, active < limit else { return false }
            active += 1
            return true
        }
    }

    func release() { lock.withLock { active = max(0, active - 1) } }

    var count: Int { lock.withLock { active } }
    var isStopping: Bool { lock.withLock { stopping } }

    /// Refuses new streams, asks the open ones to close, and waits up to `grace` seconds for them.
    func stopAll(grace: TimeInterval) {
        lock.withLock { stopping = true }
        let deadline = Date().addingTimeInterval(grace)
        while count > 0, Date() < deadline { usleep(20_000) }
    }
}
