import Foundation

/// A track with where its file is: what a playlist or a duplicate report lists.
public struct LocatedTrack: Sendable, Equatable {
    public let track: Track
    public let ownerID: Int64
    public let libraryRoot: String
    public var absolutePath: String { libraryRoot + "/" + track.path }
}

extension TrackRepository {
    /// The given tracks (gone ones left out), by id, with their files' locations; with
    /// `ownerID`, only that user's (another user's track is simply not there).
    public func located(trackIDs: [Int64], ownerID: Int64? = nil) throws -> [Int64: LocatedTrack] {
        guard !trackIDs.isEmpty else { return [:] }
        return try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT \(Self.joinedColumns), l.root_path, l.owner_id FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE t.id = ANY($1::bigint[]) AND t.status <> 'gone' AND ($2::bigint IS NULL OR l.owner_id = $2::bigint)
                """, [trackIDs, ownerID])
            var result: [Int64: LocatedTrack] = [:]
            for row in 0..<rows.rowCount {
                let track = try Self.track(rows, row)
                result[track.id] = LocatedTrack(track: track, ownerID: try rows.int(row, 18), libraryRoot: try rows.string(row, 17))
            }
            return result
        }
    }

    /// Every track's duration in seconds (nil where the file's header did not tell), gone tracks left out.
    public func durations() throws -> [Int64: Double?] {
        try pool.withConnection { connection in
            let rows = try connection.query("SELECT id, duration_seconds FROM tracks WHERE status <> 'gone'")
            var result: [Int64: Double?] = [:]
            result.reserveCapacity(rows.rowCount)
            for row in 0..<rows.rowCount { result[try rows.int(row, 0)] = try rows.optionalDouble(row, 1) }
            return result
        }
    }
}
