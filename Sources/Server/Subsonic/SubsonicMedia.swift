import AudioIO
import Catalog
import Foundation

/// `stream`/`download` (the original file, as `GET /api/v1/tracks/{id}/audio` serves it: Range,
/// the format's Content-Type; Timbre does not transcode, so `maxBitRate` and `format` are
/// ignored) and `getCoverArt` (the picture embedded in the file, never resized).
extension TimbreServer {
    func subsonicStream(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let (song, path, root) = try subsonicOwnedSong(try request.required("id"), user)
        return .media(try AudioFile.response(path: path, libraryRoot: root, format: song.track.metadata.format, range: request.http.header("range")))
    }

    /// A song id gives that song's picture; an album or artist id the first of its songs that has one.
    func subsonicCoverArt(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let id = try request.required("id")
        var candidates: [Int64] = []
        if id.hasPrefix("al-") || id.hasPrefix("ar-") {
            let library = try subsonicLibrary(request, user)
            if let album = library.albums[id] {
                candidates = album.songs.map(\.track.id)
            } else if let artist = library.artists[id] {
                candidates = artist.albums.flatMap { $0.songs.map(\.track.id) }
            } else {
                throw SubsonicError.notFound("Cover art \(id)")
            }
        } else {
            candidates = [try subsonicOwnedSong(id, user).song.track.id]
        }
        // A few files at most: an album whose first songs have no picture rarely has one later.
        for trackID in candidates.prefix(8) {
            guard let found = try database.browser.owned(trackID: trackID, ownerID: user.id),
                  let file = try? ReadOnlyFile(path: found.absolutePath, confinedTo: found.libraryRoot),
                  let picture = try? EmbeddedPicture.read(file: file) else { continue }
            return .media(Response(status: 200, headers: [("Content-Type", picture.mimeType), ("Cache-Control", "private, max-age=3600")],
                                   body: .bytes(picture.data)))
        }
        throw SubsonicError.notFound("Cover art \(id)")
    }
}
