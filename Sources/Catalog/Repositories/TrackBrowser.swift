import Foundation

/// What a user asks of their library: the tracks that match, a page at a time.
public struct TrackFilter: Sendable, Equatable {
    /// An effective tag: predicted at `minimumProbability` or more under `modelID` and not removed
    /// by the user, or added by the user.
    public var tag: String?
    public var minimumProbability: Float = 0.5
    /// Case-insensitive substring of the path, title, artist or album.
    public var text: String?
    public var libraryID: Int64?
    /// Without a status, gone tracks are left out.
    public var status: TrackStatus?
    public var limit = 50
    /// Keyset pagination: only tracks with a larger id.
    public var afterID: Int64?
    public init() {}
}

/// The tracks a user may see, in the ways the API and the CLI browse them. Ownership is part
/// of every query, so another user's track is simply not there (the API answers 404 for it
/// exactly as for an id that does not exist).
public struct TrackBrowser: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    /// One page of `ownerID`'s tracks matching `filter`, by id; `hasMore` tells whether a next page exists.
    public func page(ownerID: Int64, modelID: Int64?, filter: TrackFilter) throws -> (tracks: [Track], hasMore: Bool) {
        let limit = max(1, min(filter.limit, 500))
        let pattern = filter.text.map { "%" + Self.escapeLike($0) + "%" }
        return try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(TrackRepository.joinedColumns) FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE l.owner_id = $1
                  AND t.id > $2::bigint
                  AND ($3::bigint IS NULL OR t.library_id = $3::bigint)
                  AND (CASE WHEN $4::text IS NULL THEN t.status <> 'gone' ELSE t.status = $4::text END)
                  AND ($5::text IS NULL OR t.path ILIKE $5::text OR t.title ILIKE $5::text OR t.artist ILIKE $5::text
                       OR t.album ILIKE $5::text)
                  AND ($6::text IS NULL OR (
                        coalesce((SELECT c.action FROM corrections c WHERE c.track_id = t.id AND c.user_id = $1 AND c.label = $6::text
                                  ORDER BY c.created_at DESC, c.id DESC LIMIT 1),
                                 CASE WHEN EXISTS (SELECT 1 FROM predictions p WHERE p.track_id = t.id AND p.model_id = $7::bigint
                                                   AND p.label = $6::text AND p.probability >= $8::real)
                                      THEN 'added' ELSE 'removed' END) = 'added'))
                ORDER BY t.id LIMIT $9
                """, [ownerID, filter.afterID ?? 0, filter.libraryID, filter.status?.rawValue, pattern, filter.tag, modelID,
                      filter.minimumProbability, limit + 1])
            let tracks = try (0..<min(rows.rowCount, limit)).map { try TrackRepository.track(rows, $0) }
            return (tracks, rows.rowCount > limit)
        }
    }

    /// The track if `ownerID` owns it (gone tracks included), with its file's absolute path and
    /// its library's root (which the file must still be inside when it is opened).
    public func owned(trackID: Int64, ownerID: Int64) throws -> (track: Track, absolutePath: String, libraryRoot: String)? {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(TrackRepository.joinedColumns), l.root_path FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE t.id = $1 AND l.owner_id = $2
                """, [trackID, ownerID])
            guard rows.rowCount == 1 else { return nil }
            let track = try TrackRepository.track(rows, 0)
            let root = try rows.string(0, 17)
            return (track, root + "/" + track.path, root)
        }
    }

    /// The given tracks that `ownerID` owns, by id.
    public func owned(trackIDs: [Int64], ownerID: Int64) throws -> [Int64: Track] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(TrackRepository.joinedColumns) FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE t.id = ANY($1::bigint[]) AND l.owner_id = $2
                """, [trackIDs, ownerID])
            var result: [Int64: Track] = [:]
            for row in 0..<rows.rowCount { let track = try TrackRepository.track(rows, row); result[track.id] = track }
            return result
        }
    }

    /// Per track (not gone) of any owner: owner, library, artist and album — what a shared similarity index scopes by.
    public func ownership() throws -> [Int64: TrackOwnership] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT t.id, l.owner_id, t.library_id, t.artist, t.album FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE t.status <> 'gone'
                """)
            var result: [Int64: TrackOwnership] = [:]
            result.reserveCapacity(rows.rowCount)
            for row in 0..<rows.rowCount {
                result[try rows.int(row, 0)] = TrackOwnership(ownerID: try rows.int(row, 1), libraryID: try rows.int(row, 2),
                                                              artist: try rows.optionalString(row, 3), album: try rows.optionalString(row, 4))
            }
            return result
        }
    }

    /// `%`, `_` and `\` match themselves.
    static func escapeLike(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}

public struct TrackOwnership: Sendable, Equatable {
    public let ownerID: Int64
    public let libraryID: Int64
    public let artist: String?
    public let album: String?
    public init(ownerID: Int64, libraryID: Int64, artist: String?, album: String?) {
        self.ownerID = ownerID; self.libraryID = libraryID; self.artist = artist; self.album = album
    }
}
