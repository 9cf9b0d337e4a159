/// An error that carries its HTTP answer: a handler throws it and the router replies
/// `{"error": {"code", "message"}}` with `status`.
public struct HTTPError: Error, CustomStringConvertible, Sendable, Equatable {
    public let status: Int
    public let code: String
    public let message: String
    /// Extra response headers (e.g. `Allow` on a 405).
    public var headers: [(String, String)] = []

    public init(_ status: Int, _ message: String, code: String? = nil) {
        self.status = status
        self.message = message
        self.code = code ?? Self.code(for: status)
    }

    public var description: String { "\(status) \(code): \(message)" }

    public static func == (a: HTTPError, b: HTTPError) -> Bool { a.status == b.status && a.code == b.code && a.message == b.message }

    public static func badRequest(_ message: String) -> HTTPError { HTTPError(400, message) }
    public static func notFound(_ message: String) -> HTTPError { HTTPError(404, message) }
    public static func unprocessable(_ message: String) -> HTTPError { HTTPError(422, message) }

    static func code(for status: Int) -> String {
        switch status {
        case 400: return "bad_request"
        case 401: return "unauthorized"
        case 403: return "forbidden"
        case 404: return "not_found"
        case 405: return "method_not_allowed"
        case 409: return "conflict"
        case 413: return "payload_too_large"
        case 415: return "unsupported_media_type"
        case 416: return "range_not_satisfiable"
        case 422: return "unprocessable"
        case 503: return "unavailable"
        default: return status >= 500 ? "internal" : "error"
        }
    }
}
