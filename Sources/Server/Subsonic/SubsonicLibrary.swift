import Catalog
import Foundation

/// A user's tracks as Subsonic sees them: songs, grouped into albums and artists by the files'
/// own tags (title, artist, album, as TagLib read them at scan time).
///
/// Ids are stable across rescans and moves: a song is `tr-<track id>` (the crawler keeps a
/// moved file's row), an artist `ar-` and an album `al-` followed by 16 hex digits of the
/// SHA-256 of the owner's id and the normalised names (case, surrounding and repeated spaces
/// ignored), so they survive a restart, are the same on every server sharing the catalog, and
/// two users' "Unknown Artist" are two different artists. An album is one album artist's
/// album name: the catalog keeps no album-artist tag, so a compilation is split per artist.
struct SubsonicLibrary {
    static let unknownArtist = "[Unknown Artist]"
    static let unknownAlbum = "[Unknown Album]"

    struct Song {
        let track: Track
        let title: String
        let artist: String
        let album: String
        let artistID: String
        let albumID: String
    }

    struct Album {
        let id: String
        let name: String
        let artist: String
        let artistID: String
        /// By path (a track number usually leads a file name), then id.
        var songs: [Song]
        var created: Date { songs.map(\.track.firstSeenAt).min() ?? Date(timeIntervalSince1970: 0) }
        var duration: Int { Int(songs.reduce(0.0) { $0 + ($1.track.metadata.durationSeconds ?? 0) }.rounded()) }
        /// The year most of its songs give (the smallest on a tie).
        var year: Int? { Self.mostCommon(songs.compactMap(\.track.metadata.year)) }
        var fileGenre: String? { Self.mostCommon(songs.compactMap(\.track.metadata.genre)) }

        static func mostCommon<T: Hashable & Comparable>(_ values: [T]) -> T? {
            let counts = Dictionary(values.map { ($0, 1) }, uniquingKeysWith: +)
            return counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key
        }
    }

    struct Artist {
        let id: String
        let name: String
        /// By name.
        var albums: [Album]
    }

    let ownerID: Int64
    private(set) var songs: [Int64: Song] = [:]
    /// Every song, by track id.
    private(set) var songList: [Song] = []
    private(set) var albums: [String: Album] = [:]
    private(set) var artists: [String: Artist] = [:]

    init(tracks: [Track], ownerID: Int64) {
        self.ownerID = ownerID
        var albumSongs: [String: [Song]] = [:]
        var albumNames: [String: (name: String, artist: String, artistID: String)] = [:]
        var artistNames: [String: String] = [:]
        for track in tracks.sorted(by: { $0.id < $1.id }) {
            // The first spelling met (by track id) names an artist or album.
            let artistKey = Self.normalised(track.metadata.artist ?? Self.unknownArtist)
            let artistID = Self.id("ar", ownerID, [artistKey])
            let artist = artistNames[artistID] ?? Self.cleaned(track.metadata.artist) ?? Self.unknownArtist
            artistNames[artistID] = artist
            let albumKey = Self.normalised(track.metadata.album ?? Self.unknownAlbum)
            let albumID = Self.id("al", ownerID, [artistKey, albumKey])
            let album = albumNames[albumID]?.name ?? Self.cleaned(track.metadata.album) ?? Self.unknownAlbum
            albumNames[albumID] = (album, artist, artistID)
            let song = Song(track: track, title: Self.cleaned(track.metadata.title) ?? Self.fileTitle(track.path), artist: artist,
                            album: album, artistID: artistID, albumID: albumID)
            songs[track.id] = song
            songList.append(song)
            albumSongs[albumID, default: []].append(song)
        }
        for (id, list) in albumSongs {
            let names = albumNames[id]!
            albums[id] = Album(id: id, name: names.name, artist: names.artist, artistID: names.artistID,
                               songs: list.sorted { $0.track.path != $1.track.path ? $0.track.path < $1.track.path : $0.track.id < $1.track.id })
        }
        var byArtist: [String: [Album]] = [:]
        for album in albums.values { byArtist[album.artistID, default: []].append(album) }
        for (id, list) in byArtist {
            artists[id] = Artist(id: id, name: artistNames[id]!, albums: list.sorted { Self.before($0.name, $1.name) })
        }
    }

    /// Case-insensitive order, then exact.
    static func before(_ a: String, _ b: String) -> Bool {
        let order = a.localizedCaseInsensitiveCompare(b)
        return order == .orderedSame ? a < b : order == .orderedAscending
    }

    static func normalised(_ name: String) -> String {
        name.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    static func id(_ kind: String, _ ownerID: Int64, _ parts: [String]) -> String {
        let text = ([String(ownerID)] + parts).joined(separator: "\u{1F}")
        return kind + "-" + Array(SHA256.hash(Array(text.utf8)).prefix(8)).hexString
    }

    static func songID(_ trackID: Int64) -> String { "tr-\(trackID)" }

    /// `tr-12` → 12 (a bare number too, as some clients strip prefixes they don't know).
    static func trackID(_ id: String) -> Int64? {
        let digits = id.hasPrefix("tr-") ? String(id.dropFirst(3)) : id
        guard let value = Int64(digits), value >= 1 else { return nil }
        return value
    }

    private static func cleaned(_ text: String?) -> String? {
        guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }

    /// A file's name without folder and extension: the title of a file without one.
    static func fileTitle(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }
}
