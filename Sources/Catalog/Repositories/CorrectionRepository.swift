import Foundation

/// A tag label as users type it, made canonical: trimmed, lower-case, runs of white space → `-`.
/// 1–64 characters, no control characters.
public enum TagLabel {
    public static let maximumLength = 64

    public static func normalised(_ raw: String) throws -> String {
        guard !raw.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CatalogError.invalidArgument("the label \(String(reflecting: raw)) contains control characters; use letters, digits and dashes")
        }
        let words = raw.lowercased().split(whereSeparator: { $0.isWhitespace })
        let label = words.joined(separator: "-")
        guard !label.isEmpty else { throw CatalogError.invalidArgument("a label cannot be empty") }
        guard label.count <= maximumLength else {
            throw CatalogError.invalidArgument("the label \(label.prefix(20))… is \(label.count) characters; at most \(maximumLength) are allowed")
        }
        return label
    }
}

public enum CorrectionAction: String, Sendable, CaseIterable { case added, removed }

public struct Correction: Sendable, Equatable {
    public let id: Int64
    public let trackID: Int64
    public let userID: Int64
    public let label: String
    public let action: CorrectionAction
    public let createdAt: Date
}

/// Users' corrections of predicted tags: one row per change, never rewritten, so the history
/// (who changed what, when) is kept and retraining can tell which ones it has used. The
/// latest correction of a label on a track wins.
public struct CorrectionRepository: Sendable {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    /// Records additions and removals (labels normalised; a label in both lists is an error)
    /// in one transaction. Returns the rows written.
    @discardableResult
    public func record(trackID: Int64, userID: Int64, add: [String], remove: [String]) throws -> [Correction] {
        let added = try Set(add.map(TagLabel.normalised)), removed = try Set(remove.map(TagLabel.normalised))
        if let both = added.intersection(removed).sorted().first {
            throw CatalogError.invalidArgument("\(both) is both added and removed; give each label once")
        }
        let labels = added.sorted() + removed.sorted()
        let actions = added.sorted().map { _ in CorrectionAction.added.rawValue } + removed.sorted().map { _ in CorrectionAction.removed.rawValue }
        guard !labels.isEmpty else { return [] }
        return try pool.withTransaction(retryingOnConnectionLoss: false) { connection in
            let rows = try connection.query("""
                INSERT INTO corrections (track_id, user_id, label, action)
                SELECT $1, $2, l, a FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS u (l, a, n) ORDER BY n
                RETURNING id, track_id, user_id, label, action, created_at
                """, [trackID, userID, labels, actions])
            return try (0..<rows.rowCount).map { try Self.correction(rows, $0) }
        }
    }

    /// `userID`'s corrections of `trackID`, oldest first.
    public func list(trackID: Int64, userID: Int64) throws -> [Correction] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT id, track_id, user_id, label, action, created_at FROM corrections
                WHERE track_id = $1 AND user_id = $2 ORDER BY created_at, id
                """, [trackID, userID])
            return try (0..<rows.rowCount).map { try Self.correction(rows, $0) }
        }
    }

    /// The latest action per label, for each of `trackIDs`, by `userID`.
    public func latest(trackIDs: [Int64], userID: Int64) throws -> [Int64: [String: CorrectionAction]] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT DISTINCT ON (track_id, label) track_id, label, action FROM corrections
                WHERE user_id = $1 AND track_id = ANY($2::bigint[])
                ORDER BY track_id, label, created_at DESC, id DESC
                """, [userID, trackIDs])
            var result: [Int64: [String: CorrectionAction]] = [:]
            for row in 0..<rows.rowCount {
                if let action = CorrectionAction(rawValue: try rows.string(row, 2)) {
                    result[try rows.int(row, 0), default: [:]][try rows.string(row, 1)] = action
                }
            }
            return result
        }
    }

    /// Per label: how many (track, user) pairs have it added or removed as their latest correction.
    public func labelCounts(ownerID: Int64) throws -> [String: (added: Int, removed: Int)] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT label, count(*) FILTER (WHERE action = 'added'), count(*) FILTER (WHERE action = 'removed') FROM (
                    SELECT DISTINCT ON (c.track_id, c.label) c.label, c.action FROM corrections c
                    JOIN tracks t ON t.id = c.track_id JOIN libraries l ON l.id = t.library_id
                    WHERE l.owner_id = $1 AND c.user_id = $1
                    ORDER BY c.track_id, c.label, c.created_at DESC, c.id DESC
                ) latest GROUP BY label
                """, [ownerID])
            var result: [String: (added: Int, removed: Int)] = [:]
            for row in 0..<rows.rowCount {
                result[try rows.string(row, 0)] = (Int(try rows.int(row, 1)), Int(try rows.int(row, 2)))
            }
            return result
        }
    }

    static func correction(_ rows: QueryResult, _ row: Int) throws -> Correction {
        Correction(id: try rows.int(row, 0), trackID: try rows.int(row, 1), userID: try rows.int(row, 2),
                   label: try rows.string(row, 3), action: CorrectionAction(rawValue: try rows.string(row, 4)) ?? .added,
                   createdAt: try rows.date(row, 5))
    }
}
