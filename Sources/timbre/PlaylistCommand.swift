import ArgumentParser
import Catalog
import Foundation
import NeuralNet
import Service
import Similarity
import Tagger

/// `timbre playlist …`: an M3U8 playlist from the catalog — a track's neighbours, a song path
/// between two tracks, the neighbours of a seed set, or a group of `timbre clusters` — built by
/// `Playlist` (Service), which the API's `?format=m3u8` uses too.
struct PlaylistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "playlist",
        abstract: "Write an M3U8 playlist of similar tracks, a song path, a seed set's neighbours or a cluster.",
        subcommands: [PlaylistSimilarCommand.self, PlaylistPathCommand.self, PlaylistSeedsCommand.self, PlaylistClusterCommand.self]
    )
}

/// Where the playlist goes and how it names files.
struct PlaylistOutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "The playlist file to write (M3U8, UTF-8; an existing file is replaced atomically).")
    var output: String

    @Option(name: .customLong("relative-to"), help: "Write paths relative to this folder (default: the playlist's own folder).")
    var relativeTo: String?

    @Flag(help: "Write absolute paths.") var absolute = false

    func validate() throws {
        if absolute && relativeTo != nil { throw ValidationError("--relative-to and --absolute exclude each other") }
        if output.isEmpty { throw ValidationError("--output needs a file name") }
    }

    var paths: PlaylistPaths {
        if absolute { return .absolute }
        let folder = relativeTo.map { URL(fileURLWithPath: $0) } ?? URL(fileURLWithPath: output).deletingLastPathComponent()
        return .relative(to: folder.standardizedFileURL.resolvingSymlinksInPath().path)
    }

    func write(_ playlist: Playlist) throws {
        guard !playlist.entries.isEmpty else { throw CommandFailure("no tracks to write: the playlist would be empty") }
        for entry in playlist.unrepresentable {
            FileHandle.standardError.write(Data("warning: left out track \(entry.trackID): its path holds a line break, which M3U cannot name\n".utf8))
        }
        do {
            try AtomicFile.write(Array(playlist.m3u8(paths: paths).utf8), to: output)
        } catch {
            throw CommandFailure("cannot write the playlist: \(error)")
        }
        print("wrote \(playlist.entries.count - playlist.unrepresentable.count) tracks to \(output)")
    }
}

/// The count every playlist command takes.
struct PlaylistCountOption: ParsableArguments {
    @Option(help: "Tracks in the playlist, 1 to \(Playlist.maximumCount) (default 20; a path 8; a cluster all its tracks).")
    var count: Int?

    func validate() throws {
        if let count, !(1...Playlist.maximumCount).contains(count) {
            throw ValidationError("--count must be from 1 to \(Playlist.maximumCount)")
        }
    }
}

extension Database {
    /// A track id or the path of a library file → the track's id, which must have an embedding.
    func playlistTrack(_ text: String, similarity: SimilarityService) throws -> Int64 {
        let track: Track
        if let id = Int64(text), let found = try tracks.track(id: id) {
            track = found
        } else if let found = try tracks.track(absolutePath: URL(fileURLWithPath: text).standardizedFileURL.resolvingSymlinksInPath().path) {
            track = found
        } else {
            throw CommandFailure("\(text) is not a track in the catalog (give a track id or the path of a file in a library)")
        }
        guard track.status != .gone else { throw CommandFailure("track \(track.id) (\(track.path)) is gone from its library") }
        guard similarity.contains(track.id) else {
            throw CommandFailure("track \(track.id) (\(track.path)) has no embedding under model \(similarity.model.version) yet: it is \(track.status.rawValue)")
        }
        return track.id
    }

    /// Opens the active model's similarity index, runs `body` with it, and turns the service's
    /// errors into the command's.
    func withSimilarity<T>(_ body: (SimilarityService) throws -> T) throws -> T {
        guard let similarity = try SimilarityService.active(in: self) else { throw CommandFailure("\(SimilarityServiceError.noActiveModel)") }
        guard similarity.count > 0 else { throw CommandFailure("\(SimilarityServiceError.noEmbeddings(model: similarity.model.version))") }
        do {
            return try body(similarity)
        } catch let error as SimilarityServiceError {
            throw CommandFailure("\(error)")
        } catch let error as SimilarityError {
            throw CommandFailure("\(error)")
        }
    }
}

struct PlaylistSimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "A track, then the tracks most similar to it (or the tracks nearest any audio file, with --file).")

    @Argument(help: "Track id or the path of a file in a library.") var track: String?
    @Option(help: "Any audio file, embedded with the active model on the spot.") var file: String?
    @OptionGroup var count: PlaylistCountOption
    @OptionGroup var output: PlaylistOutputOptions
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if (track == nil) == (file == nil) { throw ValidationError("give either a TRACK or --file") }
    }

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            try db.withSimilarity { similarity in
                let source: PlaylistSource
                if let track {
                    source = .similar(trackID: try db.playlistTrack(track, similarity: similarity))
                } else {
                    let path = file!
                    guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("\(path): no such file") }
                    let predictor = try Predictor(bundle: try ModelBundle.read(from: similarity.model.filePath))
                    source = .vector(try predictor.predict(file: path).embedding)
                }
                try output.write(try Playlist.build(source, count: count.count, scope: SimilarityScope(), similarity: similarity, database: db))
            }
        }
    }
}

struct PlaylistPathCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "path",
        abstract: "A song path: tracks whose sound moves evenly from track A to track B (both included).")

    @Argument(help: "The first track (id or library file path).") var from: String
    @Argument(help: "The last track (id or library file path).") var to: String
    @OptionGroup var count: PlaylistCountOption
    @OptionGroup var output: PlaylistOutputOptions
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if let n = count.count, n < 2 { throw ValidationError("a song path holds at least 2 tracks (--count 2 or more)") }
    }

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            try db.withSimilarity { similarity in
                let a = try db.playlistTrack(from, similarity: similarity), b = try db.playlistTrack(to, similarity: similarity)
                try output.write(try Playlist.build(.path(from: a, to: b), count: count.count, scope: SimilarityScope(),
                                                    similarity: similarity, database: db))
            }
        }
    }
}

struct PlaylistSeedsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seeds",
        abstract: "The seed tracks, then the tracks nearest their centre (the mean of their embeddings).")

    @Argument(help: "Seed tracks (ids or library file paths).") var seeds: [String]
    @OptionGroup var count: PlaylistCountOption
    @OptionGroup var output: PlaylistOutputOptions
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if seeds.isEmpty { throw ValidationError("give at least one seed track") }
        if seeds.count > Playlist.maximumCount { throw ValidationError("at most \(Playlist.maximumCount) seed tracks") }
    }

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            try db.withSimilarity { similarity in
                let ids = try seeds.map { try db.playlistTrack($0, similarity: similarity) }
                try output.write(try Playlist.build(.seeds(ids), count: count.count, scope: SimilarityScope(), similarity: similarity, database: db))
            }
        }
    }
}

struct PlaylistClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "The tracks of one group of `timbre clusters` (same --k and --seed, same groups), nearest its centre first.")

    @Argument(help: "The group's number, as `timbre clusters` prints it (1 is the largest).") var group: Int
    @Option(help: "Number of groups (default: about √(tracks / 2), 2 to 40), as for `timbre clusters`.") var k: Int?
    @Option(help: "Seed for k-means++, as for `timbre clusters`.") var seed: UInt64 = 1
    @OptionGroup var count: PlaylistCountOption
    @OptionGroup var output: PlaylistOutputOptions
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        if group < 1 { throw ValidationError("groups are numbered from 1") }
        if let k, !(1...100).contains(k) { throw ValidationError("--k must be from 1 to 100") }
    }

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            try db.withSimilarity { similarity in
                let source = PlaylistSource.cluster(group - 1, count: k.map { GroupCount.fixed($0) } ?? GroupCount.heuristic, seed: seed)
                try output.write(try Playlist.build(source, count: count.count, scope: SimilarityScope(), similarity: similarity, database: db))
            }
        }
    }
}
