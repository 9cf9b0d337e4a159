import Foundation

/// What `timbre writeback` put into one file (or took back out with `--undo`).
public struct WritebackRecord: Sendable, Equatable {
    public enum Action: String, Sendable { case write, undo }

    public var trackID: Int64
    /// As given to `--field`: genre, grouping, comment, custom:NAME.
    public var field: String
    /// TagLib's property key: GENRE, GROUPING, COMMENT, NAME.
    public var tagKey: String
    public var action: Action
    /// The field's values after the write.
    public var value: [String]
    /// Its values before, which `--undo` restores.
    public var previousValue: [String]
    /// The file after the write (what the track row now says too).
    public var size: Int64
    public var mtimeNanoseconds: Int64
    public var contentHash: [UInt8]
    public var writtenAt: Date?

    public init(trackID: Int64, field: String, tagKey: String, action: Action, value: [String], previousValue: [String],
                size: Int64, mtimeNanoseconds: Int64, contentHash: [UInt8], writtenAt: Date? = nil) {
        self.trackID = trackID; self.field = field; self.tagKey = tagKey; self.action = action; self.value = value
        self.previousValue = previousValue; self.size = size; self.mtimeNanoseconds = mtimeNanoseconds
        self.contentHash = contentHash; self.writtenAt = writtenAt
    }
}

/// The catalog's side of tag write-back: the per-library switch and the record of every write.
///
/// The contract with the crawler: a write-back renames a new file over the track's file *inside*
/// the transaction that moves the track row to the new file's size, mtime and content hash (the
/// crawler's own `ContentHash`) and records it here. So the next scan finds size and mtime as
/// stored and counts the file unchanged: no re-tagging job, same track id, predictions and
/// embedding kept. The row is locked and must still show the size and mtime the file had when
/// it was planned; otherwise nothing is renamed.
public struct WritebackRepository: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    private static let columns = """
        track_id, field, tag_key, action, value, previous_value, size, mtime_ns, content_hash, written_at
        """

    /// Whether `timbre writeback` may write into the library's files.
    public func isEnabled(libraryID: Int64) throws -> Bool {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT writeback FROM libraries WHERE id = $1", [libraryID])
            guard rows.rowCount == 1 else { throw CatalogError.notFound(what: "library \(libraryID)") }
            return try rows.bool(0, 0)
        }
    }

    public func setEnabled(libraryID: Int64, _ enabled: Bool) throws {
        try pool.withConnection { connection in
            let rows = try connection.query("UPDATE libraries SET writeback = $2 WHERE id = $1 RETURNING id", [libraryID, enabled])
            guard rows.rowCount == 1 else { throw CatalogError.notFound(what: "library \(libraryID)") }
        }
    }

    /// The latest record of each track's `tagKey`, write or undo.
    public func latest(trackIDs: [Int64], tagKey: String) throws -> [Int64: WritebackRecord] {
        guard !trackIDs.isEmpty else { return [:] }
        return try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT DISTINCT ON (track_id) \(Self.columns) FROM writebacks
                WHERE track_id = ANY($1::bigint[]) AND tag_key = $2
                ORDER BY track_id, id DESC
                """, [trackIDs, tagKey])
            var latest: [Int64: WritebackRecord] = [:]
            for row in 0..<rows.rowCount {
                let record = try Self.record(rows, row)
                latest[record.trackID] = record
            }
            return latest
        }
    }

    /// Every record of a track, oldest first.
    public func history(trackID: Int64) throws -> [WritebackRecord] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT \(Self.columns) FROM writebacks WHERE track_id = $1 ORDER BY id", [trackID])
            return try (0..<rows.rowCount).map { try Self.record(rows, $0) }
        }
    }

    /// Locks the track, checks that the catalog still has the file as it was planned
    /// (`expectedSize`, `expectedMtimeNanoseconds`), runs `replaceFile` (the rename), then stores
    /// the new size, mtime and hash on the track (and `genre`, the file's genre as the crawler
    /// reads it, when given) and the record — committed together. `replaceFile` throwing, or the
    /// check failing, leaves file and catalog as they were. Only a lost COMMIT after the rename
    /// leaves the file new and the catalog old: the next scan then sees changed content and
    /// re-tags the track; nothing is lost.
    public func commit(_ record: WritebackRecord, expectedSize: Int64, expectedMtimeNanoseconds: Int64,
                       genre: String??, replaceFile: () throws -> Void) throws {
        try pool.withTransaction(retryingOnConnectionLoss: false) { connection in
            let rows = try connection.query(
                "SELECT size, mtime_ns, status FROM tracks WHERE id = $1 FOR UPDATE", [record.trackID])
            guard rows.rowCount == 1 else { throw CatalogError.notFound(what: "track \(record.trackID)") }
            guard try rows.int(0, 0) == expectedSize, try rows.int(0, 1) == expectedMtimeNanoseconds,
                  try rows.string(0, 2) != TrackStatus.gone.rawValue else {
                throw CatalogError.invalidArgument("track \(record.trackID) was rescanned while its tags were being written; nothing was changed. Run `timbre writeback` again")
            }
            try replaceFile()
            try connection.query("""
                UPDATE tracks SET size = $2, mtime_ns = $3, content_hash = $4,
                    genre = CASE WHEN $5 THEN $6::text ELSE genre END
                WHERE id = $1
                """, [record.trackID, record.size, record.mtimeNanoseconds, PostgresValue.bytes(record.contentHash),
                      genre != nil, genre.flatMap { $0 }])
            try connection.query("""
                INSERT INTO writebacks (track_id, field, tag_key, action, value, previous_value, size, mtime_ns, content_hash)
                VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7, $8, $9)
                """, [record.trackID, record.field, record.tagKey, record.action.rawValue, PostgresValue.textArray(record.value),
                      PostgresValue.textArray(record.previousValue), record.size, record.mtimeNanoseconds,
                      PostgresValue.bytes(record.contentHash)])
        }
    }

    static func record(_ rows: QueryResult, _ row: Int) throws -> WritebackRecord {
        WritebackRecord(trackID: try rows.int(row, 0), field: try rows.string(row, 1), tagKey: try rows.string(row, 2),
                        action: WritebackRecord.Action(rawValue: try rows.string(row, 3)) ?? .write,
                        value: try rows.strings(row, 4), previousValue: try rows.strings(row, 5), size: try rows.int(row, 6),
                        mtimeNanoseconds: try rows.int(row, 7), contentHash: try rows.bytes(row, 8), writtenAt: try rows.date(row, 9))
    }
}
