import Foundation

/// One-time login tokens, as Jupyter's: `timbre serve` prints a URL with one in its fragment
/// (never sent to the server as part of a URL, so never in an access log); the web UI trades it
/// once for an API key. Kept in memory only; a restart issues a new one.
final class LoginTokens: @unchecked Sendable {
    private var tokens: [String: (userID: Int64, expires: Date)] = [:]
    private let lock = NSLock()

    func issue(userID: Int64, lifetime: TimeInterval = 24 * 3600) -> String {
        var generator = SystemRandomNumberGenerator()
        let token = (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        lock.withLock { tokens[token] = (userID, Date().addingTimeInterval(lifetime)) }
        return token
    }

    /// The token's user, once: the token is gone afterwards.
    func redeem(_ token: String) -> Int64? {
        lock.withLock {
            guard let entry = tokens.removeValue(forKey: token), entry.expires > Date() else { return nil }
            return entry.userID
        }
    }
}
