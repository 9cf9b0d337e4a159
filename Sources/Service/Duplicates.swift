import Catalog
import Foundation
import Similarity

/// A set of files that hold the same recording, as far as the model hears: every one is
/// joined to another by a pair with cosine ≥ the threshold and durations within the tolerance.
public struct DuplicateGroup: Sendable {
    /// Highest average bitrate first (the copy most worth keeping), then by path.
    public let tracks: [LocatedTrack]
    /// The lowest cosine among the pairs that join the group, and the highest.
    public let minimumScore: Float
    public let maximumScore: Float
}

public struct DuplicateReport: Sendable {
    public let model: ModelVersion
    public let threshold: Float
    public let durationTolerance: Double
    /// Tracks with an embedding that were compared.
    public let tracksCompared: Int
    /// Largest first, then by the first track's path.
    public let groups: [DuplicateGroup]
}

extension LocatedTrack {
    /// The file's size over its duration, kbit/s (nil without a duration): for a lossy file its
    /// bitrate, for a lossless one what it costs.
    public var averageBitrateKbps: Double? {
        guard let seconds = track.metadata.durationSeconds, seconds > 0 else { return nil }
        return Double(track.size) * 8 / seconds / 1000
    }
}

/// Finds duplicate tracks by their embeddings (`NearDuplicates` over the similarity index),
/// per user: two users' copies of one song are not duplicates of each other.
public enum DuplicateFinder {
    public static let defaultThreshold: Float = 0.995
    public static let defaultDurationTolerance = 1.0
    public static let minimumThreshold: Float = 0.9
    public static let maximumDurationTolerance = 600.0

    /// - Parameter ownerID: only this user's tracks (nil: every user's, each compared within its owner's).
    public static func find(similarity: SimilarityService, ownerID: Int64?, threshold: Float = defaultThreshold,
                            durationTolerance: Double = defaultDurationTolerance, database: Database) throws -> DuplicateReport {
        // Below 0.9 a homogeneous library would pair nearly everything with everything.
        guard threshold.isFinite, (minimumThreshold...1).contains(threshold) else {
            throw SimilarityServiceError.invalid("the threshold is a cosine from \(minimumThreshold) to 1 (\(threshold))")
        }
        guard durationTolerance.isFinite, (0...maximumDurationTolerance).contains(durationTolerance) else {
            throw SimilarityServiceError.invalid("the duration tolerance is 0 to 600 seconds (\(durationTolerance))")
        }
        let ids = similarity.index.allIDs.filter { id in
            guard let owner = similarity.owner(of: id) else { return false }
            return ownerID == nil || owner.ownerID == ownerID
        }.sorted()
        let durations = try database.tracks.durations()
        let dimension = similarity.index.dimension
        var vectors = [Float]()
        vectors.reserveCapacity(ids.count * dimension)
        var kept: [Int64] = []
        var owners: [Int64] = []
        var seconds: [Double?] = []
        for id in ids {
            // A track removed from the index since the ids were read is simply left out.
            guard let vector = similarity.index.vector(id: id), let owner = similarity.owner(of: id) else { continue }
            vectors += vector
            kept.append(id)
            owners.append(owner.ownerID)
            seconds.append(durations[id] ?? nil)
        }
        let pairs = try NearDuplicates.pairs(vectors, count: kept.count, dimension: dimension, durations: seconds, groups: owners,
                                             threshold: threshold, durationTolerance: durationTolerance)
        let components = NearDuplicates.components(pairs, count: kept.count)
        var componentOf: [Int: Int] = [:]
        for (c, rows) in components.enumerated() { for row in rows { componentOf[row] = c } }
        var scores = [(min: Float, max: Float)](repeating: (1, -1), count: components.count)
        for pair in pairs {
            guard let c = componentOf[pair.a] else { continue }
            scores[c] = (min(scores[c].min, pair.score), max(scores[c].max, pair.score))
        }
        let located = try database.tracks.located(trackIDs: components.flatMap { $0.map { kept[$0] } })
        var groups: [DuplicateGroup] = []
        for (c, rows) in components.enumerated() {
            let tracks = rows.compactMap { located[kept[$0]] }.sorted { a, b in
                let (x, y) = (a.averageBitrateKbps ?? -1, b.averageBitrateKbps ?? -1)
                return x != y ? x > y : a.absolutePath < b.absolutePath
            }
            guard tracks.count > 1 else { continue }
            groups.append(DuplicateGroup(tracks: tracks, minimumScore: scores[c].min, maximumScore: scores[c].max))
        }
        groups.sort { a, b in
            a.tracks.count != b.tracks.count ? a.tracks.count > b.tracks.count
                : (a.tracks.map(\.absolutePath).min() ?? "") < (b.tracks.map(\.absolutePath).min() ?? "")
        }
        return DuplicateReport(model: similarity.model, threshold: threshold, durationTolerance: durationTolerance,
                               tracksCompared: kept.count, groups: groups)
    }
}
