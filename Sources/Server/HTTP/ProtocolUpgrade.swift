import CMicroHTTPD
import Foundation

/// What takes a connection over after a `101 Switching Protocols` (a WebSocket): `run` gets
/// the socket on a thread of its own, since MHD's upgrade callback must not block its event
/// loop. Exactly one of `run` and `abandoned` is called: `abandoned` when the request ends
/// without the upgrade happening (the client went away before the 101 was sent), so whatever
/// `run` would have released (a stream slot) is released anyway.
///
/// Lifetime: MHD holds one retain from the response's creation to the upgrade callback; a
/// response whose callback never comes leaks that one small object (its slot is released
/// through `abandon()` from the request's completion).
public final class ProtocolUpgrade: @unchecked Sendable {
    private let run: @Sendable (UpgradedSocket) -> Void
    private let abandoned: @Sendable () -> Void
    private let lock = NSLock()
    private var decided = false

    public init(run: @escaping @Sendable (UpgradedSocket) -> Void, abandoned: @escaping @Sendable () -> Void) {
        self.run = run
        self.abandoned = abandoned
    }

    /// From the upgrade callback: hands the socket to `run` on a new thread (or closes it at
    /// once if the request was already given up).
    fileprivate func start(_ socket: UpgradedSocket) {
        let first = lock.withLock { () -> Bool in
            defer { decided = true }
            return !decided
        }
        guard first else { socket.close(); return }
        let thread = Thread { [run] in run(socket) }
        thread.name = "timbre-upgrade"
        thread.start()
    }

    /// From the request's completion: the upgrade will not happen if it has not yet.
    func abandon() {
        let first = lock.withLock { () -> Bool in
            defer { decided = true }
            return !decided
        }
        if first { abandoned() }
    }
}

/// The socket of an upgraded connection. MHD owns the descriptor: it is closed through
/// `MHD_upgrade_action(CLOSE)` (never `close(2)`), exactly once, by `close()` or `deinit`.
public final class UpgradedSocket: @unchecked Sendable {
    public let descriptor: Int32
    /// Bytes MHD read past the request's headers: the start of the new protocol's stream.
    public let leftover: [UInt8]
    private let handle: OpaquePointer
    private let lock = NSLock()
    private var closed = false

    init(descriptor: Int32, leftover: [UInt8], handle: OpaquePointer) {
        self.descriptor = descriptor
        self.leftover = leftover
        self.handle = handle
    }

    deinit { close() }

    public func close() {
        let first = lock.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { _ = timbre_mhd_upgrade_close(handle) }
    }
}

let upgradeHandler: MHD_UpgradeHandler = { cls, _, _, extra, extraSize, socket, handle in
    guard let cls else { return }
    let upgrade = Unmanaged<ProtocolUpgrade>.fromOpaque(cls).takeRetainedValue()
    guard let handle else { return }
    var leftover: [UInt8] = []
    if let extra, extraSize > 0 {
        extra.withMemoryRebound(to: UInt8.self, capacity: extraSize) { leftover = Array(UnsafeBufferPointer(start: $0, count: extraSize)) }
    }
    upgrade.start(UpgradedSocket(descriptor: socket, leftover: leftover, handle: handle))
}
