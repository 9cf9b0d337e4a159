import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Limits of one WebSocket connection.
struct WebSocketLimits: Sendable {
    /// Largest payload of one frame, and of one whole message (text or binary).
    var maxFrame = 1 << 20
    var maxMessage = 4 << 20
    /// Seconds one message may take to leave; a client that stops reading is dropped after it.
    var sendTimeout: TimeInterval = 10
    /// Bytes the kernel may hold for a slow client (SO_SNDBUF): what is not yet read waits here,
    /// never in the server's memory.
    var sendBuffer = 64 << 10
}

/// One server-side WebSocket over an upgraded socket (RFC 6455): reads frames and answers the
/// control ones itself (ping → pong, close → close echoed), hands back whole data messages,
/// and sends with a deadline. A failure (a malformed frame, bad UTF-8, a message too large)
/// closes with its code; `receive` then reports `.closed`. Used by one thread at a time.
final class WebSocketConnection {
    enum Event: Equatable {
        case message(WebSocketMessage)
        /// Nothing arrived within the timeout.
        case timeout
        /// The connection is over: the peer closed (with its code), it vanished, or we failed it.
        case closed(code: UInt16?, reason: String)
    }

    let socket: UpgradedSocket
    let limits: WebSocketLimits
    /// Polled between reads; true ends `receive` with a close 1001 (server shutting down).
    var shouldStop: () -> Bool = { false }
    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler
    private(set) var isClosed = false
    private var readBuffer = [UInt8](repeating: 0, count: 64 << 10)

    init(socket: UpgradedSocket, limits: WebSocketLimits) {
        self.socket = socket
        self.limits = limits
        parser = WebSocketFrameParser(maxPayload: limits.maxFrame)
        assembler = WebSocketMessageAssembler(maxMessage: limits.maxMessage)
        parser.append(socket.leftover)
        let fd = socket.descriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var size = Int32(limits.sendBuffer)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { socket.close() }

    /// The next data message, waiting at most `timeout` seconds for it.
    func receive(timeout: TimeInterval) -> Event {
        guard !isClosed else { return .closed(code: nil, reason: "already closed") }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do {
                while let frame = try parser.next() {
                    switch frame.opcode {
                    case .ping:
                        try sendFrame(.pong, frame.payload)
                    case .pong:
                        break
                    case .close:
                        return answerClose(frame.payload)
                    default:
                        if let message = try assembler.add(frame) { return .message(message) }
                    }
                }
            } catch let error as WebSocketError {
                fail(error)
                return .closed(code: error.code.rawValue, reason: error.reason)
            } catch {
                abort()
                return .closed(code: nil, reason: "\(error)")
            }
            if shouldStop() {
                close(.goingAway, reason: "the server is shutting down")
                return .closed(code: WebSocketCloseCode.goingAway.rawValue, reason: "the server is shutting down")
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return .timeout }
            switch waitFor(POLLIN, seconds: min(left, 0.25)) {
            case .ready: break
            case .timedOut: continue
            case .failed:
                abort()
                return .closed(code: nil, reason: "the connection was lost")
            }
            let n = readBuffer.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                readBuffer.withUnsafeBufferPointer { parser.append(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                abort()
                return .closed(code: nil, reason: "the client went away without a close frame")
            }
        }
    }

    func send(text: String) throws { try sendFrame(.text, Array(text.utf8)) }

    /// Sends a close frame and, briefly, waits for the client's before closing the socket (the
    /// client then sees a clean close rather than a reset).
    func close(_ code: WebSocketCloseCode, reason: String) {
        guard !isClosed else { return }
        do {
            try sendFrame(.close, WebSocketFrame.closePayload(code, reason: reason))
        } catch {
            abort()
            return
        }
        isClosed = true
        let deadline = Date().addingTimeInterval(2)
        while deadline.timeIntervalSinceNow > 0, waitFor(POLLIN, seconds: deadline.timeIntervalSinceNow) == .ready {
            let n = readBuffer.withUnsafeMutableBytes { recv(socket.descriptor, $0.baseAddress, $0.count, 0) }
            if n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)) { break }
            // Past 1 MB of unparsed bytes the rest is only drained, not kept.
            if n > 0, parser.buffered < 1 << 20 {
                readBuffer.withUnsafeBufferPointer { parser.append(UnsafeBufferPointer(rebasing: $0[0..<n])) }
                // The client's close (or a failure to parse what came before it) ends the wait.
                var done = false
                while let frame = try? parser.next() { if frame.opcode == .close { done = true; break } }
                if done { break }
            }
        }
        socket.close()
    }

    /// Closes without a close frame (the peer is gone or cannot be written to).
    func abort() {
        isClosed = true
        socket.close()
    }

    private func fail(_ error: WebSocketError) { close(error.code, reason: error.reason) }

    /// Echoes the peer's close (section 5.5.1) after checking its payload.
    private func answerClose(_ payload: [UInt8]) -> Event {
        if payload.isEmpty {
            close(.normal, reason: "")
            return .closed(code: nil, reason: "")
        }
        guard payload.count >= 2 else {
            fail(WebSocketError(.protocolError, "a close frame with a one-byte payload"))
            return .closed(code: WebSocketCloseCode.protocolError.rawValue, reason: "one-byte close payload")
        }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketCloseCode.isValidOnTheWire(code) else {
            fail(WebSocketError(.protocolError, "close code \(code) may not be sent"))
            return .closed(code: code, reason: "invalid close code")
        }
        guard let reason = String(validating: payload[2...], as: UTF8.self) else {
            fail(WebSocketError(.invalidPayload, "the close reason is not valid UTF-8"))
            return .closed(code: code, reason: "invalid reason")
        }
        close(WebSocketCloseCode(rawValue: code), reason: "")
        return .closed(code: code, reason: reason)
    }

    enum SendError: Error, CustomStringConvertible {
        case timedOut(TimeInterval), lost(Int32)
        var description: String {
            switch self {
            case let .timedOut(seconds): return "the client read nothing for \(Int(seconds)) s"
            case let .lost(code): return "the connection was lost (\(String(cString: strerror(code))))"
            }
        }
    }

    /// One frame, whole, within `limits.sendTimeout`; on a timeout or an error the connection
    /// is aborted (a half-sent frame cannot be followed by a close frame).
    func sendFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) throws {
        guard !isClosed else { throw SendError.lost(EPIPE) }
        let bytes = WebSocketFrame.encode(opcode, payload)
        let deadline = Date().addingTimeInterval(limits.sendTimeout)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(socket.descriptor, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0, errno == EINTR { continue }
            guard n < 0, errno == EAGAIN || errno == EWOULDBLOCK else {
                let code = errno
                abort()
                throw SendError.lost(code)
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0, waitFor(POLLOUT, seconds: left) == .ready else {
                abort()
                throw SendError.timedOut(limits.sendTimeout)
            }
        }
    }

    private enum Wait { case ready, timedOut, failed }

    private func waitFor(_ events: Int32, seconds: TimeInterval) -> Wait {
        var entry = pollfd(fd: socket.descriptor, events: Int16(events), revents: 0)
        let result = poll(&entry, 1, Int32(max(0, min(seconds, 3600)) * 1000))
        if result == 0 { return .timedOut }
        if result < 0 { return errno == EINTR ? .timedOut : .failed }
        if entry.revents & Int16(events) != 0 { return .ready }
        return .failed
    }
}
