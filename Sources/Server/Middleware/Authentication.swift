import Catalog
import Foundation

/// `Authorization: Bearer <key>` → the key's user, or 401. Keys are looked up by their
/// SHA-256 (as stored); a few seconds' cache spares the database on every request, short enough
/// that a revoked key stops working at once for practical purposes (≤ `cacheSeconds`).
final class KeyVerifier: @unchecked Sendable {
    let users: UserRepository
    let cacheSeconds: TimeInterval
    private var cache: [String: (user: User, until: Date)] = [:]
    private let lock = NSLock()

    init(users: UserRepository, cacheSeconds: TimeInterval = 2) {
        self.users = users
        self.cacheSeconds = cacheSeconds
    }

    func user(forKey key: String) throws -> User? {
        let now = Date()
        if let hit = lock.withLock({ cache[key] }), hit.until > now { return hit.user }
        let user = try users.verify(apiKey: key)
        lock.withLock {
            if cache.count > 10_000 { cache.removeAll() }
            if let user { cache[key] = (user, now.addingTimeInterval(cacheSeconds)) } else { cache.removeValue(forKey: key) }
        }
        return user
    }

    func forget() { lock.withLock { cache.removeAll() } }
}

extension Middleware {
    /// Puts the caller in the context, or answers 401 (no key, a malformed header, an unknown or revoked key).
    static func authentication(_ verifier: KeyVerifier) -> Middleware {
        Middleware { next in
            { request, context in
                guard let header = request.header("authorization") else {
                    throw HTTPError(401, "this route needs an API key: send Authorization: Bearer <key> (create one with `timbre user key NAME`)")
                }
                let parts = header.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                    throw HTTPError(401, "the Authorization header must be `Bearer <key>`")
                }
                guard let user = try verifier.user(forKey: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
                    throw HTTPError(401, "the API key is unknown or revoked; ask for a new one (`timbre user key NAME`)")
                }
                var context = context
                context.user = user
                return try next(request, context)
            }
        }
    }

    /// After authentication: admin-only routes answer 403 to a plain user.
    static let requireAdmin = Middleware { next in
        { request, context in
            guard context.user?.isAdmin == true else { throw HTTPError(403, "only an administrator may do this") }
            return try next(request, context)
        }
    }
}
