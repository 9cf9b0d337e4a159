/// RFC 6455 framing (section 5.2):
///
/// ```
///  0 FIN RSV1-3 opcode(4) | MASK len(7) | [len16 | len64] | [mask key(4)] | payload
/// ```
/// Lengths 0–125 in the 7 bits, 126 → a 16-bit length follows, 127 → a 64-bit one (top bit 0).
/// A client's frames are masked (each payload byte XOR key[i % 4]); a server's never are.
enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// Close codes (RFC 6455, section 7.4.1) Timbre sends.
struct WebSocketCloseCode: RawRepresentable, Equatable, Sendable, CustomStringConvertible {
    let rawValue: UInt16
    init(rawValue: UInt16) { self.rawValue = rawValue }
    static let normal = Self(rawValue: 1000)
    static let goingAway = Self(rawValue: 1001)
    static let protocolError = Self(rawValue: 1002)
    static let unsupportedData = Self(rawValue: 1003)
    static let invalidPayload = Self(rawValue: 1007)
    static let policyViolation = Self(rawValue: 1008)
    static let messageTooBig = Self(rawValue: 1009)
    static let internalError = Self(rawValue: 1011)
    var description: String { "\(rawValue)" }

    /// Codes a peer may send in a close frame: the defined ones (not 1004–1006, 1015, which
    /// never go on the wire) and the registered and private ranges 3000–4999.
    static func isValidOnTheWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}

/// Why a connection is failed: the close code to send and a reason for the peer (and the log).
struct WebSocketError: Error, Equatable, CustomStringConvertible {
    var code: WebSocketCloseCode
    var reason: String
    init(_ code: WebSocketCloseCode, _ reason: String) { self.code = code; self.reason = reason }
    var description: String { "WebSocket \(code): \(reason)" }
}

struct WebSocketFrame: Equatable, Sendable {
    var fin: Bool
    var opcode: WebSocketOpcode
    var payload: [UInt8]

    /// The frame's bytes; `mask` (4 bytes) for a client's frame, nil for a server's.
    static func encode(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, mask: [UInt8]? = nil) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        out.reserveCapacity(payload.count + 14)
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        switch payload.count {
        case 0...125: out.append(maskBit | UInt8(payload.count))
        case 126...0xFFFF:
            out.append(maskBit | 126)
            out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default:
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64(shift))) }
        }
        if let mask {
            out += mask
            for (i, byte) in payload.enumerated() { out.append(byte ^ mask[i & 3]) }
        } else {
            out += payload
        }
        return out
    }

    /// A close frame's payload: the code (big-endian) and a UTF-8 reason cut to fit 125 bytes.
    static func closePayload(_ code: WebSocketCloseCode, reason: String) -> [UInt8] {
        var text = Array(reason.utf8.prefix(123))
        // Never cut inside a UTF-8 sequence: drop continuation bytes and their lead.
        if text.count < reason.utf8.count {
            while let last = text.last, last & 0xC0 == 0x80 { text.removeLast() }
            if let last = text.last, last & 0xC0 == 0xC0 { text.removeLast() }
        }
        return [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)] + text
    }
}

/// Cuts a byte stream into frames, checking every rule a server must: client frames masked
/// (else 1002), no reserved bits (no extension is negotiated), known opcodes, control frames
/// whole and at most 125 bytes, a 64-bit length with its top bit clear, and a payload no larger
/// than `maxPayload` (1009, decided from the header before the payload is read).
struct WebSocketFrameParser {
    let maxPayload: Int
    let requireMask: Bool
    private var buffer: [UInt8] = []
    private var offset = 0

    init(maxPayload: Int, requireMask: Bool = true) {
        self.maxPayload = maxPayload
        self.requireMask = requireMask
    }

    /// Bytes received and not yet parsed.
    var buffered: Int { buffer.count - offset }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        if offset > 0, offset >= buffer.count / 2 {
            buffer.removeFirst(offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }

    /// The next whole frame, nil when more bytes are needed.
    mutating func next() throws(WebSocketError) -> WebSocketFrame? {
        let available = buffer.count - offset
        guard available >= 2 else { return nil }
        let b0 = buffer[offset], b1 = buffer[offset + 1]
        guard b0 & 0x70 == 0 else { throw WebSocketError(.protocolError, "reserved bits set, but no extension was negotiated") }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else {
            throw WebSocketError(.protocolError, "unknown opcode \(b0 & 0x0F)")
        }
        let fin = b0 & 0x80 != 0
        let masked = b1 & 0x80 != 0
        if requireMask, !masked { throw WebSocketError(.protocolError, "client frames must be masked") }
        if !requireMask, masked { throw WebSocketError(.protocolError, "server frames must not be masked") }
        var header = 2
        var length = UInt64(b1 & 0x7F)
        if length == 126 {
            guard available >= 4 else { return nil }
            length = UInt64(buffer[offset + 2]) << 8 | UInt64(buffer[offset + 3])
            header = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = 0
            for i in 0..<8 { length = length << 8 | UInt64(buffer[offset + 2 + i]) }
            guard length >> 63 == 0 else { throw WebSocketError(.protocolError, "a 64-bit payload length must have its top bit clear") }
            header = 10
        }
        if opcode.isControl {
            guard fin else { throw WebSocketError(.protocolError, "control frames must not be fragmented") }
            guard length <= 125 else { throw WebSocketError(.protocolError, "control frames carry at most 125 bytes") }
        }
        guard length <= UInt64(maxPayload) else {
            throw WebSocketError(.messageTooBig, "a frame of \(length) bytes is over the \(maxPayload)-byte limit")
        }
        let maskStart = header
        if masked { header += 4 }
        let count = Int(length)
        guard available >= header + count else { return nil }
        let payloadStart = offset + header
        var payload = Array(buffer[payloadStart..<(payloadStart + count)])
        if masked {
            let key = (buffer[offset + maskStart], buffer[offset + maskStart + 1], buffer[offset + maskStart + 2], buffer[offset + maskStart + 3])
            payload.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count {
                    switch i & 3 {
                    case 0: p[i] ^= key.0
                    case 1: p[i] ^= key.1
                    case 2: p[i] ^= key.2
                    default: p[i] ^= key.3
                    }
                }
            }
        }
        offset += header + count
        return WebSocketFrame(fin: fin, opcode: opcode, payload: payload)
    }
}

enum WebSocketMessage: Equatable, Sendable {
    case text(String)
    case binary([UInt8])
}

/// Joins data frames into messages (section 5.4): a text or binary frame starts a message, `0`
/// frames continue it, FIN ends it. A continuation with nothing to continue, or a new message
/// while one is open, is 1002; a message over `maxMessage` bytes is 1009 (as soon as it passes);
/// text must be valid UTF-8 (1007).
struct WebSocketMessageAssembler {
    let maxMessage: Int
    private var opcode: WebSocketOpcode?
    private var parts: [UInt8] = []

    init(maxMessage: Int) { self.maxMessage = maxMessage }

    /// The message `frame` completes, nil when more frames are to come. Data frames only.
    mutating func add(_ frame: WebSocketFrame) throws(WebSocketError) -> WebSocketMessage? {
        switch frame.opcode {
        case .continuation:
            guard opcode != nil else { throw WebSocketError(.protocolError, "a continuation frame with no message to continue") }
        case .text, .binary:
            guard opcode == nil else { throw WebSocketError(.protocolError, "a new message began before the fragmented one ended") }
            opcode = frame.opcode
        default:
            throw WebSocketError(.protocolError, "control frames are not part of messages")
        }
        guard parts.count + frame.payload.count <= maxMessage else {
            throw WebSocketError(.messageTooBig, "a message over the \(maxMessage)-byte limit")
        }
        parts += frame.payload
        guard frame.fin else { return nil }
        defer { opcode = nil; parts = [] }
        if opcode == .text {
            guard let text = String(validating: parts, as: UTF8.self) else {
                throw WebSocketError(.invalidPayload, "a text message that is not valid UTF-8")
            }
            return .text(text)
        }
        return .binary(parts)
    }
}
