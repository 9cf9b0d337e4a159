import Catalog
import Foundation

/// The Subsonic response types built from a `SubsonicLibrary`: `Child` (a song), `AlbumID3`,
/// `ArtistID3`, with the field names of the OpenSubsonic reference.
enum SubsonicEntries {
    static func child(_ song: SubsonicLibrary.Song, genres: [String]) -> SubsonicObject {
        let track = song.track
        let suffix = (track.path as NSString).pathExtension.lowercased()
        let duration = track.metadata.durationSeconds.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
        let bitRate = duration.flatMap { $0 > 0 ? Int((Double(track.size) * 8 / $0 / 1000).rounded()) : nil }
        let songID = SubsonicLibrary.songID(track.id)
        return SubsonicObject([
            "id": .string(songID),
            "parent": .string(song.albumID),
            "isDir": .boolean(false),
            "title": .string(song.title),
            "album": .string(song.album),
            "artist": .string(song.artist),
            "year": track.metadata.year.map { SubsonicValue.int($0) },
            "genre": genres.first.map { SubsonicValue.string($0) },
            "coverArt": .string(songID),
            "size": .integer(track.size),
            "contentType": .string(AudioFile.contentType(track.metadata.format ?? suffix)),
            "suffix": .string(suffix),
            "duration": duration.map { SubsonicValue.int(Int($0.rounded())) },
            "bitRate": bitRate.map { SubsonicValue.int($0) },
            "path": .string(track.path),
            "isVideo": .boolean(false),
            "created": .string(timestamp(track.firstSeenAt)),
            "albumId": .string(song.albumID),
            "artistId": .string(song.artistID),
            "type": .string("music"),
            "mediaType": .string("song"),
            "genres": .list(genres.map { .object(SubsonicObject(["name": .string($0)])) }),
        ])
    }

    static func album(_ album: SubsonicLibrary.Album, genre: String?) -> SubsonicObject {
        SubsonicObject([
            "id": .string(album.id),
            "name": .string(album.name),
            "artist": .string(album.artist),
            "artistId": .string(album.artistID),
            "coverArt": .string(album.id),
            "songCount": .int(album.songs.count),
            "duration": .int(album.duration),
            "created": .string(timestamp(album.created)),
            "year": album.year.map { SubsonicValue.int($0) },
            "genre": (genre ?? album.fileGenre).map { SubsonicValue.string($0) },
        ])
    }

    static func artist(_ artist: SubsonicLibrary.Artist) -> SubsonicObject {
        SubsonicObject([
            "id": .string(artist.id),
            "name": .string(artist.name),
            "coverArt": .string(artist.id),
            "albumCount": .int(artist.albums.count),
        ])
    }

    /// ISO 8601 in UTC, as Subsonic's `created`.
    static func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }
}
