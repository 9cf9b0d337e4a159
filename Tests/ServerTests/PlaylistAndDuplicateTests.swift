import AudioIO
import Catalog
import Foundation
import Service
import XCTest

/// Playlists (`timbre playlist …`, `?format=m3u8`) and duplicates (`timbre duplicates`,
/// `GET /duplicates`) against a real `timbre serve` and PostgreSQL: Alice's library is a small
/// demo corpus (`timbre demo-corpus`, distinct pieces) plus its first piece again as MP3 at two
/// bitrates and as Ogg Vorbis; Bob's holds one more copy of that piece. Tagged by the server's
/// built-in worker with the shipped model.
final class PlaylistAndDuplicateTests: XCTestCase {
    struct Fixture {
        let database: ScratchDatabase
        let server: ServerProcess
        let home: URL
        let aliceKey: String, bobKey: String
        let aliceTracks: [Int64]
        /// A demo piece (not one of the copies) given a title and an artist in the catalog.
        let titled: Int64
        /// Absolute paths of the four files of the same piece in Alice's library.
        let copies: Set<String>
        let aliceRoot: String
    }

    nonisolated(unsafe) static var shared: Fixture?
    nonisolated(unsafe) static var setupError: Error?

    override class func setUp() {
        super.setUp()
        do { shared = try makeFixture() } catch { setupError = error }
    }

    override class func tearDown() {
        if let shared {
            shared.server.stop()
            shared.database.drop()
            try? FileManager.default.removeItem(at: shared.home)
        }
        super.tearDown()
    }

    static func makeFixture() throws -> Fixture {
        let database = try ScratchDatabase()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-playlists-\(UUID().uuidString.prefix(8))")
            .resolvingSymlinksInPath()
        let corpus = home.appendingPathComponent("alice")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        let made = try runTimbre(["demo-corpus", "--out", corpus.path, "--tracks", "6", "--seed", "11", "--formats", "flac",
                                  "--sample-rate", "44100", "--min-seconds", "8", "--max-seconds", "12", "--threads", "2"], home: home.path)
        guard made.status == 0 else { throw PlaylistFixtureError(description: "timbre demo-corpus failed: \(made.output)") }
        let pieces = try FileManager.default.subpathsOfDirectory(atPath: corpus.path).filter { $0.hasSuffix(".flac") }.sorted()
        guard pieces.count == 6 else { throw PlaylistFixtureError(description: "the demo corpus has \(pieces.count) FLAC files, not 6") }
        let original = corpus.appendingPathComponent(pieces[0]).path
        // At the file's own rate (44.1 kHz), as a user's MP3 and Ogg copies of a CD rip are made.
        let decoded = try AudioDecoder.decode(path: original, options: DecodeOptions(targetSampleRate: nil))
        let copies = corpus.appendingPathComponent("copies")
        try FileManager.default.createDirectory(at: copies, withIntermediateDirectories: true)
        var same = [original]
        for (name, quality) in [("piece-low.mp3", 0.6), ("piece-high.mp3", 1.0), ("piece.ogg", 0.8)] {
            let path = copies.appendingPathComponent(name).path
            try AudioWriter.write(decoded.samples, sampleRate: decoded.sampleRate, to: path, quality: quality)
            same.append(path)
        }
        let bobFolder = home.appendingPathComponent("bob")
        try FileManager.default.createDirectory(at: bobFolder, withIntermediateDirectories: true)
        try AudioWriter.write(decoded.samples, sampleRate: decoded.sampleRate, to: bobFolder.appendingPathComponent("mine.wav").path)

        let users = UserRepository(pool: database.pool)
        let (alice, aliceKey) = try users.add(name: "alice")
        let (bob, bobKey) = try users.add(name: "bob")
        let libraries = LibraryRepository(pool: database.pool)
        let aliceLibrary = try libraries.add(path: corpus.path, ownerID: alice.id)
        let bobLibrary = try libraries.add(path: bobFolder.path, ownerID: bob.id)
        let crawler = Crawler(pool: database.pool, metadataReader: FileTagReader.read)
        _ = try crawler.scan(library: aliceLibrary)
        _ = try crawler.scan(library: bobLibrary)
        let server = try ServerProcess(databaseURL: database.url, home: home.path, arguments: ["--workers", "2", "--threads", "4"])
        let tracks = TrackRepository(pool: database.pool)
        let total = 10
        let deadline = Date().addingTimeInterval(180)
        while try (tracks.counts()[.tagged] ?? 0) < total, Date() < deadline { usleep(200_000) }
        let tagged = try tracks.counts()[.tagged] ?? 0
        guard tagged == total else { throw PlaylistFixtureError(description: "the server's worker tagged \(tagged) of \(total) tracks in 3 minutes") }
        let aliceTracks = try tracks.tracks(libraryID: aliceLibrary.id).map(\.id).sorted()
        // The last piece gets a title and an artist (not ASCII) for the #EXTINF lines.
        guard let titled = try tracks.track(libraryID: aliceLibrary.id, path: pieces[5]) else {
            throw PlaylistFixtureError(description: "no track for \(pieces[5])")
        }
        try tracks.updateMetadata(trackID: titled.id, TrackMetadata(format: "flac", durationSeconds: 61.6, title: "Café №5",
                                                                   artist: "Ørjan & Zoë"))
        // The server's index refreshes every 2 s: wait until it holds every embedding.
        let client = HTTPClient(base: server.baseURL, key: aliceKey)
        while (client.get("/api/v1/tracks/\(titled.id)/similar?k=20").object["results"] as? [Any])?.count ?? 0 < aliceTracks.count - 1,
              Date() < deadline { usleep(200_000) }
        return Fixture(database: database, server: server, home: home, aliceKey: aliceKey, bobKey: bobKey, aliceTracks: aliceTracks,
                       titled: titled.id, copies: Set(same), aliceRoot: corpus.path)
    }

    func fixture() throws -> Fixture {
        if let error = Self.setupError { throw error }
        guard let shared = Self.shared else { throw XCTSkip("no fixture") }
        return shared
    }

    /// `timbre ARGS --database-url …` (commands that open the catalog).
    func timbre(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let f = try fixture()
        return try Self.runTimbre(arguments + ["--database-url", f.database.url], home: f.home.path)
    }

    static func runTimbre(_ arguments: [String], home: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServerProcess.binary())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TIMBRE_HOME"] = home
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// (duration, name, path) of each entry of an M3U8 text, checking its framing.
    func entries(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [(seconds: Int, name: String, path: String)] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.first, "#EXTM3U", file: file, line: line)
        XCTAssertEqual(lines.last, "", "the text ends with a newline", file: file, line: line)
        lines = Array(lines.dropFirst().dropLast())
        XCTAssertEqual(lines.count % 2, 0, file: file, line: line)
        return stride(from: 0, to: lines.count - 1, by: 2).compactMap { i in
            let info = lines[i]
            guard info.hasPrefix("#EXTINF:"), let comma = info.firstIndex(of: ",") else {
                XCTFail("not an #EXTINF line: \(info)", file: file, line: line)
                return nil
            }
            let seconds = Int(info[info.index(info.startIndex, offsetBy: 8)..<comma]) ?? -999
            return (seconds, String(info[info.index(after: comma)...]), lines[i + 1])
        }
    }

    /// The JSON object a command printed (from its first brace: a warning on stderr may come first).
    func jsonObject(_ output: String) throws -> [String: Any] {
        let start = try XCTUnwrap(output.firstIndex(of: "{"), output)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [String: Any], output)
    }

    func located(_ ids: [Int64]) throws -> [Int64: LocatedTrack] {
        try TrackRepository(pool: try fixture().database.pool).located(trackIDs: ids)
    }

    // MARK: Duplicates

    func testTheSamePieceInFourEncodingsIsOneGroupAndNothingElsePairs() throws {
        let f = try fixture()
        let cli = try timbre(["duplicates", "--json"])
        XCTAssertEqual(cli.status, 0, cli.output)
        let report = try jsonObject(cli.output)
        XCTAssertEqual(report["tracks_compared"] as? Int, 10)
        let groups = try XCTUnwrap(report["groups"] as? [[String: Any]])
        XCTAssertEqual(groups.count, 1, "one group, and no false pair among the demo pieces nor across users: \(cli.output)")
        let members = try XCTUnwrap(groups.first?["tracks"] as? [[String: Any]])
        XCTAssertEqual(Set(members.compactMap { $0["path"] as? String }), f.copies,
                       "the FLAC, both MP3s and the Ogg, not Bob's copy; \(describeCopies())")
        XCTAssertEqual(Set(members.compactMap { $0["format"] as? String }), ["flac", "mp3", "ogg"])
        let rates = members.compactMap { $0["bitrate_kbps"] as? Double }
        XCTAssertEqual(rates.count, 4)
        XCTAssertEqual(rates, rates.sorted(by: >), "the highest bitrate first")
        let mp3 = members.filter { ($0["format"] as? String) == "mp3" }.compactMap { $0["bitrate_kbps"] as? Double }
        XCTAssertEqual(mp3.count, 2)
        XCTAssertGreaterThan(mp3.max()!, mp3.min()! * 1.3, "two different MP3 bitrates: \(mp3)")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(groups[0]["min_score"] as? Double), 0.995)
        XCTAssertTrue(members.allSatisfy { ($0["duration_seconds"] as? Double ?? 0) > 7 })

        // Not a matter of durations: with any duration allowed and a looser cosine, still no other
        // pair (distinct demo pieces are below 0.95 with the shipped model; the copies above 0.994).
        let loose = try jsonObject(try timbre(["duplicates", "--json", "--threshold", "0.95", "--duration-tolerance", "600"]).output)
        let looseGroups = try XCTUnwrap(loose["groups"] as? [[String: Any]])
        XCTAssertEqual(looseGroups.count, 1)
        XCTAssertEqual(Set((looseGroups.first?["tracks"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }), f.copies)
        // The text form lists the same files.
        let text = try timbre(["duplicates"])
        XCTAssertEqual(text.status, 0, text.output)
        XCTAssertTrue(text.output.hasPrefix("1 group of duplicates (4 files) among 10 tracks"), text.output)
        for path in f.copies { XCTAssertTrue(text.output.contains(path), path) }

        // The API: the caller's own tracks only.
        let alice = HTTPClient(base: f.server.baseURL, key: f.aliceKey), bob = HTTPClient(base: f.server.baseURL, key: f.bobKey)
        let answer = alice.get("/api/v1/duplicates")
        XCTAssertEqual(answer.status, 200, answer.text)
        let apiGroups = try XCTUnwrap(answer.object["groups"] as? [[String: Any]])
        XCTAssertEqual(apiGroups.count, 1)
        let apiPaths = (apiGroups.first?["tracks"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        XCTAssertEqual(Set(apiPaths.map { f.aliceRoot + "/" + $0 }), f.copies, "paths inside the library, as everywhere in the API")
        XCTAssertEqual(answer.object["tracks_compared"] as? Int, 9)
        XCTAssertEqual((bob.get("/api/v1/duplicates").object["groups"] as? [Any])?.count, 0, "Bob's one copy has no duplicate of his own")
        // A threshold of 1 and a tolerance of 0 s leave at most identical files, which these are not.
        let strict = alice.get("/api/v1/duplicates?threshold=1&duration_tolerance=0")
        XCTAssertEqual(strict.status, 200, strict.text)
        for bad in ["threshold=2", "threshold=0.5", "threshold=x", "duration_tolerance=-1", "duration_tolerance=700"] {
            let refused = alice.get("/api/v1/duplicates?\(bad)")
            XCTAssertEqual(refused.status, 400, bad)
            XCTAssertEqual(refused.errorCode, "bad_request", bad)
        }
        let badCLI = try timbre(["duplicates", "--threshold", "1.5"])
        XCTAssertNotEqual(badCLI.status, 0)
        XCTAssertTrue(badCLI.output.contains("--threshold is a cosine"), badCLI.output)
    }

    /// Each copy's duration and cosine to the others, for a failure message.
    func describeCopies() -> String {
        guard let f = try? fixture(), let all = try? located(Array(1...100)).values else { return "" }
        let alice = HTTPClient(base: f.server.baseURL, key: f.aliceKey)
        let copies = all.filter { f.copies.contains($0.absolutePath) }
        return copies.map { copy -> String in
            let results = alice.get("/api/v1/tracks/\(copy.track.id)/similar?k=20").object["results"] as? [[String: Any]] ?? []
            let scores = results.compactMap { result -> String? in
                guard let id = ((result["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value,
                      let other = copies.first(where: { $0.track.id == id }) else { return nil }
                return "\((other.track.path as NSString).lastPathComponent) \(result["score"] ?? "?")"
            }
            return "\((copy.track.path as NSString).lastPathComponent) (\(copy.track.metadata.durationSeconds.map { "\($0)" } ?? "?") s): \(scores)"
        }.joined(separator: "; ")
    }

    // MARK: Playlists from the CLI

    func testSimilarPlaylistHasRelativePathsDurationsAndTitlesInOrder() throws {
        let f = try fixture()
        let seed = f.titled
        let folder = f.home.appendingPathComponent("lists/sub")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let output = folder.appendingPathComponent("more like this.m3u8").path
        let run = try timbre(["playlist", "similar", String(seed), "--count", "4", "-o", output])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("wrote 4 tracks"), run.output)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let listed = entries(text)
        XCTAssertEqual(listed.count, 4)

        // The seed, then what the API ranks most similar, in that order (the CLI ranks both users'
        // tracks; with Bob's left out, Alice's come in the API's order).
        let alice = HTTPClient(base: f.server.baseURL, key: f.aliceKey)
        let similar = (alice.get("/api/v1/tracks/\(seed)/similar?k=20").object["results"] as? [[String: Any]] ?? [])
            .compactMap { (($0["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value }
        let byPath = try located(Array(1...100)).values.reduce(into: [String: LocatedTrack]()) { $0[$1.absolutePath] = $1 }
        let resolved = listed.map { entry -> LocatedTrack? in
            XCTAssertFalse(entry.path.hasPrefix("/"), "relative: \(entry.path)")
            let absolute = URL(fileURLWithPath: folder.path + "/" + entry.path).standardizedFileURL.path
            return byPath[absolute]
        }
        XCTAssertTrue(resolved.allSatisfy { $0 != nil }, "every relative path leads to its file from the playlist's folder: \(text)")
        let ids = resolved.compactMap { $0?.track.id }
        XCTAssertEqual(ids.first, seed)
        let alicesOwn = ids.dropFirst().filter(f.aliceTracks.contains)
        XCTAssertGreaterThanOrEqual(alicesOwn.count, 2)
        XCTAssertEqual(alicesOwn, Array(similar.prefix(alicesOwn.count)))
        XCTAssertEqual(listed[0].seconds, 62, "61.6 s rounds to 62")
        XCTAssertEqual(listed[0].name, "Ørjan & Zoë - Café №5", "artist - title from the catalog, in UTF-8")
        for (entry, track) in zip(listed.dropFirst(), resolved.dropFirst()) {
            let track = try XCTUnwrap(track)
            XCTAssertEqual(entry.seconds, Int(try XCTUnwrap(track.track.metadata.durationSeconds).rounded()))
            let fileName = ((track.track.path as NSString).lastPathComponent as NSString).deletingPathExtension
            let expected = track.track.metadata.title.map { title in track.track.metadata.artist.map { "\($0) - \(title)" } ?? title } ?? fileName
            XCTAssertEqual(entry.name, expected, "artist - title, or the file's name")
        }

        // --absolute and --relative-to name the same files.
        let absolute = try timbre(["playlist", "similar", String(seed), "--count", "4", "--absolute", "-o", output])
        XCTAssertEqual(absolute.status, 0, absolute.output)
        let absolutePaths = entries(try String(contentsOfFile: output, encoding: .utf8)).map { $0.path }
        XCTAssertEqual(absolutePaths, resolved.compactMap { $0?.absolutePath })
        let base = f.home.appendingPathComponent("elsewhere").path
        let relative = try timbre(["playlist", "similar", String(seed), "--count", "4", "--relative-to", base, "-o", output])
        XCTAssertEqual(relative.status, 0, relative.output)
        let relativePaths = entries(try String(contentsOfFile: output, encoding: .utf8)).map { $0.path }
        XCTAssertTrue(relativePaths.allSatisfy { $0.hasPrefix("../alice/") || $0.hasPrefix("../bob/") }, "\(relativePaths)")
        XCTAssertEqual(relativePaths.map { URL(fileURLWithPath: base + "/" + $0).standardizedFileURL.path },
                       absolutePaths)
    }

    func testPathSeedsAndClusterPlaylistsMatchTheAPI() throws {
        let f = try fixture()
        let alice = HTTPClient(base: f.server.baseURL, key: f.aliceKey)
        let (a, b) = (f.aliceTracks[1], f.aliceTracks[4])
        let output = f.home.appendingPathComponent("path.m3u8").path

        // A song path: the CLI's file and the API's m3u8 answer are the same bytes, unless the CLI
        // (which sees every user's tracks) took Bob's track on the way.
        let cli = try timbre(["playlist", "path", String(a), String(b), "--count", "4", "--absolute", "-o", output])
        XCTAssertEqual(cli.status, 0, cli.output)
        let file = try String(contentsOfFile: output, encoding: .utf8)
        let api = alice.get("/api/v1/tracks/\(a)/path/\(b)?steps=4&format=m3u8")
        XCTAssertEqual(api.status, 200, api.text)
        XCTAssertEqual(api.headers["content-type"], "audio/x-mpegurl; charset=utf-8")
        XCTAssertTrue(api.headers["content-disposition"]?.contains(".m3u8") == true)
        let cliPaths = entries(file).map { $0.path }, apiPaths = entries(api.text).map { $0.path }
        let ends = try located([a, b])
        XCTAssertEqual(cliPaths.count, 4)
        XCTAssertEqual(cliPaths.first, ends[a]?.absolutePath)
        XCTAssertEqual(cliPaths.last, ends[b]?.absolutePath)
        if !cliPaths.contains(where: { $0.hasPrefix(f.home.appendingPathComponent("bob").path) }) { XCTAssertEqual(file, api.text) }
        let json = alice.get("/api/v1/tracks/\(a)/path/\(b)?steps=4")
        let jsonIDs = (json.object["tracks"] as? [[String: Any]] ?? []).compactMap { (($0["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value }
        let where_ = try located(jsonIDs)
        XCTAssertEqual(apiPaths, jsonIDs.compactMap { where_[$0]?.absolutePath }, "the m3u8 answer lists the JSON answer's tracks in order")
        let relative = alice.get("/api/v1/tracks/\(a)/path/\(b)?steps=4&format=m3u8&paths=relative")
        XCTAssertEqual(entries(relative.text).map { $0.path }, jsonIDs.compactMap { where_[$0]?.track.path })

        // Seeds: the seeds, then the tracks nearest their centre, as POST /similar ranks them.
        let seeds = try timbre(["playlist", "seeds", String(a), String(b), "--count", "5", "--absolute", "-o", output])
        XCTAssertEqual(seeds.status, 0, seeds.output)
        let seedPaths = entries(try String(contentsOfFile: output, encoding: .utf8)).map { $0.path }
        XCTAssertEqual(Array(seedPaths.prefix(2)), [ends[a]!.absolutePath, ends[b]!.absolutePath])
        let centre = alice.send("POST", "/api/v1/similar?format=m3u8", json: ["track_ids": [a, b], "k": 3])
        XCTAssertEqual(centre.status, 200, centre.text)
        XCTAssertEqual(centre.headers["content-type"], "audio/x-mpegurl; charset=utf-8")
        let centrePaths = entries(centre.text).map { $0.path }
        XCTAssertEqual(centrePaths.count, 3)
        XCTAssertEqual(Array(seedPaths.dropFirst(2)).filter { !$0.contains("/bob/") }, centrePaths.filter { seedPaths.contains($0) })

        // A cluster: the members of `timbre clusters`'s group 1, nearest its centre first.
        let clusters = try timbre(["clusters", "--k", "2", "--json"])
        XCTAssertEqual(clusters.status, 0, clusters.output)
        let map = try jsonObject(clusters.output)
        let points = try XCTUnwrap(map["tracks"] as? [[String: Any]])
        let first = Set(points.filter { ($0["cluster"] as? Int) == 0 }.compactMap { $0["path"] as? String })
        let examples = ((map["clusters"] as? [[String: Any]])?.first?["examples"] as? [String]) ?? []
        let group = try timbre(["playlist", "cluster", "1", "--k", "2", "--absolute", "-o", output])
        XCTAssertEqual(group.status, 0, group.output)
        let groupPaths = entries(try String(contentsOfFile: output, encoding: .utf8)).map { $0.path }
        XCTAssertEqual(Set(groupPaths), first)
        XCTAssertEqual(groupPaths.first, examples.first, "nearest the centre first")
        let noGroup = try timbre(["playlist", "cluster", "3", "--k", "2", "-o", output])
        XCTAssertNotEqual(noGroup.status, 0)
        XCTAssertTrue(noGroup.output.contains("there is no group 3"), noGroup.output)

        // The API's cluster members, from a clustering it made.
        let made = alice.send("POST", "/api/v1/clusters", json: ["k": 2])
        XCTAssertEqual(made.status, 201, made.text)
        let id = try XCTUnwrap((made.object["id"] as? NSNumber)?.int64Value)
        let apiPoints = try XCTUnwrap(made.object["tracks"] as? [[String: Any]])
        for cluster in 0..<2 {
            let members = alice.get("/api/v1/clusters/\(id)?format=m3u8&cluster=\(cluster)&paths=relative")
            XCTAssertEqual(members.status, 200, members.text)
            XCTAssertEqual(members.headers["content-type"], "audio/x-mpegurl; charset=utf-8")
            XCTAssertEqual(Set(entries(members.text).map { $0.path }),
                           Set(apiPoints.filter { ($0["cluster"] as? Int) == cluster }.compactMap { $0["path"] as? String }))
        }
        XCTAssertEqual(alice.get("/api/v1/clusters/\(id)?format=m3u8").status, 400, "which cluster?")
        XCTAssertEqual(alice.get("/api/v1/clusters/\(id)?format=m3u8&cluster=2").status, 400)
        XCTAssertEqual(alice.get("/api/v1/clusters/\(id)").headers["content-type"], "application/json", "JSON without format")
    }

    func testTracksListAsM3U8AndBadFormats() throws {
        let f = try fixture()
        let alice = HTTPClient(base: f.server.baseURL, key: f.aliceKey)
        let page = alice.get("/api/v1/tracks?limit=3&format=m3u8&paths=relative")
        XCTAssertEqual(page.status, 200, page.text)
        XCTAssertEqual(page.headers["content-type"], "audio/x-mpegurl; charset=utf-8")
        let listed = entries(page.text)
        let first3 = try located(Array(f.aliceTracks.prefix(3)))
        XCTAssertEqual(listed.map { $0.path }, f.aliceTracks.prefix(3).compactMap { first3[$0]?.track.path }, "the page's tracks, by id")
        let titled = entries(alice.get("/api/v1/tracks?q=Caf%C3%A9&format=m3u8").text)
        XCTAssertEqual(titled.map { $0.name }, ["Ørjan & Zoë - Café №5"])
        XCTAssertEqual(titled.map { $0.seconds }, [62])
        let similar = alice.get("/api/v1/tracks/\(f.aliceTracks[0])/similar?k=2&format=m3u8")
        XCTAssertEqual(similar.status, 200)
        XCTAssertEqual(entries(similar.text).count, 2)
        XCTAssertTrue(entries(similar.text).allSatisfy { $0.path.hasPrefix(f.aliceRoot + "/") }, "absolute server paths by default")
        for bad in ["/api/v1/tracks?format=xml", "/api/v1/tracks?format=m3u8&paths=sideways",
                    "/api/v1/tracks/\(f.aliceTracks[0])/similar?format=m3u", "/api/v1/tracks/\(f.aliceTracks[0])/similar?k=0&format=m3u8"] {
            let answer = alice.get(bad)
            XCTAssertEqual(answer.status, 400, bad)
            XCTAssertEqual(answer.errorCode, "bad_request", bad)
        }
        // Bob cannot list Alice's tracks as a playlist either.
        let bob = HTTPClient(base: f.server.baseURL, key: f.bobKey)
        XCTAssertEqual(bob.get("/api/v1/tracks/\(f.aliceTracks[0])/similar?format=m3u8").status, 404)
        XCTAssertEqual(bob.send("POST", "/api/v1/similar?format=m3u8", json: ["track_ids": [f.aliceTracks[0]]]).status, 404)
    }

    func testBadPlaylistRequestsFailClearlyAndKeepTheOldFile() throws {
        let f = try fixture()
        let output = f.home.appendingPathComponent("kept.m3u8").path
        let good = try timbre(["playlist", "similar", String(f.aliceTracks[0]), "--count", "2", "-o", output])
        XCTAssertEqual(good.status, 0, good.output)
        let before = try String(contentsOfFile: output, encoding: .utf8)

        let unknown = try timbre(["playlist", "similar", "99999", "-o", output])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains("99999 is not a track in the catalog"), unknown.output)
        let unknownPath = try timbre(["playlist", "path", String(f.aliceTracks[0]), "/no/such/file.flac", "-o", output])
        XCTAssertNotEqual(unknownPath.status, 0)
        XCTAssertTrue(unknownPath.output.contains("/no/such/file.flac is not a track in the catalog"), unknownPath.output)
        for count in ["0", "1001"] {
            let refused = try timbre(["playlist", "seeds", String(f.aliceTracks[0]), "--count", count, "-o", output])
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.output.contains("--count must be from 1 to 1000"), refused.output)
        }
        let short = try timbre(["playlist", "path", String(f.aliceTracks[0]), String(f.aliceTracks[1]), "--count", "1", "-o", output])
        XCTAssertNotEqual(short.status, 0)
        XCTAssertTrue(short.output.contains("at least 2 tracks"), short.output)
        let fewer = try timbre(["playlist", "seeds", String(f.aliceTracks[0]), String(f.aliceTracks[1]), "--count", "1", "-o", output])
        XCTAssertNotEqual(fewer.status, 0)
        XCTAssertTrue(fewer.output.contains("smaller than the 2 seed tracks"), fewer.output)
        let both = try timbre(["playlist", "similar", String(f.aliceTracks[0]), "--absolute", "--relative-to", "/tmp", "-o", output])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.output.contains("exclude each other"), both.output)
        let neither = try timbre(["playlist", "similar", "-o", output])
        XCTAssertNotEqual(neither.status, 0)
        XCTAssertTrue(neither.output.contains("give either a TRACK or --file"), neither.output)
        XCTAssertEqual(try String(contentsOfFile: output, encoding: .utf8), before, "a failed command leaves the old playlist as it was")

        // A folder that cannot hold the file: a clear error and nothing written.
        let blocker = f.home.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let unwritable = try timbre(["playlist", "similar", String(f.aliceTracks[0]), "-o", blocker.path + "/list.m3u8"])
        XCTAssertNotEqual(unwritable.status, 0)
        XCTAssertTrue(unwritable.output.contains("cannot write the playlist"), unwritable.output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: f.home.path).filter { $0.contains("list.m3u8") }, [])

        // --file: any audio file, embedded on the spot, gives its nearest tracks.
        let copy = try XCTUnwrap(f.copies.first { $0.hasSuffix(".ogg") })
        let outside = f.home.appendingPathComponent("outside.ogg").path
        try FileManager.default.copyItem(atPath: copy, toPath: outside)
        let byFile = try timbre(["playlist", "similar", "--file", outside, "--count", "3", "--absolute", "-o", output])
        XCTAssertEqual(byFile.status, 0, byFile.output)
        let nearest = entries(try String(contentsOfFile: output, encoding: .utf8)).map { $0.path }
        XCTAssertEqual(nearest.count, 3)
        XCTAssertTrue(f.copies.contains(nearest[0]) || nearest[0].contains("/bob/"), "a copy of the same piece comes first: \(nearest)")
    }
}

private struct PlaylistFixtureError: Error, CustomStringConvertible { let description: String }
