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

/// Clusterings made by `POST /clusters`, kept so `GET /clusters/{id}` can give them again; the
/// 32 most recent are kept, each visible to its owner only.
final class ClusteringStore: @unchecked Sendable {
    private var stored: [(id: Int64, ownerID: Int64, body: [UInt8])] = []
    private var nextID: Int64 = 1
    private let lock = NSLock()

    func add(ownerID: Int64, encode: (Int64) throws -> [UInt8]) rethrows -> (id: Int64, body: [UInt8]) {
        let id = lock.withLock { () -> Int64 in defer { nextID += 1 }; return nextID }
        let body = try encode(id)
        lock.withLock {
            stored.append((id, ownerID, body))
            if stored.count > 32 { stored.removeFirst(stored.count - 32) }
        }
        return (id, body)
    }

    func find(id: Int64, ownerID: Int64) -> [UInt8]? {
        lock.withLock { stored.first { $0.id == id && $0.ownerID == ownerID }?.body }
    }
}
