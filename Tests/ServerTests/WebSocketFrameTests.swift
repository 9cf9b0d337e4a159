import Foundation
import XCTest
@testable import Server

/// RFC 6455 framing, message assembly and the handshake's SHA-1, without a socket.
final class WebSocketFrameTests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// FIPS 180-2 appendix A vectors, the empty string, and a million a's (many blocks, updates
    /// of odd sizes).
    func testSHA1Vectors() {
        XCTAssertEqual(hex(SHA1.hash(Array("abc".utf8))), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(SHA1.hash([UInt8]())), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex(SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        var hasher = SHA1()
        var left = 1_000_000
        var size = 1
        while left > 0 {
            let n = min(size, left)
            hasher.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            left -= n
            size = size * 3 % 1000 + 1
        }
        XCTAssertEqual(hex(hasher.finalize()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// RFC 6455 section 1.3's example key.
    func testAcceptKeyOfTheRFCExample() {
        XCTAssertEqual(WebSocketHandshake.accept(key: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    func testHandshakeChecksTheRequest() throws {
        func request(_ headers: [String: String]) -> Request { Request(method: "GET", path: "/api/v1/stream", headers: headers) }
        let good = ["upgrade": "websocket", "connection": "keep-alive, Upgrade", "sec-websocket-version": "13",
                    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-protocol": "timbre, tmb_00"]
        let headers = try WebSocketHandshake.responseHeaders(for: request(good), subprotocol: "timbre")
        XCTAssertTrue(headers.contains { $0 == ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") })
        XCTAssertTrue(headers.contains { $0 == ("Sec-WebSocket-Protocol", "timbre") })
        XCTAssertEqual(WebSocketHandshake.offeredProtocols(request(good)), ["timbre", "tmb_00"])
        func status(_ change: [String: String?]) -> Int? {
            var headers = good
            for (k, v) in change { headers[k] = v }
            do { _ = try WebSocketHandshake.responseHeaders(for: request(headers.compactMapValues { $0 }), subprotocol: nil); return nil }
            catch let error as HTTPError { return error.status } catch { return -1 }
        }
        XCTAssertEqual(status(["upgrade": nil]), 426)
        XCTAssertEqual(status(["connection": "keep-alive"]), 426)
        XCTAssertEqual(status(["sec-websocket-version": "8"]), 426)
        XCTAssertEqual(status(["sec-websocket-key": "c2hvcnQ="]), 400)
        XCTAssertEqual(status(["sec-websocket-key": nil]), 400)
    }

    func parse(_ bytes: [UInt8], maxPayload: Int = 1 << 20) throws -> [WebSocketFrame] {
        var parser = WebSocketFrameParser(maxPayload: maxPayload)
        var frames: [WebSocketFrame] = []
        // One byte at a time: every header and payload boundary is crossed.
        for byte in bytes {
            parser.append([byte])
            while let frame = try parser.next() { frames.append(frame) }
        }
        XCTAssertEqual(parser.buffered, 0)
        return frames
    }

    func testMaskedFramesOfEveryLengthEncodingRoundTrip() throws {
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        for count in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
            let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let bytes = WebSocketFrame.encode(.binary, payload, mask: mask)
            let header = count <= 125 ? 2 : count <= 65535 ? 4 : 10
            XCTAssertEqual(bytes.count, header + 4 + count, "\(count)")
            XCTAssertEqual(bytes[1] & 0x7F, count <= 125 ? UInt8(count) : count <= 65535 ? 126 : 127)
            var parser = WebSocketFrameParser(maxPayload: 1 << 20)
            parser.append(bytes)
            XCTAssertEqual(try parser.next(), WebSocketFrame(fin: true, opcode: .binary, payload: payload), "\(count)")
            XCTAssertNil(try parser.next())
        }
        // The RFC's own example (section 5.7): a masked "Hello".
        XCTAssertEqual(try parse([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
                       [WebSocketFrame(fin: true, opcode: .text, payload: Array("Hello".utf8))])
        // A server frame is unmasked, with the 16-bit length for 256 bytes.
        XCTAssertEqual(Array(WebSocketFrame.encode(.binary, [UInt8](repeating: 0, count: 256)).prefix(4)), [0x82, 0x7E, 0x01, 0x00])
    }

    func assertFails(_ bytes: [UInt8], _ code: WebSocketCloseCode, maxPayload: Int = 1 << 20, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(bytes, maxPayload: maxPayload), file: file, line: line) { error in
            XCTAssertEqual((error as? WebSocketError)?.code, code, "\(error)", file: file, line: line)
        }
    }

    func testMalformedFramesFailWithTheirCodes() {
        let mask: [UInt8] = [1, 2, 3, 4]
        assertFails(WebSocketFrame.encode(.text, Array("hi".utf8)), .protocolError)  // unmasked
        var reserved = WebSocketFrame.encode(.text, [1], mask: mask)
        reserved[0] |= 0x40
        assertFails(reserved, .protocolError)
        var unknown = WebSocketFrame.encode(.text, [1], mask: mask)
        unknown[0] = 0x83
        assertFails(unknown, .protocolError)
        assertFails(WebSocketFrame.encode(.ping, [UInt8](repeating: 0, count: 126), mask: mask), .protocolError)
        assertFails(WebSocketFrame.encode(.ping, [1], fin: false, mask: mask), .protocolError)
        assertFails(WebSocketFrame.encode(.binary, [UInt8](repeating: 0, count: 2000), mask: mask), .messageTooBig, maxPayload: 1000)
        // Too big is decided from the header alone, before the payload arrives.
        var parser = WebSocketFrameParser(maxPayload: 1000)
        parser.append(Array(WebSocketFrame.encode(.binary, [UInt8](repeating: 0, count: 70000), mask: mask).prefix(14)))
        XCTAssertThrowsError(try parser.next())
        var huge: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0] + mask
        assertFails(huge, .protocolError)
        huge[2] = 0; huge[3] = 1
        assertFails(huge + [0], .messageTooBig)
    }

    func testFragmentedMessagesAndTheirRules() throws {
        let mask: [UInt8] = [9, 8, 7, 6]
        let frames = try parse(WebSocketFrame.encode(.text, Array("Hel".utf8), fin: false, mask: mask)
            + WebSocketFrame.encode(.ping, Array("p".utf8), mask: mask)
            + WebSocketFrame.encode(.continuation, Array("lo ".utf8), fin: false, mask: mask)
            + WebSocketFrame.encode(.continuation, Array("wörld".utf8), mask: mask))
        XCTAssertEqual(frames.map(\.opcode), [.text, .ping, .continuation, .continuation])
        var assembler = WebSocketMessageAssembler(maxMessage: 100)
        var messages: [WebSocketMessage] = []
        for frame in frames where !frame.opcode.isControl {
            if let message = try assembler.add(frame) { messages.append(message) }
        }
        XCTAssertEqual(messages, [.text("Hello wörld")])

        func fails(_ frames: [WebSocketFrame], _ code: WebSocketCloseCode, maxMessage: Int = 100) {
            var assembler = WebSocketMessageAssembler(maxMessage: maxMessage)
            XCTAssertThrowsError(try frames.forEach { _ = try assembler.add($0) }) { error in
                XCTAssertEqual((error as? WebSocketError)?.code, code)
            }
        }
        fails([WebSocketFrame(fin: true, opcode: .continuation, payload: [1])], .protocolError)
        fails([WebSocketFrame(fin: false, opcode: .binary, payload: [1]), WebSocketFrame(fin: true, opcode: .text, payload: [1])], .protocolError)
        fails([WebSocketFrame(fin: false, opcode: .binary, payload: [UInt8](repeating: 0, count: 60)),
               WebSocketFrame(fin: true, opcode: .continuation, payload: [UInt8](repeating: 0, count: 60))], .messageTooBig)
        // Invalid UTF-8, also when a sequence is split across fragments and never completed.
        fails([WebSocketFrame(fin: true, opcode: .text, payload: [0xC3, 0x28])], .invalidPayload)
        fails([WebSocketFrame(fin: false, opcode: .text, payload: [0x61, 0xE2, 0x82]), WebSocketFrame(fin: true, opcode: .continuation, payload: [0x61])],
              .invalidPayload)
        var split = WebSocketMessageAssembler(maxMessage: 100)
        XCTAssertNil(try split.add(WebSocketFrame(fin: false, opcode: .text, payload: [0xE2, 0x82])))
        XCTAssertEqual(try split.add(WebSocketFrame(fin: true, opcode: .continuation, payload: [0xAC])), .text("€"))
    }

    func testCloseCodesAndReasons() {
        XCTAssertEqual(WebSocketFrame.closePayload(.policyViolation, reason: "no key"), [0x03, 0xF0] + Array("no key".utf8))
        // A long reason is cut to 123 bytes, never inside a character.
        let payload = WebSocketFrame.closePayload(.normal, reason: String(repeating: "é", count: 100))
        XCTAssertLessThanOrEqual(payload.count, 125)
        XCTAssertNotNil(String(validating: payload[2...], as: UTF8.self))
        XCTAssertTrue(WebSocketCloseCode.isValidOnTheWire(1000))
        XCTAssertTrue(WebSocketCloseCode.isValidOnTheWire(4000))
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 2000, 5000] { XCTAssertFalse(WebSocketCloseCode.isValidOnTheWire(code), "\(code)") }
    }

    func testStartMessageParsing() throws {
        let start = try StreamStart(parsing: #"{"api_key":"tmb_1","sample_rate":44100,"channels":2,"format":"s16le","hop_seconds":1.5,"threshold":0.3}"#)
        XCTAssertEqual(start.sampleRate, 44100)
        XCTAssertEqual(start.channels, 2)
        XCTAssertEqual(start.format, .s16le)
        XCTAssertEqual(start.hopSeconds, 1.5)
        XCTAssertEqual(start.apiKey, "tmb_1")
        for bad in ["[]", "{}", #"{"sample_rate":44100,"channels":2,"format":"mp3"}"#, #"{"sample_rate":10,"channels":2,"format":"f32le"}"#,
                    #"{"sample_rate":44100,"channels":0,"format":"f32le"}"#, #"{"sample_rate":44100,"channels":1,"format":"f32le","hop_seconds":-1}"#] {
            XCTAssertThrowsError(try StreamStart(parsing: bad), bad) { XCTAssertEqual(($0 as? WebSocketError)?.code, .unsupportedData) }
        }
        XCTAssertEqual(StreamStart.Format.s16le.decode([0x00, 0x80, 0xFF, 0x7F, 0x00, 0x40][...]), [-1, 32767.0 / 32768, 0.5])
        XCTAssertEqual(StreamStart.Format.f32le.decode([0x00, 0x00, 0x80, 0x3F][...]), [1])
    }
}
