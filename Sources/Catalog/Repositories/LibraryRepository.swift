import Foundation

public struct Library: Sendable, Equatable {
    public let id: Int64
    public let ownerID: Int64
    /// Canonical absolute path, symlinks resolved.
    public let rootPath: String
    public let createdAt: Date
    public let lastScannedAt: Date?
}

/// Music folders. Roots are canonical and never nested, so every file belongs to one library.
public struct LibraryRepository: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    private static let columns = "id, owner_id, root_path, created_at, last_scanned_at"

    public func add(path: String, ownerID: Int64) throws -> Library {
        let root = try Self.canonicalDirectory(path)
        return try pool.withTransaction(retryingOnConnectionLoss: false) { connection in
            // Serialise adds so two concurrent ones cannot create nested roots.
            try connection.query("LOCK TABLE libraries IN SHARE ROW EXCLUSIVE MODE")
            let clash = try connection.query("""
                SELECT root_path FROM libraries
                WHERE root_path = $1 OR starts_with($1, root_path || '/') OR starts_with(root_path, $1 || '/')
                LIMIT 1
                """, [root])
            if clash.rowCount > 0 {
                let other = try clash.string(0, 0)
                throw CatalogError.invalidArgument(other == root
                    ? "\(root) is a library already"
                    : "\(root) overlaps the library \(other); a folder can be in one library only")
            }
            let rows = try connection.query(
                "INSERT INTO libraries (owner_id, root_path) VALUES ($1, $2) RETURNING \(Self.columns)", [ownerID, root])
            return try Self.library(rows, 0)
        }
    }

    public func list() throws -> [Library] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM libraries ORDER BY id")
            return try (0..<rows.rowCount).map { try Self.library(rows, $0) }
        }
    }

    public func list(ownerID: Int64) throws -> [Library] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM libraries WHERE owner_id = $1 ORDER BY id", [ownerID])
            return try (0..<rows.rowCount).map { try Self.library(rows, $0) }
        }
    }

    /// Tracks not gone, per library.
    public func trackCounts() throws -> [Int64: Int] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT library_id, count(*) FROM tracks WHERE status <> 'gone' GROUP BY library_id")
            var counts: [Int64: Int] = [:]
            for row in 0..<rows.rowCount { counts[try rows.int(row, 0)] = Int(try rows.int(row, 1)) }
            return counts
        }
    }

    /// Forgets a library and everything catalogued from it (tracks, their tags, embeddings,
    /// corrections and jobs); the folder itself is never touched. False when there was none.
    @discardableResult
    public func delete(id: Int64) throws -> Bool {
        try pool.withConnection(retryingOnConnectionLoss: false) { connection in
            try connection.query("DELETE FROM libraries WHERE id = $1 RETURNING id", [id]).rowCount == 1
        }
    }

    public func find(id: Int64) throws -> Library? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM libraries WHERE id = $1", [id])
            return rows.rowCount == 0 ? nil : try Self.library(rows, 0)
        }
    }

    /// The library whose root is `path` or contains it.
    public func find(containing path: String) throws -> Library? {
        let canonical = try Self.canonicalPath(path)
        return try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(Self.columns) FROM libraries
                WHERE root_path = $1 OR starts_with($1, root_path || '/') ORDER BY length(root_path) DESC LIMIT 1
                """, [canonical])
            return rows.rowCount == 0 ? nil : try Self.library(rows, 0)
        }
    }

    public func markScanned(id: Int64) throws {
        try pool.withConnection { try $0.query("UPDATE libraries SET last_scanned_at = now() WHERE id = $1", [id]) }
    }

    /// `realpath(3)`: absolute, no `.`/`..`, symlinks resolved.
    static func canonicalPath(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else {
            throw CatalogError.fileSystem(path: path, message: String(cString: strerror(errno)) + "; give an existing folder")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func canonicalDirectory(_ path: String) throws -> String {
        let canonical = try canonicalPath(path)
        var info = stat()
        guard stat(canonical, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw CatalogError.fileSystem(path: path, message: "not a folder; a library is a folder of music")
        }
        return canonical
    }

    static func library(_ rows: QueryResult, _ row: Int) throws -> Library {
        Library(id: try rows.int(row, 0), ownerID: try rows.int(row, 1), rootPath: try rows.string(row, 2),
                createdAt: try rows.date(row, 3), lastScannedAt: try rows.optionalDate(row, 4))
    }
}
