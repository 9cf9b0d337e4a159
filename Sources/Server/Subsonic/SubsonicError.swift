/// A Subsonic failure: answered with HTTP 200 and `status="failed"` plus `error {code, message}`,
/// as the API says (clients read the code, not the HTTP status). Codes are the spec's.
struct SubsonicError: Error, CustomStringConvertible, Sendable, Equatable {
    let code: Int
    let message: String

    var description: String { "Subsonic error \(code): \(message)" }

    static func generic(_ message: String) -> SubsonicError { SubsonicError(code: 0, message: message) }
    static func missing(_ name: String) -> SubsonicError { SubsonicError(code: 10, message: "Required parameter is missing: \(name)") }
    static let wrongCredentials = SubsonicError(code: 40, message: "Wrong username or password.")
    static func tokenUnsupported(_ user: String) -> SubsonicError {
        SubsonicError(code: 41, message: "Token authentication needs a Subsonic password, and \(user) has none: run `timbre user subsonic-password \(user)`, or sign in with apiKey (a Timbre API key).")
    }
    static let conflictingAuthentication = SubsonicError(code: 43, message: "Multiple conflicting authentication mechanisms provided.")
    static let invalidAPIKey = SubsonicError(code: 44, message: "Invalid API key.")
    static func notAuthorized(_ message: String) -> SubsonicError { SubsonicError(code: 50, message: message) }
    static func notFound(_ what: String) -> SubsonicError { SubsonicError(code: 70, message: "\(what) was not found.") }
}
