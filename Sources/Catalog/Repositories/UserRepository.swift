import Foundation

public struct User: Sendable, Equatable {
    public let id: Int64
    public let name: String
    public let createdAt: Date
}

/// Users and their API keys. A key is random, shown once, and stored only as its SHA-256.
public struct UserRepository: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    /// Creates a user; the returned `apiKey` is the only copy there will ever be.
    public func add(name: String) throws -> (user: User, apiKey: String) {
        let name = name.trimmed
        guard !name.isEmpty, name.count <= 100 else { throw CatalogError.invalidArgument("a user name must be 1 to 100 characters") }
        let key = Self.newAPIKey()
        do {
            let user = try pool.withConnection(retryingOnConnectionLoss: false) { connection in
                try Self.user(connection.query(
                    "INSERT INTO users (name, api_key_hash) VALUES ($1, $2) RETURNING id, name, created_at",
                    [name, Self.hash(apiKey: key)]), 0)
            }
            return (user, key)
        } catch let error as CatalogError where error.sqlState == "23505" {
            throw CatalogError.invalidArgument("a user named \(name) exists already; choose another name")
        }
    }

    /// The user owning `apiKey`, or nil for an unknown key.
    public func verify(apiKey: String) throws -> User? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT id, name, created_at FROM users WHERE api_key_hash = $1",
                                            [Self.hash(apiKey: apiKey)])
            return rows.rowCount == 0 ? nil : try Self.user(rows, 0)
        }
    }

    public func find(name: String) throws -> User? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT id, name, created_at FROM users WHERE name = $1", [name])
            return rows.rowCount == 0 ? nil : try Self.user(rows, 0)
        }
    }

    public func list() throws -> [User] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT id, name, created_at FROM users ORDER BY id")
            return try (0..<rows.rowCount).map { try Self.user(rows, $0) }
        }
    }

    /// `tmb_` + 32 random bytes in hex (256 bits from the system's CSPRNG).
    static func newAPIKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "tmb_" + bytes.hexString
    }

    static func hash(apiKey: String) -> [UInt8] { SHA256.hash(Array(apiKey.utf8)) }

    static func user(_ rows: QueryResult, _ row: Int) throws -> User {
        User(id: try rows.int(row, 0), name: try rows.string(row, 1), createdAt: try rows.date(row, 2))
    }
}
