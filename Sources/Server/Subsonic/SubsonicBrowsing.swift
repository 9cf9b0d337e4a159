import Catalog
import Foundation
import Service

/// Browsing, searching, genres: the caller's own tracks only (`TrackBrowser` queries by owner),
/// so another user's song, album or artist id is "not found" (70) exactly as a missing one.
extension TimbreServer {
    typealias Song = SubsonicLibrary.Song

    static let ignoredArticles = ["The", "El", "La", "Los", "Las", "Le", "Les"]

    /// The caller's library view, of one music folder (library) with `musicFolderId`.
    func subsonicLibrary(_ request: SubsonicRequest, _ user: User) throws -> SubsonicLibrary {
        var libraryID: Int64?
        if let folder = request.value("musicFolderId"), !folder.isEmpty {
            guard let id = Int64(folder), let library = try database.libraries.find(id: id), library.ownerID == user.id else {
                throw SubsonicError.notFound("Music folder \(folder)")
            }
            libraryID = library.id
        }
        return SubsonicLibrary(tracks: try database.browser.all(ownerID: user.id, libraryID: libraryID), ownerID: user.id)
    }

    /// Each song's genres: Timbre's effective tags for the caller (corrections first, then the
    /// active model's predictions from 0.5 up, most likely first); a song without any keeps the
    /// genre tag of its file.
    func subsonicGenres(_ songs: [Song], _ user: User) throws -> [Int64: [String]] {
        guard !songs.isEmpty else { return [:] }
        let tags = try self.tags(of: songs.map(\.track.id), user: user, model: try database.models.active())
        var result: [Int64: [String]] = [:]
        for song in songs {
            let effective = tags[song.track.id]?.effective.map(\.label) ?? []
            result[song.track.id] = effective.isEmpty ? (song.track.metadata.genre.map { [$0] } ?? []) : effective
        }
        return result
    }

    func subsonicChildren(_ songs: [Song], _ user: User) throws -> SubsonicValue {
        let genres = try subsonicGenres(songs, user)
        return .list(songs.map { .object(SubsonicEntries.child($0, genres: genres[$0.track.id] ?? [])) })
    }

    /// One of the caller's songs by id (a gone track is not found), with its file's place.
    func subsonicOwnedSong(_ id: String, _ user: User) throws -> (song: Song, absolutePath: String, libraryRoot: String) {
        guard let trackID = SubsonicLibrary.trackID(id), let found = try database.browser.owned(trackID: trackID, ownerID: user.id),
              found.track.status != .gone,
              let song = SubsonicLibrary(tracks: [found.track], ownerID: user.id).songs[trackID] else {
            throw SubsonicError.notFound("Song \(id)")
        }
        return (song, found.absolutePath, found.libraryRoot)
    }

    // MARK: Endpoints

    func subsonicUser(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let name = try request.required("username")
        guard name == user.name else { throw SubsonicError.notAuthorized("\(user.name) may only look at their own account") }
        let folders = try database.libraries.list(ownerID: user.id).map { SubsonicValue.integer($0.id) }
        let roles: [(String, Bool)] = [("scrobblingEnabled", false), ("adminRole", user.isAdmin), ("settingsRole", false),
                                       ("downloadRole", true), ("uploadRole", false), ("playlistRole", false), ("coverArtRole", false),
                                       ("commentRole", false), ("podcastRole", false), ("streamRole", true), ("jukeboxRole", false),
                                       ("shareRole", false), ("videoConversionRole", false)]
        var object = SubsonicObject(["username": .string(user.name)])
        for (role, value) in roles { object.set(role, .boolean(value)) }
        object.set("folder", .list(folders))
        return .fields(SubsonicObject(["user": .object(object)]))
    }

    func subsonicMusicFolders(_ user: User) throws -> SubsonicReply {
        let folders = try database.libraries.list(ownerID: user.id).map { library in
            SubsonicValue.object(SubsonicObject(["id": .integer(library.id), "name": .string((library.rootPath as NSString).lastPathComponent)]))
        }
        return .fields(SubsonicObject(["musicFolders": .object(SubsonicObject(["musicFolder": .list(folders)]))]))
    }

    func subsonicArtists(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let library = try subsonicLibrary(request, user)
        let index = Self.artistIndex(library) { SubsonicEntries.artist($0) }
        return .fields(SubsonicObject(["artists": .object(SubsonicObject([
            "ignoredArticles": .string(Self.ignoredArticles.joined(separator: " ")), "index": .list(index),
        ]))]))
    }

    /// The folder view older clients browse (DSub without "browse by tags"): the same artists
    /// and albums as `getArtists`, as directories.
    func subsonicIndexes(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let library = try subsonicLibrary(request, user)
        let index = Self.artistIndex(library) {
            SubsonicObject(["id": .string($0.id), "name": .string($0.name), "albumCount": .int($0.albums.count)])
        }
        let changed = library.songList.map(\.track.lastSeenAt).max() ?? Date(timeIntervalSince1970: 0)
        return .fields(SubsonicObject(["indexes": .object(SubsonicObject([
            "ignoredArticles": .string(Self.ignoredArticles.joined(separator: " ")),
            "lastModified": .integer(Int64(changed.timeIntervalSince1970 * 1000)), "index": .list(index),
        ]))]))
    }

    /// The artists by index letter ("#" last), each index's artists in name order, as `entry` draws them.
    static func artistIndex(_ library: SubsonicLibrary, entry: (SubsonicLibrary.Artist) -> SubsonicObject) -> [SubsonicValue] {
        var indexes: [String: [SubsonicLibrary.Artist]] = [:]
        for artist in library.artists.values { indexes[indexName(artist.name), default: []].append(artist) }
        let names = indexes.keys.sorted { ($0 == "#") != ($1 == "#") ? $1 == "#" : $0 < $1 }
        return names.map { name in
            SubsonicValue.object(SubsonicObject([
                "name": .string(name),
                "artist": .list(indexes[name]!.sorted { SubsonicLibrary.before($0.name, $1.name) }.map { .object(entry($0)) }),
            ]))
        }
    }

    /// An artist's directory holds its albums (as directories), an album's its songs.
    func subsonicMusicDirectory(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let id = try request.required("id")
        let library = try subsonicLibrary(request, user)
        let directory: SubsonicObject
        if let artist = library.artists[id] {
            let albums = artist.albums.map { album in
                SubsonicValue.object(SubsonicObject([
                    "id": .string(album.id), "parent": .string(artist.id), "isDir": .boolean(true), "title": .string(album.name),
                    "album": .string(album.name), "artist": .string(album.artist), "year": album.year.map { SubsonicValue.int($0) },
                    "coverArt": .string(album.id), "created": .string(SubsonicEntries.timestamp(album.created)),
                ]))
            }
            directory = SubsonicObject(["id": .string(artist.id), "name": .string(artist.name), "child": .list(albums)])
        } else if let album = library.albums[id] {
            directory = SubsonicObject(["id": .string(album.id), "parent": .string(album.artistID), "name": .string(album.name),
                                        "child": try subsonicChildren(album.songs, user)])
        } else {
            throw SubsonicError.notFound("Directory \(id)")
        }
        return .fields(SubsonicObject(["directory": .object(directory)]))
    }

    /// The letter an artist is filed under: the first of the name without a leading article, "#" for a non-letter.
    static func indexName(_ name: String) -> String {
        var text = name.trimmingCharacters(in: .whitespaces)
        for article in ignoredArticles where text.lowercased().hasPrefix(article.lowercased() + " ") {
            text = String(text.dropFirst(article.count + 1)).trimmingCharacters(in: .whitespaces)
            break
        }
        guard let first = text.first, first.isLetter else { return "#" }
        return String(first).folding(options: [.diacriticInsensitive], locale: nil).uppercased()
    }

    func subsonicArtist(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let id = try request.required("id")
        let library = try subsonicLibrary(request, user)
        guard let artist = library.artists[id] else { throw SubsonicError.notFound("Artist \(id)") }
        var object = SubsonicEntries.artist(artist)
        object.set("album", .list(artist.albums.map { .object(SubsonicEntries.album($0, genre: nil)) }))
        return .fields(SubsonicObject(["artist": .object(object)]))
    }

    func subsonicAlbum(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let id = try request.required("id")
        let library = try subsonicLibrary(request, user)
        guard let album = library.albums[id] else { throw SubsonicError.notFound("Album \(id)") }
        var object = SubsonicEntries.album(album, genre: nil)
        object.set("song", try subsonicChildren(album.songs, user))
        return .fields(SubsonicObject(["album": .object(object)]))
    }

    func subsonicSong(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let song = try subsonicOwnedSong(try request.required("id"), user).song
        let genres = try subsonicGenres([song], user)
        return .fields(SubsonicObject(["song": .object(SubsonicEntries.child(song, genres: genres[song.track.id] ?? []))]))
    }

    /// `type`: random, newest, alphabeticalByName, alphabeticalByArtist, byYear, byGenre;
    /// frequent, recent, highest and starred are empty (Timbre keeps no plays, ratings or stars).
    func subsonicAlbumList(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let type = try request.required("type")
        let size = try request.integer("size", default: 10, in: 0...500)
        let offset = try request.integer("offset", default: 0, in: 0...Int(Int32.max))
        let library = try subsonicLibrary(request, user)
        var albums = Array(library.albums.values).sorted { $0.id < $1.id }
        var albumGenres: [String: String] = [:]
        switch type {
        case "random":
            albums.shuffle()
        case "newest":
            albums.sort { $0.created != $1.created ? $0.created > $1.created : $0.id < $1.id }
        case "alphabeticalByName":
            albums.sort { $0.name != $1.name ? SubsonicLibrary.before($0.name, $1.name) : $0.id < $1.id }
        case "alphabeticalByArtist":
            albums.sort { $0.artist != $1.artist ? SubsonicLibrary.before($0.artist, $1.artist)
                : $0.name != $1.name ? SubsonicLibrary.before($0.name, $1.name) : $0.id < $1.id }
        case "byYear":
            guard let from = try request.optionalInteger("fromYear") else { throw SubsonicError.missing("fromYear") }
            guard let to = try request.optionalInteger("toYear") else { throw SubsonicError.missing("toYear") }
            albums = albums.filter { $0.year.map { (min(from, to)...max(from, to)).contains($0) } ?? false }
            let ascending = from <= to
            albums.sort { a, b in
                let x = a.year ?? 0, y = b.year ?? 0
                if x != y { return ascending ? x < y : x > y }
                return a.id < b.id
            }
        case "byGenre":
            let genre = try request.required("genre").lowercased()
            let genres = try subsonicGenres(library.songList, user)
            albums = albums.filter { album in
                for song in album.songs {
                    if let match = (genres[song.track.id] ?? []).first(where: { $0.lowercased() == genre }) {
                        albumGenres[album.id] = match
                        return true
                    }
                }
                return false
            }
            albums.sort { $0.name != $1.name ? SubsonicLibrary.before($0.name, $1.name) : $0.id < $1.id }
        case "frequent", "recent", "highest", "starred":
            albums = []
        default:
            throw SubsonicError.generic("type \(String(reflecting: String(type.prefix(40)))) is not one of random, newest, alphabeticalByName, alphabeticalByArtist, byYear, byGenre, frequent, recent, highest, starred")
        }
        let page = albums.dropFirst(offset).prefix(size)
        return .fields(SubsonicObject(["albumList2": .object(SubsonicObject([
            "album": .list(page.map { .object(SubsonicEntries.album($0, genre: albumGenres[$0.id])) }),
        ]))]))
    }

    func subsonicRandomSongs(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let size = try request.integer("size", default: 10, in: 0...500)
        let from = try request.optionalInteger("fromYear"), to = try request.optionalInteger("toYear")
        var songs = try subsonicLibrary(request, user).songList
        if let from { songs = songs.filter { ($0.track.metadata.year ?? Int.min) >= from } }
        if let to { songs = songs.filter { ($0.track.metadata.year ?? Int.max) <= to } }
        if let genre = request.value("genre")?.lowercased(), !genre.isEmpty {
            let genres = try subsonicGenres(songs, user)
            songs = songs.filter { song in (genres[song.track.id] ?? []).contains { $0.lowercased() == genre } }
        }
        songs.shuffle()
        return .fields(SubsonicObject(["randomSongs": .object(SubsonicObject(["song": try subsonicChildren(Array(songs.prefix(size)), user)]))]))
    }

    /// Every genre (effective tag) of the caller's songs with its song and album counts.
    func subsonicGenreList(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        let library = try subsonicLibrary(request, user)
        let genres = try subsonicGenres(library.songList, user)
        var songs: [String: Int] = [:], albums: [String: Set<String>] = [:]
        for song in library.songList {
            for genre in genres[song.track.id] ?? [] {
                songs[genre, default: 0] += 1
                albums[genre, default: []].insert(song.albumID)
            }
        }
        let list = songs.keys.sorted { SubsonicLibrary.before($0, $1) }.map { genre in
            SubsonicValue.object(SubsonicObject(["value": .string(genre), "songCount": .int(songs[genre] ?? 0),
                                                 "albumCount": .int(albums[genre]?.count ?? 0)]))
        }
        return .fields(SubsonicObject(["genres": .object(SubsonicObject(["genre": .list(list)]))]))
    }

    /// Words of `query` (all must match, case-insensitively) in artist names; album names and
    /// their artists; song titles, artists and albums. An empty query (or `""`, as some clients
    /// send) matches everything, which clients use to sync a whole library.
    func subsonicSearch(_ request: SubsonicRequest, _ user: User) throws -> SubsonicReply {
        var query = request.value("query") ?? ""
        if query == "\"\"" { query = "" }
        let words = query.lowercased().split(whereSeparator: \.isWhitespace).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "\"*")) }
            .filter { !$0.isEmpty }
        func matches(_ fields: String...) -> Bool {
            let text = fields.joined(separator: " ").lowercased()
            return words.allSatisfy { text.contains($0) }
        }
        let library = try subsonicLibrary(request, user)
        let artists = library.artists.values.filter { matches($0.name) }.sorted { SubsonicLibrary.before($0.name, $1.name) }
        let albums = library.albums.values.filter { matches($0.name, $0.artist) }.sorted { SubsonicLibrary.before($0.name, $1.name) }
        let songs = library.songList.filter { matches($0.title, $0.artist, $0.album) }
        func page<T>(_ items: [T], _ name: String, _ defaultCount: Int = 20) throws -> ArraySlice<T> {
            let count = try request.integer("\(name)Count", default: defaultCount, in: 0...500)
            let offset = try request.integer("\(name)Offset", default: 0, in: 0...Int(Int32.max))
            return items.dropFirst(offset).prefix(count)
        }
        return .fields(SubsonicObject(["searchResult3": .object(SubsonicObject([
            "artist": .list(try page(artists, "artist").map { .object(SubsonicEntries.artist($0)) }),
            "album": .list(try page(albums, "album").map { .object(SubsonicEntries.album($0, genre: nil)) }),
            "song": try subsonicChildren(Array(try page(songs, "song")), user),
        ]))]))
    }
}
