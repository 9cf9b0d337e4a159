import Foundation

/// A part of a multipart/form-data body.
public struct UploadedPart: Sendable {
    public var filename: String?
    public var contentType: String?
    public var data: [UInt8] = []
}

/// An HTTP request as a handler sees it: everything read, the body complete.
public struct Request: Sendable {
    public let method: String
    /// The decoded path, without the query.
    public let path: String
    /// Query arguments (the last value of a repeated name; a bare `?flag` is "").
    public let query: [String: String]
    /// Header names lower-cased.
    public let headers: [String: String]
    /// The raw body (empty for multipart uploads, whose parts are in `parts`).
    public let body: [UInt8]
    public let parts: [String: UploadedPart]
    /// Path parameters the route matched (`{id}` → "12").
    public var parameters: [String: String] = [:]

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
                body: [UInt8] = [], parts: [String: UploadedPart] = [:]) {
        self.method = method; self.path = path; self.query = query; self.headers = headers; self.body = body; self.parts = parts
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The media type of the body, lower-cased, without parameters.
    public var contentType: String? {
        header("content-type").map { $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? "" }
    }

    /// An integer path parameter ≥ 1 (ids); anything else is a 404, as a missing id is.
    public func id(_ name: String) throws -> Int64 {
        guard let text = parameters[name], let value = Int64(text), value >= 1 else {
            throw HTTPError.notFound("no \(name == "id" ? "item" : name) \(parameters[name] ?? "") here; ids are positive integers")
        }
        return value
    }

    public func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = query[name] else { return value }
        guard let parsed = Int(text), range.contains(parsed) else {
            throw HTTPError.badRequest("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not \(String(reflecting: String(text.prefix(40))))")
        }
        return parsed
    }

    public func number(_ name: String, default value: Float, in range: ClosedRange<Float>) throws -> Float {
        guard let text = query[name] else { return value }
        guard let parsed = Float(text), parsed.isFinite, range.contains(parsed) else {
            throw HTTPError.badRequest("\(name) must be a number from \(range.lowerBound) to \(range.upperBound), not \(String(reflecting: String(text.prefix(40))))")
        }
        return parsed
    }

    public func flag(_ name: String) throws -> Bool {
        guard let text = query[name]?.lowercased() else { return false }
        switch text {
        case "", "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw HTTPError.badRequest("\(name) must be true or false, not \(String(reflecting: String(text.prefix(40))))")
        }
    }
}
