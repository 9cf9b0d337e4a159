import Foundation

/// A Subsonic call's arguments: the query string and, for a form POST (OpenSubsonic's
/// `formPost`), the `application/x-www-form-urlencoded` body, which clients such as
/// py-opensonic use by default so that passwords stay out of URLs.
struct SubsonicRequest: Sendable {
    enum Format: Sendable { case xml, json, jsonp(callback: String) }

    /// Every value of each name, query first, then body.
    let parameters: [String: [String]]
    /// The HTTP request itself (headers such as Range).
    let http: Request

    init(_ request: Request) {
        var parameters: [String: [String]] = [:]
        for (name, value) in request.query { parameters[name, default: []].append(value) }
        if request.method == "POST", request.contentType == "application/x-www-form-urlencoded" {
            for (name, value) in Self.form(request.body) { parameters[name, default: []].append(value) }
        }
        self.parameters = parameters
        http = request
    }

    /// `f`: xml (the default), json, or jsonp with `callback`.
    var format: Format {
        switch value("f")?.lowercased() {
        case "json": return .json
        case "jsonp":
            let callback = value("callback") ?? ""
            // Only a plain identifier path may be echoed back as code.
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_$."))
            guard !callback.isEmpty, callback.count <= 100, callback.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII }) else { return .json }
            return .jsonp(callback: callback)
        default: return .xml
        }
    }

    func value(_ name: String) -> String? { parameters[name]?.first }

    func values(_ name: String) -> [String] { parameters[name] ?? [] }

    /// A required argument; error 10 without it.
    func required(_ name: String) throws -> String {
        guard let text = value(name), !text.isEmpty else { throw SubsonicError.missing(name) }
        return text
    }

    /// An optional integer, clamped into `range` (clients send sizes beyond what a server gives).
    func integer(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = value(name), !text.isEmpty else { return fallback }
        guard let parsed = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw SubsonicError.generic("\(name) must be an integer, not \(String(reflecting: String(text.prefix(40))))")
        }
        return min(max(parsed, range.lowerBound), range.upperBound)
    }

    func optionalInteger(_ name: String) throws -> Int? {
        guard let text = value(name), !text.isEmpty else { return nil }
        guard let parsed = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw SubsonicError.generic("\(name) must be an integer, not \(String(reflecting: String(text.prefix(40))))")
        }
        return parsed
    }

    /// `a=1&b=x+y%21` → [("a", "1"), ("b", "x y!")]; a pair that does not decode keeps its raw text.
    static func form(_ body: [UInt8]) -> [(String, String)] {
        String(decoding: body, as: UTF8.self).split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decoded(parts[0]), parts.count > 1 ? decoded(parts[1]) : "")
        }
    }
}
