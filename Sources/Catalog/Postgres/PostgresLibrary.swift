import CPostgres

/// The libpq Timbre talks to PostgreSQL through, for `timbre info --system`.
public enum PostgresLibrary {
    /// `PQlibVersion()`'s major·10000 + minor as "15.18" (PostgreSQL 10 and later).
    public static var version: String {
        let number = Int(PQlibVersion())
        return "\(number / 10000).\(number % 10000)"
    }
}
