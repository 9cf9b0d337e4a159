import Foundation

/// Stops sending to a server that keeps failing: after `threshold` failed attempts in a row the
/// circuit opens and every call fails at once for `coolDown` seconds; then one call goes through
/// as a probe (half-open) while the others still fail fast. The probe's success closes the
/// circuit, its failure opens it for another cool-down. An answer that shows the server is up
/// (any HTTP status but 5xx and 429) counts as a success. Thread-safe; the clock is injectable
/// so tests never wait out a cool-down.
public final class CircuitBreaker: @unchecked Sendable {
    public enum State: Sendable, Equatable {
        case closed
        /// Failing fast until this time (on the breaker's clock).
        case open(until: Double)
        /// One probe is in flight.
        case halfOpen
    }

    public enum Permission: Sendable, Equatable {
        case allowed
        /// The call is the probe after a cool-down: its outcome decides the circuit.
        case probe
        /// Fail fast; the circuit may let a probe through after this many seconds.
        case rejected(retryIn: TimeInterval)
    }

    public let threshold: Int
    public let coolDown: TimeInterval
    private let now: @Sendable () -> Double
    private let lock = NSLock()
    private var current = State.closed
    private var failures = 0
    private var lastReason: String?

    public init(threshold: Int, coolDown: TimeInterval,
                now: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.threshold = max(1, threshold)
        self.coolDown = max(0, coolDown)
        self.now = now
    }

    public var state: State { lock.withLock { current } }
    /// Failed attempts since the last success.
    public var consecutiveFailures: Int { lock.withLock { failures } }
    /// What the last failure was (for messages).
    public var lastFailure: String? { lock.withLock { lastReason } }

    /// Seconds until a probe may go through while the circuit is open; nil when it is closed.
    public var retryIn: TimeInterval? {
        lock.withLock {
            switch current {
            case .closed: return nil
            case let .open(until): return max(0, until - now())
            case .halfOpen: return 0
            }
        }
    }

    /// Whether a call may go to the server now.
    public func permit() -> Permission {
        lock.withLock {
            switch current {
            case .closed:
                return .allowed
            case let .open(until):
                let time = now()
                guard time >= until else { return .rejected(retryIn: until - time) }
                current = .halfOpen
                return .probe
            case .halfOpen:
                // Another caller's probe is deciding; try again shortly.
                return .rejected(retryIn: min(1, coolDown))
            }
        }
    }

    public func recordSuccess() {
        lock.withLock {
            failures = 0
            current = .closed
        }
    }

    public func recordFailure(_ reason: String) {
        lock.withLock {
            failures += 1
            lastReason = reason
            switch current {
            case .halfOpen:
                current = .open(until: now() + coolDown)
            case .closed where failures >= threshold:
                current = .open(until: now() + coolDown)
            case .closed, .open:
                break
            }
        }
    }
}
