import Foundation

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
