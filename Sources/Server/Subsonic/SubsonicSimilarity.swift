import Catalog
import Foundation
import Service
import Similarity

/// Similar songs from Timbre's embeddings (`SimilarityService`, the active model's exact index
/// scoped to the caller): Subsonic's `getSimilarSongs`/`getSimilarSongs2` (a "radio" from a song,
/// an album or an artist) and OpenSubsonic's `sonicSimilarity` extension, version 1.
extension TimbreServer {
    /// Cosine similarity (-1…1) as the extension's normalised similarity (0…1, 1 = the same sound).
    static func normalisedSimilarity(_ cosine: Float) -> Double { Double(min(1, max(0, (1 + cosine) / 2))) }

    /// The caller's songs in `hits`' order (hits the caller does not own are dropped).
    func subsonicSongs(_ ids: [Int64], _ user: User) throws -> [Int64: Song] {
        SubsonicLibrary(tracks: Array(try database.browser.owned(trackIDs: ids, ownerID: user.id).values), ownerID: user.id).songs
    }

    /// A song id → its nearest songs; an album or artist id → the songs nearest the centre of
    /// its embedded songs, itself left out.
    func subsonicSimilarSongs(_ request: SubsonicRequest, _ user: User, key: String) throws -> SubsonicReply {
        let id = try request.required("id")
        let count = try request.integer("count", default: 50, in: 1...500)
        let similarity = try self.similarity()
        let scope = SimilarityScope(ownerID: user.id)
        let hits: [SimilarityHit]
        if id.hasPrefix("al-") || id.hasPrefix("ar-") {
            let library = try subsonicLibrary(request, user)
            let members = (library.albums[id].map { [$0] } ?? library.artists[id]?.albums)?.flatMap { $0.songs.map(\.track.id) }
            guard let members else { throw SubsonicError.notFound(id.hasPrefix("al-") ? "Album \(id)" : "Artist \(id)") }
            let embedded = members.filter { similarity.contains($0) }
            guard !embedded.isEmpty else { throw SubsonicError.notFound("An analysed song of \(id)") }
            hits = try similarity.similar(toVector: try similarity.centroid(of: embedded), k: count, scope: scope, excluding: Set(members))
        } else {
            let song = try subsonicOwnedSong(id, user).song
            hits = try similarity.similar(toTrack: song.track.id, k: count, scope: scope)
        }
        let songs = try subsonicSongs(hits.map(\.id), user)
        return .fields(SubsonicObject([key: .object(SubsonicObject(["song": try subsonicChildren(hits.compactMap { songs[$0.id] }, user)]))]))
    }

    /// `sonicMatch`: the `count` songs that sound most like `id`, best first, each with its
    /// normalised similarity to it.
    func subsonicSonicSimilarTracks(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let song = try subsonicOwnedSong(try request.required("id"), user).song
        let count = try request.integer("count", default: 10, in: 1...500)
        let similarity = try self.similarity()
        let hits = try similarity.similar(toTrack: song.track.id, k: count, scope: SimilarityScope(ownerID: user.id))
        return .fields(SubsonicObject(["sonicMatch": try sonicMatches(hits.map { ($0.id, $0.score) }, user)]))
    }

    /// `sonicMatch`: a path of at most `count` songs from `startSongId` to `endSongId` (both
    /// included, first and last), each with its normalised similarity to the start.
    func subsonicSonicPath(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let start = try subsonicOwnedSong(try request.required("startSongId"), user).song.track.id
        let end = try subsonicOwnedSong(try request.required("endSongId"), user).song.track.id
        let count = try request.integer("count", default: 25, in: 2...100)
        let similarity = try self.similarity()
        let path = try similarity.path(from: start, to: end, steps: count, scope: SimilarityScope(ownerID: user.id))
        guard let origin = similarity.index.vector(id: start) else { throw SimilarityServiceError.notEmbedded(trackID: start, model: similarity.model.version) }
        let scored = path.map { hit -> (Int64, Float) in
            guard let vector = similarity.index.vector(id: hit.id) else { return (hit.id, -1) }
            return (hit.id, zip(origin, vector).reduce(0) { $0 + $1.0 * $1.1 })
        }
        return .fields(SubsonicObject(["sonicMatch": try sonicMatches(scored, user)]))
    }

    private func sonicMatches(_ scored: [(Int64, Float)], _ user: User) throws -> SubsonicValue {
        let songs = try subsonicSongs(scored.map { $0.0 }, user)
        let ordered = scored.compactMap { id, score in songs[id].map { ($0, score) } }
        let genres = try subsonicGenres(ordered.map { $0.0 }, user)
        return .list(ordered.map { song, score in
            .object(SubsonicObject([
                "entry": .object(SubsonicEntries.child(song, genres: genres[song.track.id] ?? [])),
                "similarity": .number(Self.normalisedSimilarity(score)),
            ]))
        })
    }
}
