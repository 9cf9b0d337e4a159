import Foundation

/// Any JSON value, for passing through what Timbre stores as JSON (a model's metrics).
indirect enum JSONValue: Codable, Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(parsing text: String) {
        self = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .object([:])
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(n): try c.encode(n)
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }
}

/// Strict JSON bodies: the right media type, well-formed, an object with only known keys,
/// each of the right type — or a 400/415 that says which.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, allowedKeys: Set<String>) throws -> T {
        guard request.contentType == "application/json" else {
            throw HTTPError(415, "send the body as application/json")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(request.body), options: [])
        } catch {
            throw HTTPError.badRequest("the body is not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else { throw HTTPError.badRequest("the body must be a JSON object") }
        if let unknown = dictionary.keys.sorted().first(where: { !allowedKeys.contains($0) }) {
            throw HTTPError.badRequest("unknown field \(String(reflecting: String(unknown.prefix(40)))); allowed: \(allowedKeys.sorted().joined(separator: ", "))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(request.body))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw HTTPError.badRequest("field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type: \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, _) {
            throw HTTPError.badRequest("field \(key.stringValue) is required")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw HTTPError.badRequest("field \(context.codingPath.map(\.stringValue).joined(separator: ".")) holds a number or value "
                                       + "this field cannot take (wrong type or out of range)")
        } catch {
            throw HTTPError.badRequest("the body does not match what this route takes: \(error)")
        }
    }
}
