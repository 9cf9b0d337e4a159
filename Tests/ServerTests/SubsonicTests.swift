import Catalog
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Server
import XCTest

/// The Subsonic endpoint (`/rest/`) against a real `timbre serve` and PostgreSQL: Alice's five
/// tones in two albums of two artists, Bob's one tone by an artist of the same name, tagged by
/// the server's worker with the shipped model.
final class SubsonicTests: XCTestCase {
    struct Fixture {
        let database: ScratchDatabase
        let server: ServerProcess
        let home: URL
        let alice: User, bob: User
        let aliceKey: String, bobKey: String
        let aliceTracks: [Int64], bobTracks: [Int64]
        let files: [Int64: URL]
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
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-subsonic-\(UUID().uuidString.prefix(8))")
        let users = UserRepository(pool: database.pool)
        let (alice, aliceKey) = try users.add(name: "alice")
        let (bob, bobKey) = try users.add(name: "bob")
        _ = try writeToneLibrary(at: home.appendingPathComponent("alice"), count: 5, seconds: 3)
        _ = try writeToneLibrary(at: home.appendingPathComponent("bob"), count: 1, seconds: 3, prefix: "bob")
        let libraries = LibraryRepository(pool: database.pool)
        let aliceLibrary = try libraries.add(path: home.appendingPathComponent("alice").path, ownerID: alice.id)
        let bobLibrary = try libraries.add(path: home.appendingPathComponent("bob").path, ownerID: bob.id)
        let crawler = Crawler(pool: database.pool, metadataReader: FileTagReader.read)
        _ = try crawler.scan(library: aliceLibrary)
        _ = try crawler.scan(library: bobLibrary)
        // The tones carry no tags: give the rows the tags a scan would have read from tagged files.
        try database.pool.withConnection { connection in
            try connection.query("""
                UPDATE tracks SET title = 'Tone ' || substring(path FROM '[0-9]+'),
                  artist = CASE WHEN path ~ '^tone-[012]' THEN 'The Sines' ELSE 'Square Club' END,
                  album = CASE WHEN path ~ '^tone-[012]' THEN 'First Light' ELSE 'Night Shift' END,
                  year = 2020 + substring(path FROM '[0-9]+')::int, genre = 'Test Tones'
                WHERE library_id = $1
                """, [aliceLibrary.id])
            try connection.query("UPDATE tracks SET title = 'Lone Tone', artist = 'the  sines', album = 'First Light' WHERE library_id = $1",
                                 [bobLibrary.id])
        }
        let server = try ServerProcess(databaseURL: database.url, home: home.path, arguments: ["--workers", "2", "--threads", "4"])
        let tracks = TrackRepository(pool: database.pool)
        let deadline = Date().addingTimeInterval(180)
        while try (tracks.counts()[.tagged] ?? 0) < 6, Date() < deadline { usleep(200_000) }
        guard try (tracks.counts()[.tagged] ?? 0) == 6 else { throw FixtureError(description: "the server's worker did not tag 6 tracks in 3 minutes") }
        let aliceTracks = try tracks.tracks(libraryID: aliceLibrary.id).map(\.id).sorted()
        let bobTracks = try tracks.tracks(libraryID: bobLibrary.id).map(\.id).sorted()
        var files: [Int64: URL] = [:]
        for track in try tracks.tracks(libraryID: aliceLibrary.id) {
            files[track.id] = URL(fileURLWithPath: aliceLibrary.rootPath).appendingPathComponent(track.path)
        }
        // The index refreshes every 2 s: wait until it holds Alice's embeddings.
        let client = HTTPClient(base: server.baseURL, key: aliceKey)
        while client.get("/api/v1/tracks/\(aliceTracks[0])/similar?k=20").object["results"].map({ ($0 as? [Any])?.count ?? 0 }) ?? 0 < 4,
              Date() < deadline { usleep(200_000) }
        return Fixture(database: database, server: server, home: home, alice: alice, bob: bob, aliceKey: aliceKey, bobKey: bobKey,
                       aliceTracks: aliceTracks, bobTracks: bobTracks, files: files)
    }

    func fixture() throws -> Fixture {
        if let error = Self.setupError { throw error }
        guard let shared = Self.shared else { throw XCTSkip("no fixture") }
        return shared
    }

    /// A call with `arguments` (apiKey=… or u/p/t/s) and f=json; the `subsonic-response` object.
    func call(_ endpoint: String, _ arguments: [String: String], post: Bool = false) throws -> (answer: HTTPClient.Answer, response: [String: Any]) {
        let client = HTTPClient(base: try fixture().server.baseURL, key: nil)
        var items = URLComponents()
        items.queryItems = (["f": "json", "v": "1.16.1", "c": "timbre-test"].merging(arguments) { $1 }).map { URLQueryItem(name: $0.key, value: $0.value) }
        let query = items.percentEncodedQuery!.replacingOccurrences(of: "+", with: "%2B")
        let answer = post
            ? client.send("POST", "/rest/\(endpoint)", body: Data(query.utf8), contentType: "application/x-www-form-urlencoded")
            : client.get("/rest/\(endpoint)?\(query)")
        return (answer, answer.object["subsonic-response"] as? [String: Any] ?? [:])
    }

    func errorCode(_ response: [String: Any]) -> Int? { (response["error"] as? [String: Any])?["code"] as? Int }

    // MARK: Pieces without a server

    func testMD5MatchesRFC1321() {
        // RFC 1321, appendix A.5.
        let suite = ["": "d41d8cd98f00b204e9800998ecf8427e", "a": "0cc175b9c0f1b6a831c399e269772661", "abc": "900150983cd24fb0d6963f7d28e17f72",
                     "message digest": "f96b697d7cb7938d525a2f31aaf161d0", "abcdefghijklmnopqrstuvwxyz": "c3fcd3d76192e4007dfb496cca67e13b",
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789": "d174ab98d277d9f5a5611c2c9f419d9f",
                     String(repeating: "1234567890", count: 8): "57edf4a22be3c955ac49da2e2107b67a"]
        for (text, digest) in suite { XCTAssertEqual(MD5.hex(text), digest, text) }
    }

    func testOneTreeIsWrittenAsJSONAndAsXML() throws {
        let tree = SubsonicObject([
            "status": .string("ok"),
            "genres": .object(SubsonicObject(["genre": .list([
                .object(SubsonicObject(["value": .string("Rock & <Roll>"), "songCount": .int(3)])),
                .object(SubsonicObject(["value": .string("Jazz"), "songCount": .int(1)])),
            ])])),
            "openSubsonicExtensions": .list([.object(SubsonicObject(["name": .string("formPost"), "versions": .list([.int(1), .int(2)])]))]),
            "similarity": .number(0.25),
            "empty": .object(SubsonicObject()),
        ])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(SubsonicEncoder.json(root: "subsonic-response", tree))) as? [String: Any])
        let root = try XCTUnwrap(json["subsonic-response"] as? [String: Any])
        XCTAssertEqual(root["status"] as? String, "ok")
        XCTAssertEqual(root["similarity"] as? Double, 0.25)
        let genres = try XCTUnwrap((root["genres"] as? [String: Any])?["genre"] as? [[String: Any]])
        XCTAssertEqual(genres.map { $0["value"] as? String }, ["Rock & <Roll>", "Jazz"])
        XCTAssertEqual(((root["openSubsonicExtensions"] as? [[String: Any]])?.first?["versions"] as? [Int]), [1, 2])
        let xml = String(decoding: SubsonicEncoder.xml(root: "subsonic-response", namespace: "http://subsonic.org/restapi", tree), as: UTF8.self)
        XCTAssertTrue(xml.contains(#"<subsonic-response xmlns="http://subsonic.org/restapi" status="ok" similarity="0.25">"#), xml)
        XCTAssertTrue(xml.contains(#"<genres><genre songCount="3">Rock &amp; &lt;Roll&gt;</genre><genre songCount="1">Jazz</genre></genres>"#), xml)
        XCTAssertTrue(xml.contains(#"<openSubsonicExtensions name="formPost"><versions>1</versions><versions>2</versions></openSubsonicExtensions>"#), xml)
        XCTAssertTrue(xml.contains("<empty/>"), xml)
        // And the XML parses.
        XCTAssertTrue(XMLParser(data: Data(xml.utf8)).parse())
    }

    // MARK: Envelope and authentication

    func testEnvelopeAndEveryWayToSignIn() throws {
        let f = try fixture()
        let (answer, ok) = try call("ping", ["apiKey": f.aliceKey])
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.headers["content-type"], "application/json")
        XCTAssertEqual(ok["status"] as? String, "ok")
        XCTAssertEqual(ok["version"] as? String, "1.16.1")
        XCTAssertEqual(ok["type"] as? String, "timbre")
        XCTAssertEqual(ok["openSubsonic"] as? Bool, true)
        XCTAssertNotNil(ok["serverVersion"] as? String)
        // XML by default, and the .view spelling.
        let xml = HTTPClient(base: f.server.baseURL, key: nil).get("/rest/ping.view?apiKey=\(f.aliceKey)")
        XCTAssertEqual(xml.headers["content-type"], "text/xml; charset=utf-8")
        XCTAssertTrue(xml.text.contains(#"<subsonic-response xmlns="http://subsonic.org/restapi" status="ok" version="1.16.1" type="timbre""#), xml.text)
        // The extensions are public.
        let extensions = try call("getOpenSubsonicExtensions", [:]).response
        XCTAssertEqual(extensions["status"] as? String, "ok")
        let names = (extensions["openSubsonicExtensions"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        XCTAssertTrue(Set(names).isSuperset(of: ["apiKeyAuthentication", "sonicSimilarity", "formPost"]), "\(names)")

        // Failures are HTTP 200 with status "failed" and the spec's code.
        let wrong = try call("ping", ["u": "alice", "p": "not-it"])
        XCTAssertEqual(wrong.answer.status, 200)
        XCTAssertEqual(wrong.response["status"] as? String, "failed")
        XCTAssertEqual(errorCode(wrong.response), 40)
        XCTAssertEqual(errorCode(try call("ping", ["u": "nobody", "p": "x"]).response), 40)
        XCTAssertEqual(errorCode(try call("ping", [:]).response), 10, "no credentials at all: u is missing")
        XCTAssertEqual(errorCode(try call("ping", ["u": "alice", "t": "0123", "s": "abc"]).response), 41, "token without a Subsonic password")
        XCTAssertEqual(errorCode(try call("ping", ["apiKey": "tmb_0000"]).response), 44)
        XCTAssertEqual(errorCode(try call("ping", ["apiKey": f.aliceKey, "u": "alice"]).response), 43)
        // A Timbre API key works as the password too; someone else's does not.
        XCTAssertEqual(try call("ping", ["u": "alice", "p": f.aliceKey]).response["status"] as? String, "ok")
        XCTAssertEqual(errorCode(try call("ping", ["u": "alice", "p": f.bobKey]).response), 40)

        // With a Subsonic password: token (md5(password + salt)), plain and enc: hex, GET or form POST.
        let password = try SubsonicPasswordRepository(pool: f.database.pool).reset(userID: f.alice.id)
        let salt = "c19b2d"
        XCTAssertEqual(try call("ping", ["u": "alice", "t": MD5.hex(password + salt), "s": salt]).response["status"] as? String, "ok")
        XCTAssertEqual(try call("ping", ["u": "alice", "t": MD5.hex(password + salt), "s": salt], post: true).response["status"] as? String, "ok")
        XCTAssertEqual(errorCode(try call("ping", ["u": "alice", "t": MD5.hex(password + "other"), "s": salt]).response), 40)
        XCTAssertEqual(errorCode(try call("ping", ["u": "bob", "t": MD5.hex(password + salt), "s": salt]).response), 41)
        let hex = Array(password.utf8).map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(try call("ping", ["u": "alice", "p": "enc:" + hex]).response["status"] as? String, "ok")
        XCTAssertEqual(try call("ping", ["u": "alice", "p": password], post: true).response["status"] as? String, "ok")
        XCTAssertEqual(errorCode(try call("getSong", ["apiKey": f.aliceKey]).response), 10, "a missing id is code 10")
        // A name Timbre does not serve is a Subsonic failure too, not the JSON API's 404.
        let unknown = try call("getPodcasts", ["apiKey": f.aliceKey])
        XCTAssertEqual(unknown.answer.status, 200)
        XCTAssertEqual(unknown.response["status"] as? String, "failed")
        XCTAssertEqual(errorCode(unknown.response), 0)
    }

    // MARK: Browsing, ownership, media

    func testBrowsingSearchingAndOwnership() throws {
        let f = try fixture()
        let alice = ["apiKey": f.aliceKey], bob = ["apiKey": f.bobKey]
        let folders = try call("getMusicFolders", alice).response
        XCTAssertEqual(((folders["musicFolders"] as? [String: Any])?["musicFolder"] as? [[String: Any]])?.map { $0["name"] as? String }, ["alice"])

        let artists = try call("getArtists", alice).response["artists"] as? [String: Any] ?? [:]
        let index = artists["index"] as? [[String: Any]] ?? []
        XCTAssertEqual(index.map { $0["name"] as? String }, ["S"], "\"The Sines\" is filed under S, as is Square Club")
        let listed = (index.first?["artist"] as? [[String: Any]] ?? [])
        XCTAssertEqual(listed.map { $0["name"] as? String }, ["Square Club", "The Sines"])
        let sines = try XCTUnwrap(listed.last?["id"] as? String)
        let again = ((try call("getArtists", alice).response["artists"] as? [String: Any])?["index"] as? [[String: Any]])?.first?["artist"] as? [[String: Any]]
        XCTAssertEqual(again?.compactMap { $0["id"] as? String }, listed.compactMap { $0["id"] as? String }, "ids are the same every time")

        let artist = try call("getArtist", alice.merging(["id": sines]) { $1 }).response["artist"] as? [String: Any] ?? [:]
        let albums = artist["album"] as? [[String: Any]] ?? []
        XCTAssertEqual(albums.map { $0["name"] as? String }, ["First Light"])
        XCTAssertEqual(albums.first?["songCount"] as? Int, 3)
        let albumID = try XCTUnwrap(albums.first?["id"] as? String)
        let album = try call("getAlbum", alice.merging(["id": albumID]) { $1 }).response["album"] as? [String: Any] ?? [:]
        let songs = album["song"] as? [[String: Any]] ?? []
        XCTAssertEqual(songs.map { $0["title"] as? String }, ["Tone 0", "Tone 1", "Tone 2"])
        XCTAssertTrue(Set(songs.compactMap { $0["id"] as? String }).isSubset(of: Set(f.aliceTracks.map { "tr-\($0)" })))
        XCTAssertEqual(songs.first?["albumId"] as? String, albumID)
        XCTAssertEqual(songs.first?["artistId"] as? String, sines)
        XCTAssertEqual(songs.first?["contentType"] as? String, "audio/flac")
        XCTAssertEqual(songs.first?["year"] as? Int, 2020)
        XCTAssertEqual(songs.first?["isDir"] as? Bool, false)

        // The folder view: the same artist → album → songs tree.
        let indexes = try call("getIndexes", alice).response["indexes"] as? [String: Any] ?? [:]
        XCTAssertNotNil(indexes["lastModified"] as? Int)
        XCTAssertEqual(((indexes["index"] as? [[String: Any]])?.first?["artist"] as? [[String: Any]])?.compactMap { $0["id"] as? String },
                       listed.compactMap { $0["id"] as? String })
        let artistFolder = try call("getMusicDirectory", alice.merging(["id": sines]) { $1 }).response["directory"] as? [String: Any] ?? [:]
        XCTAssertEqual((artistFolder["child"] as? [[String: Any]])?.map { $0["id"] as? String }, [albumID])
        XCTAssertEqual((artistFolder["child"] as? [[String: Any]])?.first?["isDir"] as? Bool, true)
        let albumFolder = try call("getMusicDirectory", alice.merging(["id": albumID]) { $1 }).response["directory"] as? [String: Any] ?? [:]
        XCTAssertEqual((albumFolder["child"] as? [[String: Any]])?.map { $0["id"] as? String }, songs.map { $0["id"] as? String })
        XCTAssertEqual(albumFolder["parent"] as? String, sines)

        let list = try call("getAlbumList2", alice.merging(["type": "alphabeticalByName"]) { $1 }).response
        XCTAssertEqual(((list["albumList2"] as? [String: Any])?["album"] as? [[String: Any]])?.map { $0["name"] as? String }, ["First Light", "Night Shift"])
        XCTAssertEqual(errorCode(try call("getAlbumList2", alice).response), 10)
        XCTAssertEqual(errorCode(try call("getAlbumList2", alice.merging(["type": "byGenre"]) { $1 }).response), 10)

        let found = try call("search3", alice.merging(["query": "night"]) { $1 }).response["searchResult3"] as? [String: Any] ?? [:]
        XCTAssertEqual((found["album"] as? [[String: Any]])?.map { $0["name"] as? String }, ["Night Shift"])
        XCTAssertEqual((found["song"] as? [[String: Any]])?.count, 2)
        XCTAssertEqual((found["artist"] as? [[String: Any]])?.count, 0)

        // Genres are the effective tags; every song has some (tags, or its file's genre).
        let genres = try call("getGenres", alice).response["genres"] as? [String: Any] ?? [:]
        let genreList = genres["genre"] as? [[String: Any]] ?? []
        XCTAssertFalse(genreList.isEmpty)
        let first = try XCTUnwrap(genreList.first?["value"] as? String)
        let byGenre = try call("getAlbumList2", alice.merging(["type": "byGenre", "genre": first]) { $1 }).response
        XCTAssertEqual(((byGenre["albumList2"] as? [String: Any])?["album"] as? [[String: Any]])?.count, genreList.first?["albumCount"] as? Int)

        // Bob: his own artist of the same name has another id; Alice's things are not found (70).
        let bobsArtists = try call("getArtists", bob).response["artists"] as? [String: Any] ?? [:]
        let bobsListed = ((bobsArtists["index"] as? [[String: Any]])?.first?["artist"] as? [[String: Any]]) ?? []
        XCTAssertEqual(bobsListed.count, 1)
        XCTAssertNotEqual(bobsListed.first?["id"] as? String, sines)
        for (endpoint, arguments) in [("getSong", ["id": "tr-\(f.aliceTracks[0])"]), ("getArtist", ["id": sines]), ("getAlbum", ["id": albumID]),
                                      ("stream", ["id": "tr-\(f.aliceTracks[0])"]), ("getCoverArt", ["id": "tr-\(f.aliceTracks[0])"]),
                                      ("getSimilarSongs2", ["id": "tr-\(f.aliceTracks[0])"]),
                                      ("getSonicSimilarTracks", ["id": "tr-\(f.aliceTracks[0])"]),
                                      ("findSonicPath", ["startSongId": "tr-\(f.bobTracks[0])", "endSongId": "tr-\(f.aliceTracks[0])"]),
                                      ("getMusicDirectory", ["id": albumID]), ("getArtists", ["musicFolderId": "1"])] {
            let answer = try call(endpoint, bob.merging(arguments) { $1 })
            XCTAssertEqual(answer.answer.status, 200, endpoint)
            XCTAssertEqual(errorCode(answer.response), 70, "\(endpoint) \(arguments)")
        }
        let bobsSearch = try call("search3", bob.merging(["query": ""]) { $1 }).response["searchResult3"] as? [String: Any] ?? [:]
        XCTAssertEqual((bobsSearch["song"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, f.bobTracks.map { "tr-\($0)" })
    }

    func testStreamIsTheFileWithRangesAndCoverArtIsAbsent() throws {
        let f = try fixture()
        let client = HTTPClient(base: f.server.baseURL, key: nil)
        let id = f.aliceTracks[0]
        let file = try Data(contentsOf: try XCTUnwrap(f.files[id]))
        let whole = client.get("/rest/stream.view?apiKey=\(f.aliceKey)&id=tr-\(id)")
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.body, file)
        XCTAssertEqual(whole.headers["content-type"], f.files[id]?.pathExtension == "flac" ? "audio/flac" : "audio/wav")
        let part = client.send("GET", "/rest/stream?apiKey=\(f.aliceKey)&id=tr-\(id)", headers: ["Range": "bytes=100-199"])
        XCTAssertEqual(part.status, 206)
        XCTAssertEqual(part.body, file.subdata(in: 100..<200))
        XCTAssertEqual(part.headers["content-range"], "bytes 100-199/\(file.count)")
        // The tones hold no picture: code 70 in the envelope.
        let cover = client.get("/rest/getCoverArt?apiKey=\(f.aliceKey)&id=tr-\(id)&f=json")
        XCTAssertEqual(cover.status, 200)
        XCTAssertEqual(errorCode(cover.object["subsonic-response"] as? [String: Any] ?? [:]), 70)
    }

    // MARK: Similarity

    func testSimilarSongsAndTheSonicSimilarityExtension() throws {
        let f = try fixture()
        let alice = ["apiKey": f.aliceKey]
        let start = "tr-\(f.aliceTracks[0])", end = "tr-\(f.aliceTracks[4])"
        let mine = Set(f.aliceTracks.map { "tr-\($0)" })
        let similar = try call("getSimilarSongs2", alice.merging(["id": start, "count": "10"]) { $1 }).response
        let songs = ((similar["similarSongs2"] as? [String: Any])?["song"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        XCTAssertEqual(songs.count, 4, "the other four of Alice's songs, none of Bob's")
        XCTAssertTrue(Set(songs).isSubset(of: mine.subtracting([start])))
        let album = try albumID(of: start)
        let members = ((try call("getAlbum", alice.merging(["id": album]) { $1 }).response["album"] as? [String: Any])?["song"] as? [[String: Any]] ?? [])
            .compactMap { $0["id"] as? String }
        let albumRadio = try call("getSimilarSongs", alice.merging(["id": album]) { $1 }).response
        let fromAlbum = ((albumRadio["similarSongs"] as? [String: Any])?["song"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        XCTAssertFalse(members.isEmpty)
        XCTAssertEqual(Set(fromAlbum), mine.subtracting(members), "an album's radio is the rest of the library, the album left out")

        let sonic = try call("getSonicSimilarTracks", alice.merging(["id": start, "count": "3"]) { $1 }).response
        let matches = sonic["sonicMatch"] as? [[String: Any]] ?? []
        XCTAssertEqual(matches.count, 3)
        let scores = matches.compactMap { $0["similarity"] as? Double }
        XCTAssertEqual(scores.count, 3)
        XCTAssertEqual(scores, scores.sorted(by: >), "best first")
        XCTAssertTrue(scores.allSatisfy { (0...1).contains($0) }, "\(scores)")
        XCTAssertEqual(matches.compactMap { ($0["entry"] as? [String: Any])?["id"] as? String }, Array(songs.prefix(3)),
                       "the same neighbours, in the same order, as getSimilarSongs2")

        let path = try call("findSonicPath", alice.merging(["startSongId": start, "endSongId": end, "count": "4"]) { $1 }).response
        let steps = path["sonicMatch"] as? [[String: Any]] ?? []
        let ids = steps.compactMap { ($0["entry"] as? [String: Any])?["id"] as? String }
        XCTAssertEqual(ids.count, 4)
        XCTAssertEqual(ids.first, start)
        XCTAssertEqual(ids.last, end)
        XCTAssertEqual(Set(ids).count, 4)
        let similarity = steps.compactMap { $0["similarity"] as? Double }
        XCTAssertEqual(similarity.first ?? 0, 1, accuracy: 1e-6, "the start is itself")
        XCTAssertTrue(similarity.allSatisfy { (0...1).contains($0) })
        // XML carries the same tree.
        let xml = HTTPClient(base: f.server.baseURL, key: nil).get("/rest/getSonicSimilarTracks?apiKey=\(f.aliceKey)&id=\(start)&count=2")
        XCTAssertTrue(xml.text.contains("<sonicMatch similarity=\""), xml.text)
        XCTAssertTrue(xml.text.contains("<entry id=\"tr-"), xml.text)
    }

    private func albumID(of song: String) throws -> String {
        let answer = try call("getSong", ["apiKey": try fixture().aliceKey, "id": song]).response
        return try XCTUnwrap((answer["song"] as? [String: Any])?["albumId"] as? String)
    }
}

private struct FixtureError: Error, CustomStringConvertible { let description: String }
