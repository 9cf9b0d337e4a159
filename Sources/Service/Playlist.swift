import Catalog
import Foundation
import Similarity

/// One line of a playlist: a track, its file and what a player shows for it.
public struct PlaylistEntry: Sendable, Equatable {
    public let trackID: Int64
    public let absolutePath: String
    /// The file's path inside its library.
    public let libraryPath: String
    public let durationSeconds: Double?
    public let artist: String?
    public let title: String?

    public init(trackID: Int64, absolutePath: String, libraryPath: String, durationSeconds: Double?, artist: String?, title: String?) {
        self.trackID = trackID; self.absolutePath = absolutePath; self.libraryPath = libraryPath
        self.durationSeconds = durationSeconds; self.artist = artist; self.title = title
    }

    public init(_ located: LocatedTrack) {
        self.init(trackID: located.track.id, absolutePath: located.absolutePath, libraryPath: located.track.path,
                  durationSeconds: located.track.metadata.durationSeconds, artist: located.track.metadata.artist,
                  title: located.track.metadata.title)
    }
}

/// How a playlist names its files.
public enum PlaylistPaths: Sendable, Equatable {
    case absolute
    /// Relative to this (absolute) folder, with `../` where needed: a playlist saved in that
    /// folder finds its files wherever the whole tree is moved.
    case relative(to: String)
    /// Each file relative to its own library's root (what the API gives with `paths=relative`).
    case library
}

/// Where a playlist's tracks come from.
public enum PlaylistSource: Sendable, Equatable {
    /// The track, then the tracks most similar to it.
    case similar(trackID: Int64)
    /// The tracks nearest a vector (an audio file's embedding).
    case vector([Float])
    /// A song path from one track to another (`SimilarityService.path`).
    case path(from: Int64, to: Int64)
    /// The seeds, then the tracks nearest their centroid.
    case seeds([Int64])
    /// The members of one group of `LibraryMap` (0-based, largest first), nearest its centre first.
    case cluster(Int, count: GroupCount, seed: UInt64)
}

/// An ordered list of tracks, written as an extended M3U playlist in UTF-8 (`.m3u8`):
/// `#EXTM3U`, then per track `#EXTINF:<seconds>,<artist> - <title>` and its path. The CLI
/// (`timbre playlist`) and the API (`?format=m3u8`) both build and render them here.
public struct Playlist: Sendable, Equatable {
    public static let maximumCount = 1000
    public static let contentType = "audio/x-mpegurl; charset=utf-8"

    public let entries: [PlaylistEntry]

    public init(entries: [PlaylistEntry]) { self.entries = entries }

    /// The tracks in the given order; ids that are unknown, gone or (with `ownerID`) someone
    /// else's are left out.
    public static func tracks(_ ids: [Int64], ownerID: Int64?, database: Database) throws -> Playlist {
        let found = try database.tracks.located(trackIDs: ids, ownerID: ownerID)
        var seen = Set<Int64>()
        return Playlist(entries: ids.compactMap { id in seen.insert(id).inserted ? found[id].map(PlaylistEntry.init) : nil })
    }

    /// Builds a playlist of `count` tracks (nil: the default for the source: 20, a path of 8,
    /// a whole cluster however large) from `source`, within `scope`'s tracks.
    public static func build(_ source: PlaylistSource, count: Int?, scope: SimilarityScope, similarity: SimilarityService,
                             database: Database) throws -> Playlist {
        if let count, !(1...maximumCount).contains(count) {
            throw SimilarityServiceError.invalid("a playlist holds 1 to \(maximumCount) tracks (count \(count))")
        }
        let ids: [Int64]
        switch source {
        case let .similar(trackID):
            let total = count ?? 20
            var list = [trackID]
            if total > 1 { list += try similarity.similar(toTrack: trackID, k: total - 1, scope: scope).map(\.id) }
            ids = list
        case let .vector(vector):
            ids = try similarity.similar(toVector: vector, k: count ?? 20, scope: scope).map(\.id)
        case let .path(a, b):
            let steps = count ?? 8
            guard steps >= 2 else { throw SimilarityServiceError.invalid("a song path holds at least 2 tracks (its two ends)") }
            guard a != b else { throw SimilarityServiceError.invalid("a song path needs two different tracks") }
            ids = try similarity.path(from: a, to: b, steps: steps, scope: scope).map(\.id)
        case let .seeds(seeds):
            var unique: [Int64] = []
            for id in seeds where !unique.contains(id) { unique.append(id) }
            guard !unique.isEmpty else { throw SimilarityServiceError.invalid("give at least one seed track") }
            let total = count ?? max(20, unique.count)
            guard total >= unique.count else {
                throw SimilarityServiceError.invalid("count \(total) is smaller than the \(unique.count) seed tracks")
            }
            let centre = try similarity.centroid(of: unique)
            var list = unique
            if total > unique.count {
                list += try similarity.similar(toVector: centre, k: total - unique.count, scope: scope, excluding: Set(unique)).map(\.id)
            }
            ids = list
        case let .cluster(group, groupCount, seed):
            let mine = scope.ownerID.map { owner in similarity.index.allIDs.filter { similarity.owner(of: $0)?.ownerID == owner } }
            let map = try LibraryMap.build(similarity: similarity, trackIDs: mine, count: groupCount, seed: seed, examples: 0,
                                           tagsPerGroup: 0, database: database)
            guard (0..<map.groups.count).contains(group) else {
                throw SimilarityServiceError.invalid("there is no group \(group + 1): the library makes \(map.groups.count) groups (1 to \(map.groups.count))")
            }
            let members = map.points.filter { $0.cluster == group }.map(\.trackID)
            let ordered = orderedByCentre(members, similarity: similarity)
            ids = count.map { Array(ordered.prefix($0)) } ?? ordered
        }
        return try tracks(ids, ownerID: scope.ownerID, database: database)
    }

    /// `ids` nearest their centroid first (ties by id); ids without an embedding go last, by id.
    public static func orderedByCentre(_ ids: [Int64], similarity: SimilarityService) -> [Int64] {
        let embedded = ids.filter(similarity.contains)
        let rest = ids.filter { !similarity.contains($0) }.sorted()
        guard let centre = try? similarity.centroid(of: embedded) else { return embedded.sorted() + rest }
        let scored = embedded.map { id -> (Int64, Float) in
            let vector = similarity.index.vector(id: id) ?? []
            return (id, zip(vector, centre).reduce(Float(0)) { $0 + $1.0 * $1.1 })
        }
        return scored.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.map(\.0) + rest
    }

    /// Entries whose path holds a line break: M3U cannot name them, so `m3u8` leaves them out.
    public var unrepresentable: [PlaylistEntry] { entries.filter { Self.hasLineBreak($0.absolutePath) } }

    /// The playlist as M3U8 text. The `#EXTINF` duration is whole seconds (-1 when unknown);
    /// the name is "artist - title" from the catalog, or the file's name without its extension.
    public func m3u8(paths: PlaylistPaths) -> String {
        var text = "#EXTM3U\n"
        for entry in entries where !Self.hasLineBreak(entry.absolutePath) {
            let seconds = entry.durationSeconds.flatMap { $0.isFinite && $0 >= 0 ? Int($0.rounded()) : nil } ?? -1
            text += "#EXTINF:\(seconds),\(Self.displayName(entry))\n"
            switch paths {
            case .absolute: text += entry.absolutePath
            case .library: text += entry.libraryPath
            case let .relative(folder): text += Self.relativePath(entry.absolutePath, from: folder)
            }
            text += "\n"
        }
        return text
    }

    static func hasLineBreak(_ text: String) -> Bool { text.contains { $0.isNewline } }

    static func displayName(_ entry: PlaylistEntry) -> String {
        func clean(_ text: String?) -> String? {
            guard let text else { return nil }
            let flat = String(text.map { $0.isNewline || $0.unicodeScalars.contains { $0.properties.generalCategory == .control } ? " " : $0 })
                .trimmingCharacters(in: .whitespaces)
            return flat.isEmpty ? nil : flat
        }
        let fileName = (entry.libraryPath as NSString).lastPathComponent
        let title = clean(entry.title) ?? clean((fileName as NSString).deletingPathExtension) ?? clean(fileName) ?? "track \(entry.trackID)"
        return clean(entry.artist).map { "\($0) - \(title)" } ?? title
    }

    /// `path` (absolute) as seen from `folder` (absolute): the shared leading components
    /// dropped, one `..` per remaining component of `folder`.
    public static func relativePath(_ path: String, from folder: String) -> String {
        let target = path.split(separator: "/", omittingEmptySubsequences: true)
        let base = folder.split(separator: "/", omittingEmptySubsequences: true)
        var common = 0
        while common < target.count - 1, common < base.count, target[common] == base[common] { common += 1 }
        let up = Array(repeating: "..", count: base.count - common)
        return (up + target[common...].map(String.init)).joined(separator: "/")
    }
}
