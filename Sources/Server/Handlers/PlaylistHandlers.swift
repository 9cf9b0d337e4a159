import Catalog
import Foundation
import Service

/// `?format=m3u8` on the list answers (similar tracks, song paths, cluster members, the
/// tracks list): the same tracks in the same order as an M3U8 playlist (`Playlist`), with the
/// server's absolute paths or, with `paths=relative`, each file's path inside its library.
/// And `GET /duplicates`.
extension TimbreServer {
    /// nil for JSON (no `format`, or `format=json`); how to name files for `format=m3u8`.
    func playlistFormat(_ request: Request) throws -> PlaylistPaths? {
        let paths: PlaylistPaths
        switch request.query["paths"] {
        case nil, "", "absolute": paths = .absolute
        case "relative": paths = .library
        case let other?: throw HTTPError.badRequest("paths must be absolute or relative, not \(String(reflecting: String(other.prefix(40))))")
        }
        switch request.query["format"] {
        case nil, "", "json": return nil
        case "m3u8": return paths
        case let other?: throw HTTPError.badRequest("format must be json or m3u8, not \(String(reflecting: String(other.prefix(40))))")
        }
    }

    /// The caller's tracks among `ids`, in that order, as an M3U8 download named `name`.m3u8.
    func playlistAnswer(_ ids: [Int64], paths: PlaylistPaths, user: User, name: String) throws -> Response {
        let playlist = try Playlist.tracks(ids, ownerID: user.id, database: database)
        return Response(status: 200, headers: [("Content-Type", Playlist.contentType),
                                               ("Content-Disposition", "attachment; filename=\"\(name).m3u8\"")],
                        body: .bytes(Array(playlist.m3u8(paths: paths).utf8)))
    }

    func addDuplicateRoutes(_ router: inout Router) {
        router.add("GET", "/api/v1/duplicates") { [unowned self] request, context in
            let user = try context.caller()
            let threshold = try request.number("threshold", default: DuplicateFinder.defaultThreshold, in: DuplicateFinder.minimumThreshold...1)
            let tolerance = try request.number("duration_tolerance", default: Float(DuplicateFinder.defaultDurationTolerance),
                                               in: 0...Float(DuplicateFinder.maximumDurationTolerance))
            let similarity = try self.similarity()
            let report = try DuplicateFinder.find(similarity: similarity, ownerID: user.id, threshold: threshold,
                                                  durationTolerance: Double(tolerance), database: self.database)
            struct Entry: Encodable {
                let id: Int64; let library_id: Int64; let path: String; let title: String?; let artist: String?; let format: String?
                let duration_seconds: Double?; let size_bytes: Int64; let bitrate_kbps: Double?
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(id, forKey: .id); try c.encode(library_id, forKey: .library_id); try c.encode(path, forKey: .path)
                    try c.encode(title, forKey: .title); try c.encode(artist, forKey: .artist); try c.encode(format, forKey: .format)
                    try c.encode(duration_seconds, forKey: .duration_seconds); try c.encode(size_bytes, forKey: .size_bytes)
                    try c.encode(bitrate_kbps, forKey: .bitrate_kbps)
                }
                enum CodingKeys: String, CodingKey { case id, library_id, path, title, artist, format, duration_seconds, size_bytes, bitrate_kbps }
            }
            struct Group: Encodable { let min_score: Float; let max_score: Float; let tracks: [Entry] }
            struct Answer: Encodable {
                let model_version: String; let threshold: Float; let duration_tolerance: Double; let tracks_compared: Int; let groups: [Group]
            }
            return try .json(Answer(
                model_version: report.model.version, threshold: report.threshold, duration_tolerance: report.durationTolerance,
                tracks_compared: report.tracksCompared,
                groups: report.groups.map { group in
                    Group(min_score: group.minimumScore, max_score: group.maximumScore, tracks: group.tracks.map { t in
                        Entry(id: t.track.id, library_id: t.track.libraryID, path: t.track.path, title: t.track.metadata.title,
                              artist: t.track.metadata.artist, format: t.track.metadata.format,
                              duration_seconds: t.track.metadata.durationSeconds, size_bytes: t.track.size,
                              bitrate_kbps: t.averageBitrateKbps.map { ($0 * 10).rounded() / 10 })
                    })
                }))
        }
    }
}
