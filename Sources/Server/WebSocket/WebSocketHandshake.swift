import Foundation

/// The server's side of the opening handshake (RFC 6455, section 4.2): checks the client's
/// request and answers `101` with `Sec-WebSocket-Accept` = base64(SHA-1(key + GUID)).
enum WebSocketHandshake {
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    static func accept(key: String) -> String {
        Data(SHA1.hash(Array((key + guid).utf8))).base64EncodedString()
    }

    /// The client's offered subprotocols, in order (`Sec-WebSocket-Protocol`, comma-separated).
    static func offeredProtocols(_ request: Request) -> [String] {
        (request.header("sec-websocket-protocol") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The headers of the `101` for a valid upgrade request, or the HTTP error to answer instead:
    /// 426 (with `Sec-WebSocket-Version: 13`) for a plain request or another version, 400 for a
    /// malformed key. `subprotocol` is echoed when the client offered it.
    static func responseHeaders(for request: Request, subprotocol: String?) throws -> [(String, String)] {
        let upgrade = request.header("upgrade")?.lowercased() ?? ""
        let connection = (request.header("connection") ?? "").lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard upgrade.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "websocket" }),
              connection.contains("upgrade") else {
            var error = HTTPError(426, "this endpoint speaks WebSocket only: connect with a WebSocket client (Upgrade: websocket)")
            error.headers = [("Sec-WebSocket-Version", "13"), ("Upgrade", "websocket")]
            throw error
        }
        guard request.header("sec-websocket-version")?.trimmingCharacters(in: .whitespaces) == "13" else {
            var error = HTTPError(426, "only WebSocket version 13 (RFC 6455) is spoken here")
            error.headers = [("Sec-WebSocket-Version", "13")]
            throw error
        }
        guard let key = request.header("sec-websocket-key")?.trimmingCharacters(in: .whitespaces),
              let decoded = Data(base64Encoded: key), decoded.count == 16 else {
            throw HTTPError.badRequest("Sec-WebSocket-Key must be 16 bytes in base64")
        }
        var headers = [("Upgrade", "websocket"), ("Sec-WebSocket-Accept", accept(key: key))]
        if let subprotocol, offeredProtocols(request).contains(subprotocol) {
            headers.append(("Sec-WebSocket-Protocol", subprotocol))
        }
        return headers
    }
}
