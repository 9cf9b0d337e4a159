import Foundation

public enum UserRole: String, Sendable, CaseIterable, Codable { case admin, user }

public struct User: Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let role: UserRole
    public let createdAt: Date
    public var isAdmin: Bool { role == .admin }
}

/// One API key as listed (never the key itself: only its prefix).
public struct APIKeyInfo: Sendable, Equatable {
    public let id: Int64
    public let userID: Int64
    public let prefix: String
    public let label: String
    public let createdAt: Date
    public let revokedAt: Date?
}

/// Users and their API keys. A key is random, shown once, and stored only as its SHA-256;
/// a user may hold several (one per device or client) and each can be revoked alone.
/// The first user created is the administrator.
public struct UserRepository: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    private static let columns = "u.id, u.name, u.role, u.created_at"

    /// Creates a user with a first key; the returned `apiKey` is the only copy there will ever be.
    /// The first user of a catalog is an admin whatever `admin` says.
    public func add(name: String, admin: Bool = false) throws -> (user: User, apiKey: String) {
        let name = name.trimmed
        guard !name.isEmpty, name.count <= 100 else { throw CatalogError.invalidArgument("a user name must be 1 to 100 characters") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CatalogError.invalidArgument("a user name may not contain control characters")
        }
        let key = Self.newAPIKey()
        do {
            return try pool.withTransaction(retryingOnConnectionLoss: false) { connection in
                // Serialises first-user creation, so two at once cannot both become admin or neither.
                try connection.query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
                let user = try Self.user(connection.query("""
                    INSERT INTO users (name, role)
                    VALUES ($1, CASE WHEN $2 OR NOT EXISTS (SELECT 1 FROM users) THEN 'admin' ELSE 'user' END)
                    RETURNING id, name, role, created_at
                    """, [name, admin]), 0)
                try Self.insertKey(key, userID: user.id, label: "first key", on: connection)
                return (user, key)
            }
        } catch let error as CatalogError where error.sqlState == "23505" {
            throw CatalogError.invalidArgument("a user named \(name) exists already; choose another name")
        }
    }

    /// Issues another key for `userID` (shown once).
    public func issueKey(userID: Int64, label: String = "") throws -> String {
        let key = Self.newAPIKey()
        try pool.withConnection(retryingOnConnectionLoss: false) { connection in
            try Self.insertKey(key, userID: userID, label: label, on: connection)
        }
        return key
    }

    /// Revokes the unrevoked keys of `userID` whose prefix starts with `prefix` (all of them for
    /// an empty prefix); returns how many were revoked.
    @discardableResult
    public func revokeKeys(userID: Int64, prefix: String = "") throws -> Int {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                UPDATE api_keys SET revoked_at = now()
                WHERE user_id = $1 AND revoked_at IS NULL AND starts_with(prefix, $2) RETURNING id
                """, [userID, prefix])
            return rows.rowCount
        }
    }

    public func keys(userID: Int64) throws -> [APIKeyInfo] {
        try pool.withConnection { connection in
            let rows = try connection.query(
                "SELECT id, user_id, prefix, label, created_at, revoked_at FROM api_keys WHERE user_id = $1 ORDER BY id", [userID])
            return try (0..<rows.rowCount).map {
                APIKeyInfo(id: try rows.int($0, 0), userID: try rows.int($0, 1), prefix: try rows.string($0, 2),
                           label: try rows.string($0, 3), createdAt: try rows.date($0, 4), revokedAt: try rows.optionalDate($0, 5))
            }
        }
    }

    /// The user owning `apiKey` if the key exists and is not revoked, else nil.
    public func verify(apiKey: String) throws -> User? {
        guard apiKey.hasPrefix("tmb_"), apiKey.utf8.count < 200 else { return nil }
        return try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(Self.columns) FROM api_keys k JOIN users u ON u.id = k.user_id
                WHERE k.key_hash = $1 AND k.revoked_at IS NULL
                """, [Self.hash(apiKey: apiKey)])
            return rows.rowCount == 0 ? nil : try Self.user(rows, 0)
        }
    }

    public func find(name: String) throws -> User? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM users u WHERE u.name = $1", [name])
            return rows.rowCount == 0 ? nil : try Self.user(rows, 0)
        }
    }

    public func find(id: Int64) throws -> User? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM users u WHERE u.id = $1", [id])
            return rows.rowCount == 0 ? nil : try Self.user(rows, 0)
        }
    }

    public func list() throws -> [User] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM users u ORDER BY u.id")
            return try (0..<rows.rowCount).map { try Self.user(rows, $0) }
        }
    }

    /// The first admin (the one a server's login link signs in as).
    public func firstAdmin() throws -> User? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM users u WHERE u.role = 'admin' ORDER BY u.id LIMIT 1")
            return rows.rowCount == 0 ? nil : try Self.user(rows, 0)
        }
    }

    /// `tmb_` + 32 random bytes in hex (256 bits from the system's CSPRNG).
    static func newAPIKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "tmb_" + bytes.hexString
    }

    static func hash(apiKey: String) -> [UInt8] { SHA256.hash(Array(apiKey.utf8)) }

    private static func insertKey(_ key: String, userID: Int64, label: String, on connection: PostgresConnection) throws {
        try connection.query("INSERT INTO api_keys (user_id, key_hash, prefix, label) VALUES ($1, $2, $3, $4)",
                             [userID, hash(apiKey: key), String(key.prefix(12)), label])
    }

    static func user(_ rows: QueryResult, _ row: Int) throws -> User {
        let roleText = try rows.string(row, 2)
        guard let role = UserRole(rawValue: roleText) else { throw CatalogError.invalidArgument("unknown user role \(roleText)") }
        return User(id: try rows.int(row, 0), name: try rows.string(row, 1), role: role, createdAt: try rows.date(row, 3))
    }
}
