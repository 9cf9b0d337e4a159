import Foundation

/// What a handler answers.
public struct Response: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// `length` bytes of an open file from `offset`; the daemon closes `descriptor` when sent.
        case file(descriptor: Int32, offset: Int64, length: Int64)
        /// A `101 Switching Protocols`: once it is sent, the connection is the upgrade's.
        case upgrade(ProtocolUpgrade)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int = 200, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status; self.headers = headers; self.body = body
    }

    public var bodyLength: Int64 {
        switch body {
        case let .bytes(bytes): return Int64(bytes.count)
        case let .file(_, _, length): return length
        case .upgrade: return 0
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }()

    public static func json<T: Encodable>(_ value: T, status: Int = 200) throws -> Response {
        Response(status: status, headers: [("Content-Type", "application/json")], body: .bytes(Array(try encoder.encode(value))))
    }

    public static func error(_ error: HTTPError) -> Response {
        struct Payload: Encodable { struct Inner: Encodable { let code: String; let message: String }; let error: Inner }
        let body = (try? encoder.encode(Payload(error: .init(code: error.code, message: error.message)))).map(Array.init)
            ?? Array(#"{"error":{"code":"internal","message":"unencodable error"}}"#.utf8)
        return Response(status: error.status, headers: [("Content-Type", "application/json")] + error.headers, body: .bytes(body))
    }

    public static func noContent() -> Response { Response(status: 204) }

    public static func text(_ text: String, contentType: String = "text/plain; charset=utf-8", status: Int = 200) -> Response {
        Response(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(text.utf8)))
    }
}
