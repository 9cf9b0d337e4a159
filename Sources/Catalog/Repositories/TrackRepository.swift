import Foundation

public enum TrackStatus: String, Sendable, CaseIterable { case pending, tagged, failed, gone }

/// Tags found inside the file (ID3, Vorbis comments, …) and its audio properties; all optional.
public struct TrackMetadata: Sendable, Equatable {
    public var format: String?
    public var durationSeconds: Double?
    public var title: String?
    public var artist: String?
    public var album: String?
    public var genre: String?
    public var year: Int?
    public init(format: String? = nil, durationSeconds: Double? = nil, title: String? = nil, artist: String? = nil,
                album: String? = nil, genre: String? = nil, year: Int? = nil) {
        self.format = format; self.durationSeconds = durationSeconds; self.title = title; self.artist = artist
        self.album = album; self.genre = genre; self.year = year
    }
}

public struct Track: Sendable, Equatable {
    public let id: Int64
    public let libraryID: Int64
    public let path: String
    public let size: Int64
    public let mtimeNanoseconds: Int64
    public let contentHash: [UInt8]
    public let metadata: TrackMetadata
    public let status: TrackStatus
    public let lastError: String?
    public let firstSeenAt: Date
    public let lastSeenAt: Date
}

/// What the crawler needs to know of a stored track to decide whether the file changed.
struct KnownFile {
    let id: Int64
    let path: String
    let size: Int64
    let mtimeNanoseconds: Int64
    let contentHash: [UInt8]
    let status: TrackStatus
    /// Failed only because the file could not be read (see `markFailed(unreadable:)`).
    let failedUnreadable: Bool
}

/// Tracks: reads for everyone, batch writes for the crawler (inside its transactions).
public struct TrackRepository: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    static let columns = """
        id, library_id, path, size, mtime_ns, content_hash, format, duration_seconds, title, artist, album, genre, year,
        status, last_error, first_seen_at, last_seen_at
        """

    /// `columns` qualified with the `t.` alias, for queries that join `libraries`.
    static let joinedColumns = columns.split(separator: ",")
        .map { "t." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")

    public func track(id: Int64) throws -> Track? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM tracks WHERE id = $1", [id])
            return rows.rowCount == 0 ? nil : try Self.track(rows, 0)
        }
    }

    public func track(libraryID: Int64, path: String) throws -> Track? {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM tracks WHERE library_id = $1 AND path = $2", [libraryID, path])
            return rows.rowCount == 0 ? nil : try Self.track(rows, 0)
        }
    }

    /// The track, the absolute path of its file (library root + relative path) and the library's
    /// root (what the worker confines the file to).
    public func location(trackID: Int64) throws -> (track: Track, absolutePath: String, libraryRoot: String)? {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(Self.joinedColumns),
                       l.root_path
                FROM tracks t JOIN libraries l ON l.id = t.library_id WHERE t.id = $1
                """, [trackID])
            guard rows.rowCount == 1 else { return nil }
            let track = try Self.track(rows, 0)
            let root = try rows.string(0, 17)
            return (track, root + "/" + track.path, root)
        }
    }

    /// The track whose file is at `absolutePath` (library root + relative path), if it is not gone.
    public func track(absolutePath: String) throws -> Track? {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(Self.joinedColumns)
                FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE l.root_path || '/' || t.path = $1 AND t.status <> 'gone'
                ORDER BY t.id LIMIT 1
                """, [absolutePath])
            return rows.rowCount == 0 ? nil : try Self.track(rows, 0)
        }
    }

    /// Absolute file paths of the given tracks, by id (ids that do not exist are left out).
    public func absolutePaths(trackIDs: [Int64]) throws -> [Int64: String] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT t.id, l.root_path || '/' || t.path FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE t.id = ANY($1::bigint[])
                """, [trackIDs])
            var paths: [Int64: String] = [:]
            for row in 0..<rows.rowCount { paths[try rows.int(row, 0)] = try rows.string(row, 1) }
            return paths
        }
    }

    public func tracks(libraryID: Int64) throws -> [Track] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM tracks WHERE library_id = $1 ORDER BY path", [libraryID])
            return try (0..<rows.rowCount).map { try Self.track(rows, $0) }
        }
    }

    public func counts(libraryID: Int64? = nil) throws -> [TrackStatus: Int] {
        try pool.withConnection { connection in
            let rows = try connection.query(
                "SELECT status, count(*) FROM tracks WHERE $1::bigint IS NULL OR library_id = $1::bigint GROUP BY status", [libraryID])
            var counts: [TrackStatus: Int] = [:]
            for row in 0..<rows.rowCount {
                if let status = TrackStatus(rawValue: try rows.string(row, 0)) { counts[status] = Int(try rows.int(row, 1)) }
            }
            return counts
        }
    }

    /// For the worker: the track could not be tagged (undecodable file, …). `unreadable`: only
    /// because its file could not be read on any attempt (a scan that finds it back queues it again).
    public func markFailed(trackID: Int64, error: String, unreadable: Bool = false) throws {
        try pool.withConnection { try Self.markFailed(trackID: trackID, error: error, unreadable: unreadable, on: $0) }
    }

    static func markFailed(trackID: Int64, error: String, unreadable: Bool = false, on connection: PostgresConnection) throws {
        try connection.query("""
            UPDATE tracks SET status = 'failed', last_error = $2, failed_unreadable = $3 WHERE id = $1 AND status <> 'gone'
            """, [trackID, String(error.prefix(4000)), unreadable])
    }

    public func updateMetadata(trackID: Int64, _ metadata: TrackMetadata) throws {
        try pool.withConnection { try Self.updateMetadata(trackID: trackID, metadata, on: $0) }
    }

    // MARK: Crawler batches

    /// Every track of the library, gone ones included, in one query.
    static func knownFiles(libraryID: Int64, on connection: PostgresConnection) throws -> [KnownFile] {
        let rows = try connection.query(
            "SELECT id, path, size, mtime_ns, content_hash, status, failed_unreadable FROM tracks WHERE library_id = $1", [libraryID])
        var known: [KnownFile] = []
        known.reserveCapacity(rows.rowCount)
        for row in 0..<rows.rowCount {
            known.append(KnownFile(id: try rows.int(row, 0), path: try rows.string(row, 1), size: try rows.int(row, 2),
                                   mtimeNanoseconds: try rows.int(row, 3), contentHash: try rows.bytes(row, 4),
                                   status: TrackStatus(rawValue: try rows.string(row, 5)) ?? .pending,
                                   failedUnreadable: try rows.bool(row, 6)))
        }
        return known
    }

    /// Inserts new files as pending tracks; returns (id, path) of each.
    static func insert(libraryID: Int64, files: [(file: FoundFile, hash: [UInt8])], on connection: PostgresConnection) throws -> [(Int64, String)] {
        guard !files.isEmpty else { return [] }
        let rows = try connection.query("""
            INSERT INTO tracks (library_id, path, size, mtime_ns, content_hash, format)
            SELECT $1, p, s, m, h, f FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bytea[], $6::text[]) AS u (p, s, m, h, f)
            ON CONFLICT (library_id, path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
                content_hash = excluded.content_hash, format = excluded.format, status = 'pending', last_error = NULL,
                last_seen_at = now()
            RETURNING id, path
            """, [libraryID, files.map(\.file.relativePath), files.map(\.file.size), files.map(\.file.mtimeNanoseconds),
                  PostgresValue.bytesArray(files.map(\.hash)), files.map { format(of: $0.file.relativePath) }])
        return try (0..<rows.rowCount).map { (try rows.int($0, 0), try rows.string($0, 1)) }
    }

    /// New content at a known path (or a known track at a new path, when `paths` differ):
    /// the file tags are cleared for re-reading. With `retag` the track becomes pending.
    static func update(_ changes: [(id: Int64, file: FoundFile, hash: [UInt8])], retag: Bool,
                       on connection: PostgresConnection) throws {
        guard !changes.isEmpty else { return }
        try connection.query("""
            UPDATE tracks t SET path = u.p, size = u.s, mtime_ns = u.m, content_hash = u.h, last_seen_at = now(),
                status = CASE WHEN $6 THEN 'pending' ELSE t.status END,
                last_error = CASE WHEN $6 THEN NULL ELSE t.last_error END
            FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[]) AS u (id, p, s, m, h)
            WHERE t.id = u.id
            """, [changes.map(\.id), changes.map(\.file.relativePath), changes.map(\.file.size),
                  changes.map(\.file.mtimeNanoseconds), PostgresValue.bytesArray(changes.map(\.hash)), retag])
    }

    /// Gone tracks seen again: tagged if they have predictions, else pending. Returns the pending ones.
    static func revive(ids: [Int64], on connection: PostgresConnection) throws -> [Int64] {
        guard !ids.isEmpty else { return [] }
        let rows = try connection.query("""
            UPDATE tracks SET status = CASE WHEN EXISTS (SELECT 1 FROM predictions p WHERE p.track_id = tracks.id)
                                       THEN 'tagged' ELSE 'pending' END
            WHERE id = ANY($1::bigint[]) AND status = 'gone'
            RETURNING id, status
            """, [ids])
        return try (0..<rows.rowCount).compactMap { try rows.string($0, 1) == "pending" ? try rows.int($0, 0) : nil }
    }

    static func markGone(ids: [Int64], on connection: PostgresConnection) throws {
        guard !ids.isEmpty else { return }
        try connection.query("UPDATE tracks SET status = 'gone' WHERE id = ANY($1::bigint[]) AND status <> 'gone'", [ids])
    }

    static func updateMetadata(trackID: Int64, _ metadata: TrackMetadata, on connection: PostgresConnection) throws {
        try connection.query("""
            UPDATE tracks SET format = coalesce($2, format), duration_seconds = $3::real, title = $4, artist = $5,
                album = $6, genre = $7, year = $8::integer
            WHERE id = $1
            """, [trackID, metadata.format, metadata.durationSeconds, metadata.title, metadata.artist, metadata.album,
                  metadata.genre, metadata.year])
    }

    /// The lower-cased extension: "mp3", "flac", …
    static func format(of path: String) -> String {
        guard let dot = path.lastIndex(of: ".") else { return "" }
        return path[path.index(after: dot)...].lowercased()
    }

    static func track(_ rows: QueryResult, _ row: Int) throws -> Track {
        let metadata = TrackMetadata(
            format: try rows.optionalString(row, 6), durationSeconds: try rows.optionalDouble(row, 7),
            title: try rows.optionalString(row, 8), artist: try rows.optionalString(row, 9),
            album: try rows.optionalString(row, 10), genre: try rows.optionalString(row, 11),
            year: try rows.optionalInt(row, 12).map { Int($0) })
        return Track(id: try rows.int(row, 0), libraryID: try rows.int(row, 1), path: try rows.string(row, 2),
                     size: try rows.int(row, 3), mtimeNanoseconds: try rows.int(row, 4), contentHash: try rows.bytes(row, 5),
                     metadata: metadata, status: TrackStatus(rawValue: try rows.string(row, 13)) ?? .pending,
                     lastError: try rows.optionalString(row, 14), firstSeenAt: try rows.date(row, 15), lastSeenAt: try rows.date(row, 16))
    }
}
