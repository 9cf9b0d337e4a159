import Catalog
import Foundation
import Service
import Tagger
import XCTest

/// The API against a real `timbre serve` and a real PostgreSQL: two users with their own
/// libraries of generated tones, tagged by the server's built-in worker with the shipped model.
final class APITests: XCTestCase {
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
    /// (method, route pattern, status) of every answer the tests saw, checked against openapi.json at the end.
    static let seen = Locked<Set<String>>([])

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
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-api-\(UUID().uuidString.prefix(8))")
        let users = UserRepository(pool: database.pool)
        let (alice, aliceKey) = try users.add(name: "alice")
        let (bob, bobKey) = try users.add(name: "bob")
        let libraries = LibraryRepository(pool: database.pool)
        _ = try writeToneLibrary(at: home.appendingPathComponent("alice"), count: 8)
        _ = try writeToneLibrary(at: home.appendingPathComponent("bob"), count: 2, prefix: "bob")
        let aliceLibrary = try libraries.add(path: home.appendingPathComponent("alice").path, ownerID: alice.id)
        let bobLibrary = try libraries.add(path: home.appendingPathComponent("bob").path, ownerID: bob.id)
        let crawler = Crawler(pool: database.pool, metadataReader: FileTagReader.read)
        _ = try crawler.scan(library: aliceLibrary)
        _ = try crawler.scan(library: bobLibrary)
        let server = try ServerProcess(databaseURL: database.url, home: home.path, arguments: ["--workers", "2", "--threads", "4"])
        // Wait until the built-in worker has tagged all ten tracks.
        let tracks = TrackRepository(pool: database.pool)
        let deadline = Date().addingTimeInterval(180)
        while try (tracks.counts()[.tagged] ?? 0) < 10, Date() < deadline { usleep(200_000) }
        let tagged = try tracks.counts()[.tagged] ?? 0
        guard tagged == 10 else { throw FixtureError(description: "the server's worker tagged \(tagged) of 10 tracks in 3 minutes") }
        let aliceTracks = try tracks.tracks(libraryID: aliceLibrary.id).map(\.id).sorted()
        let bobTracks = try tracks.tracks(libraryID: bobLibrary.id).map(\.id).sorted()
        var files: [Int64: URL] = [:]
        for track in try tracks.tracks(libraryID: aliceLibrary.id) {
            files[track.id] = URL(fileURLWithPath: aliceLibrary.rootPath).appendingPathComponent(track.path)
        }
        // The server's index refreshes every 2 s: wait until it holds the embeddings.
        let client = HTTPClient(base: server.baseURL, key: aliceKey)
        while client.get("/api/v1/tracks/\(aliceTracks[0])/similar?k=20").object["results"].map({ ($0 as? [Any])?.count ?? 0 }) ?? 0 < 7,
              Date() < deadline { usleep(200_000) }
        return Fixture(database: database, server: server, home: home, alice: alice, bob: bob, aliceKey: aliceKey, bobKey: bobKey,
                       aliceTracks: aliceTracks, bobTracks: bobTracks, files: files)
    }

    func fixture() throws -> Fixture {
        if let error = Self.setupError { throw error }
        guard let shared = Self.shared else { throw XCTSkip("no fixture") }
        return shared
    }

    func client(_ key: String?) throws -> HTTPClient { HTTPClient(base: try fixture().server.baseURL, key: key) }

    /// Records what was answered, for the OpenAPI check.
    @discardableResult
    func seen(_ answer: HTTPClient.Answer, _ method: String, _ pattern: String) -> HTTPClient.Answer {
        Self.seen.mutate { $0.insert("\(method) \(pattern) \(answer.status)") }
        return answer
    }

    // MARK: Auth

    func testEveryAPIRouteNeedsAKeyAndOthersTracksAre404() throws {
        let f = try fixture()
        let anonymous = try client(nil), bob = try client(f.bobKey), alice = try client(f.aliceKey)
        let mine = f.aliceTracks[0]
        XCTAssertEqual(seen(anonymous.get("/api/v1/tracks"), "GET", "/api/v1/tracks").status, 401)
        XCTAssertEqual(anonymous.get("/api/v1/tracks").errorCode, "unauthorized")
        XCTAssertEqual(anonymous.get("/api/v1/tracks", key: "tmb_not-a-key").status, 401)
        XCTAssertEqual(anonymous.send("GET", "/api/v1/me", headers: ["Authorization": "Basic abc"], key: .some(nil)).status, 401)
        XCTAssertEqual(seen(alice.get("/api/v1/me"), "GET", "/api/v1/me").object["role"] as? String, "admin")
        XCTAssertEqual(bob.get("/api/v1/me").object["role"] as? String, "user")

        // Bob cannot see, change, play or compare with Alice's track: 404, as for a missing one.
        for path in ["/api/v1/tracks/\(mine)", "/api/v1/tracks/\(mine)/similar", "/api/v1/tracks/\(mine)/audio",
                     "/api/v1/tracks/\(mine)/spectrogram.png", "/api/v1/tracks/\(f.bobTracks[0])/path/\(mine)"] {
            let answer = bob.get(path)
            XCTAssertEqual(answer.status, 404, path)
            XCTAssertEqual(answer.errorCode, "not_found", path)
        }
        XCTAssertEqual(bob.get("/api/v1/tracks/\(mine)").text, bob.get("/api/v1/tracks/99999999").text.replacingOccurrences(of: "99999999", with: "\(mine)"),
                       "another user's track reads exactly like a missing one")
        XCTAssertEqual(seen(bob.send("PUT", "/api/v1/tracks/\(mine)/tags", json: ["add": ["x"]]), "PUT", "/api/v1/tracks/{id}/tags").status, 404)
        XCTAssertEqual(bob.send("POST", "/api/v1/similar", json: ["track_ids": [mine]]).status, 404)
        XCTAssertEqual(bob.send("POST", "/api/v1/libraries/1/scan").status, 404)
        XCTAssertEqual(bob.send("DELETE", "/api/v1/libraries/1").status, 404)
        // Bob's lists hold only his own.
        let bobsTracks = (bob.get("/api/v1/tracks").object["tracks"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
        XCTAssertEqual(bobsTracks.sorted(), f.bobTracks)
        let bobsSimilar = (bob.get("/api/v1/tracks/\(f.bobTracks[0])/similar?k=50").object["results"] as? [[String: Any]] ?? [])
            .compactMap { (($0["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value }
        XCTAssertEqual(bobsSimilar, [f.bobTracks[1]], "similar tracks come from the caller's own library only")
        XCTAssertEqual((bob.get("/api/v1/libraries").object["libraries"] as? [Any])?.count, 1)
        // Admin-only routes: 403 for a user.
        XCTAssertEqual(seen(bob.get("/api/v1/users"), "GET", "/api/v1/users").status, 403)
        XCTAssertEqual(bob.send("POST", "/api/v1/users", json: ["name": "mallory"]).status, 403)
        XCTAssertEqual(seen(bob.send("POST", "/api/v1/models/anything/activate"), "POST", "/api/v1/models/{version}/activate").status, 403)
        XCTAssertEqual(seen(alice.get("/api/v1/users"), "GET", "/api/v1/users").status, 200)

        // A revoked key stops working (the server caches a key for at most 2 s).
        let users = UserRepository(pool: f.database.pool)
        let extra = try users.issueKey(userID: f.bob.id, label: "test")
        XCTAssertEqual(try client(extra).get("/api/v1/me").status, 200)
        try users.revokeKeys(userID: f.bob.id, prefix: String(extra.prefix(12)))
        usleep(2_500_000)
        XCTAssertEqual(try client(extra).get("/api/v1/me").status, 401)
        XCTAssertEqual(bob.get("/api/v1/me").status, 200, "his other key still works")
    }

    func testLoginTokenWorksOnceAndGivesAKey() throws {
        let f = try fixture()
        let anonymous = try client(nil)
        let first = seen(anonymous.send("POST", "/api/v1/login", json: ["token": f.server.loginToken]), "POST", "/api/v1/login")
        XCTAssertEqual(first.status, 200, first.text)
        let key = try XCTUnwrap(first.object["key"] as? String)
        XCTAssertEqual((first.object["user"] as? [String: Any])?["name"] as? String, "alice", "the link signs in as the first admin")
        XCTAssertEqual(try client(key).get("/api/v1/me").status, 200)
        XCTAssertEqual(seen(anonymous.send("POST", "/api/v1/login", json: ["token": f.server.loginToken]), "POST", "/api/v1/login").status, 401)
        let log = try String(contentsOfFile: f.server.output, encoding: .utf8)
        XCTAssertFalse(log.contains(key), "a key never reaches the log")
        XCTAssertFalse(log.contains(f.aliceKey))
    }

    // MARK: Tracks

    func testTracksPageByKeysetAndFilter() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey)
        var ids: [Int64] = []
        var cursor: String?
        repeat {
            let answer = seen(alice.get("/api/v1/tracks?limit=3" + (cursor.map { "&cursor=\($0)" } ?? "")), "GET", "/api/v1/tracks")
            XCTAssertEqual(answer.status, 200)
            let page = (answer.object["tracks"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
            XCTAssertLessThanOrEqual(page.count, 3)
            ids += page
            cursor = answer.object["next_cursor"] as? String
        } while cursor != nil && ids.count < 100
        XCTAssertEqual(ids, f.aliceTracks, "every track once, by id")

        let one = alice.get("/api/v1/tracks?q=TONE-3")
        XCTAssertEqual((one.object["tracks"] as? [[String: Any]])?.compactMap { $0["path"] as? String }, ["tone-3.flac"])
        XCTAssertEqual((alice.get("/api/v1/tracks?q=%25").object["tracks"] as? [Any])?.count, 0, "% matches itself, not everything")
        XCTAssertEqual((alice.get("/api/v1/tracks?status=failed").object["tracks"] as? [Any])?.count, 0)
        for bad in ["limit=0", "limit=501", "limit=ten", "cursor=abc", "status=lost", "min_probability=2", "library=x"] {
            let answer = seen(alice.get("/api/v1/tracks?\(bad)"), "GET", "/api/v1/tracks")
            XCTAssertEqual(answer.status, 400, bad)
            XCTAssertEqual(answer.errorCode, "bad_request", bad)
        }
        // The tag filter follows effective tags: a label added by a correction finds the track.
        let track = f.aliceTracks[2]
        XCTAssertEqual(alice.send("PUT", "/api/v1/tracks/\(track)/tags", json: ["add": ["Filter Probe"]]).status, 200)
        let tagged = alice.get("/api/v1/tracks?tag=filter-probe").object["tracks"] as? [[String: Any]] ?? []
        XCTAssertEqual(tagged.compactMap { ($0["id"] as? NSNumber)?.int64Value }, [track])
    }

    func testCorrectionsRoundTripAndAreStoredOnePerChange() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey)
        let track = f.aliceTracks[1]
        let before = seen(alice.get("/api/v1/tracks/\(track)"), "GET", "/api/v1/tracks/{id}").object
        let predicted = try XCTUnwrap(before["predicted"] as? [[String: Any]])
        XCTAssertEqual(predicted.count, 127, "every label of the shipped model (27 tags + 100 teacher tags), with its probability")
        let topLabel = try XCTUnwrap(predicted.first?["label"] as? String)

        let changed = seen(alice.send("PUT", "/api/v1/tracks/\(track)/tags", json: ["add": ["  Party   Time "], "remove": [topLabel]]),
                           "PUT", "/api/v1/tracks/{id}/tags")
        XCTAssertEqual(changed.status, 200, changed.text)
        let effective = try XCTUnwrap(changed.object["effective_tags"] as? [String])
        XCTAssertTrue(effective.contains("party-time"), "labels are trimmed, lower-cased, spaces → -")
        XCTAssertFalse(effective.contains(topLabel), "a removal beats the prediction")
        // Persisted: a fresh read, and one row per change in the corrections table.
        let after = alice.get("/api/v1/tracks/\(track)").object
        XCTAssertEqual(after["effective_tags"] as? [String], effective)
        XCTAssertEqual((after["corrections"] as? [[String: Any]])?.compactMap { $0["action"] as? String }.sorted(), ["added", "removed"])
        let rows = try f.database.pool.withConnection {
            try $0.query("SELECT label, action, user_id FROM corrections WHERE track_id = $1 ORDER BY id", [track])
        }
        XCTAssertEqual(rows.rowCount, 2)
        XCTAssertEqual(try rows.int(0, 2), f.alice.id)
        // The latest correction wins: adding the label back restores it.
        _ = alice.send("PUT", "/api/v1/tracks/\(track)/tags", json: ["add": [topLabel]])
        XCTAssertTrue((alice.get("/api/v1/tracks/\(track)").object["effective_tags"] as? [String] ?? []).contains(topLabel))
        // The vocabulary lists user tags too.
        let tags = seen(alice.get("/api/v1/tags"), "GET", "/api/v1/tags").object["tags"] as? [[String: Any]] ?? []
        let party = tags.first { $0["label"] as? String == "party-time" }
        XCTAssertEqual(party?["in_vocabulary"] as? Bool, false)
        XCTAssertEqual((party?["added"] as? NSNumber)?.intValue, 1)

        // Bad labels and bodies.
        for (body, why) in [(["add": ["a\u{7}b"]], "control character"), (["add": [String(repeating: "x", count: 65)]], "65 characters"),
                            (["add": ["   "]], "empty"), (["add": ["x"], "remove": ["X"]], "both added and removed"),
                            (["add": "rock"], "not a list"), (["add": [1]], "not strings"), (["tags": ["x"]], "unknown field")] as [([String: Any], String)] {
            let answer = seen(alice.send("PUT", "/api/v1/tracks/\(track)/tags", json: body), "PUT", "/api/v1/tracks/{id}/tags")
            XCTAssertEqual(answer.status, 400, why)
        }
        XCTAssertEqual(rows.rowCount, 2, "(the earlier result is unchanged)")
        let stillTwoPlusOne = try f.database.pool.withConnection { try $0.query("SELECT count(*) FROM corrections WHERE track_id = $1", [track]).int(0, 0) }
        XCTAssertEqual(stillTwoPlusOne, 3, "rejected changes write nothing")
    }

    // MARK: Similarity

    func testSimilarTracksEqualABruteForceCosineRanking() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey)
        let model = try XCTUnwrap(try ModelRepository(pool: f.database.pool).active())
        let store = PredictionStore(pool: f.database.pool)
        var vectors: [Int64: [Float]] = [:]
        for id in f.aliceTracks { vectors[id] = try XCTUnwrap(try store.embedding(trackID: id, modelID: model.id)) }
        func cosine(_ a: [Float], _ b: [Float]) -> Float {
            let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
            return dot / (a.reduce(0) { $0 + $1 * $1 }.squareRoot() * b.reduce(0) { $0 + $1 * $1 }.squareRoot())
        }
        for query in f.aliceTracks.prefix(3) {
            let answer = seen(alice.get("/api/v1/tracks/\(query)/similar?k=5"), "GET", "/api/v1/tracks/{id}/similar")
            XCTAssertEqual(answer.status, 200, answer.text)
            XCTAssertEqual(answer.object["model_version"] as? String, model.version)
            let results = answer.object["results"] as? [[String: Any]] ?? []
            let got = results.compactMap { (($0["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value }
            let scores = results.compactMap { ($0["score"] as? NSNumber)?.floatValue }
            let others: [Int64] = f.aliceTracks.filter { $0 != query }
            let scored: [(id: Int64, score: Float)] = others.map { (id: $0, score: cosine(vectors[query]!, vectors[$0]!)) }
            let ranked = scored.sorted { (a: (id: Int64, score: Float), b: (id: Int64, score: Float)) -> Bool in
                a.score != b.score ? a.score > b.score : a.id < b.id
            }
            let expected = Array(ranked.prefix(5))
            XCTAssertEqual(got, expected.map { $0.id }, "track \(query)")
            for (score, reference) in zip(scores, expected.map { $0.score }) { XCTAssertEqual(score, reference, accuracy: 1e-4) }
        }
        // A playlist seed: the centroid of two tracks, neither of them in the answer.
        let seed = Array(f.aliceTracks.prefix(2))
        let centroid = seen(alice.send("POST", "/api/v1/similar", json: ["track_ids": seed, "k": 3]), "POST", "/api/v1/similar")
        XCTAssertEqual(centroid.status, 200, centroid.text)
        let centroidIDs = (centroid.object["results"] as? [[String: Any]] ?? []).compactMap { (($0["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value }
        XCTAssertEqual(centroidIDs.count, 3)
        XCTAssertTrue(Set(centroidIDs).isDisjoint(with: seed))
        XCTAssertEqual(seen(alice.send("POST", "/api/v1/similar", json: ["vector": [1, 2]]), "POST", "/api/v1/similar").status, 400)
        // An uploaded file: a library track's own file finds that track first, at cosine ≈ 1.
        let own = try Data(contentsOf: try XCTUnwrap(f.files[f.aliceTracks[3]]))
        let byFile = seen(alice.upload("/api/v1/similar?k=3", filename: "query.flac", data: own), "POST", "/api/v1/similar")
        XCTAssertEqual(byFile.status, 200, byFile.text)
        let firstHit = (byFile.object["results"] as? [[String: Any]])?.first
        XCTAssertEqual(((firstHit?["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value, f.aliceTracks[3])
        XCTAssertEqual((firstHit?["score"] as? NSNumber)?.floatValue ?? 0, 1, accuracy: 1e-3)
        XCTAssertEqual(seen(alice.send("POST", "/api/v1/similar", body: Data("noise".utf8), contentType: "audio/wav"), "POST", "/api/v1/similar").status, 422)
        XCTAssertEqual(alice.send("POST", "/api/v1/similar", json: [:] as [String: Int]).status, 400)
        XCTAssertEqual(seen(alice.get("/api/v1/tracks/\(f.aliceTracks[0])/similar?k=0"), "GET", "/api/v1/tracks/{id}/similar").status, 400)

        // A song path starts at a, ends at b, and never repeats a track.
        let (a, b) = (f.aliceTracks[0], f.aliceTracks[7])
        let path = seen(alice.get("/api/v1/tracks/\(a)/path/\(b)?steps=5"), "GET", "/api/v1/tracks/{a}/path/{b}")
        XCTAssertEqual(path.status, 200, path.text)
        let steps = (path.object["tracks"] as? [[String: Any]] ?? []).compactMap { (($0["track"] as? [String: Any])?["id"] as? NSNumber)?.int64Value }
        XCTAssertEqual(steps.count, 5)
        XCTAssertEqual(steps.first, a)
        XCTAssertEqual(steps.last, b)
        XCTAssertEqual(Set(steps).count, steps.count)
    }

    func testClustersCoverTheCallersTracksAndCanBeFetchedAgain() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey), bob = try client(f.bobKey)
        for k in [["k": 2] as [String: Any], ["k": "auto"]] {
            let made = seen(alice.send("POST", "/api/v1/clusters", json: k), "POST", "/api/v1/clusters")
            XCTAssertEqual(made.status, 201, made.text)
            let tracks = made.object["tracks"] as? [[String: Any]] ?? []
            XCTAssertEqual(tracks.compactMap { ($0["track_id"] as? NSNumber)?.int64Value }.sorted(), f.aliceTracks)
            let groups = made.object["clusters"] as? [[String: Any]] ?? []
            XCTAssertEqual(groups.compactMap { ($0["size"] as? NSNumber)?.intValue }.reduce(0, +), f.aliceTracks.count)
            let id = try XCTUnwrap(made.object["id"] as? NSNumber).int64Value
            let again = seen(alice.get("/api/v1/clusters/\(id)"), "GET", "/api/v1/clusters/{id}")
            XCTAssertEqual(again.body, made.body)
            XCTAssertEqual(seen(bob.get("/api/v1/clusters/\(id)"), "GET", "/api/v1/clusters/{id}").status, 404)
        }
        XCTAssertEqual(seen(alice.send("POST", "/api/v1/clusters", json: ["k": "many"]), "POST", "/api/v1/clusters").status, 400)
        XCTAssertEqual(alice.send("POST", "/api/v1/clusters", json: ["k": 0]).status, 400)
    }

    // MARK: Predict and files

    func testPredictUploadMatchesThePredictorOnTheSameFile() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey)
        let file = try XCTUnwrap(f.files[f.aliceTracks[0]])
        let data = try Data(contentsOf: file)
        let answer = seen(alice.upload("/api/v1/analysis/predict?top_k=3&embedding=true", filename: "../../etc/song.flac", data: data),
                          "POST", "/api/v1/analysis/predict")
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertEqual(answer.object["type"] as? String, "multi-label")
        XCTAssertEqual((answer.object["top_3"] as? [Any])?.count, 3)
        XCTAssertEqual((answer.object["embedding"] as? [Any])?.count, 256)
        let model = try XCTUnwrap(try ModelRepository(pool: f.database.pool).active())
        XCTAssertEqual(answer.object["model_version"] as? String, model.version)
        let reference = try Predictor(bundle: try ModelBundle.read(from: model.filePath)).predict(file: file.path)
        let all = try XCTUnwrap(answer.object["all_probabilities"] as? [String: NSNumber])
        for (label, probability) in zip(model.labels, reference.probabilities) {
            XCTAssertEqual(all[label]?.floatValue ?? -1, probability, accuracy: 1e-5, label)
        }
        // A raw body works as well, and gives the same answer.
        let raw = alice.send("POST", "/api/v1/analysis/predict?top_k=3", body: data, contentType: "audio/flac")
        XCTAssertEqual(raw.object["all_probabilities"] as? [String: NSNumber], all)

        XCTAssertEqual(seen(alice.send("POST", "/api/v1/analysis/predict", body: Data("not audio at all".utf8), contentType: "audio/mpeg"),
                            "POST", "/api/v1/analysis/predict").status, 422)
        XCTAssertEqual(alice.send("POST", "/api/v1/analysis/predict", body: data, contentType: "text/plain").status, 415)
        XCTAssertEqual(alice.send("POST", "/api/v1/analysis/predict", body: Data(), contentType: "audio/flac").status, 400)
        XCTAssertEqual(alice.upload("/api/v1/analysis/predict", field: "song", filename: "a.flac", data: data).status, 400)
        XCTAssertEqual(alice.upload("/api/v1/analysis/predict?threshold=7", filename: "a.flac", data: data).status, 400)
    }

    func testAudioIsStreamedWithRangesOnlyToItsOwner() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey)
        let track = f.aliceTracks[0]
        let bytes = try Data(contentsOf: try XCTUnwrap(f.files[track]))
        let whole = seen(alice.get("/api/v1/tracks/\(track)/audio"), "GET", "/api/v1/tracks/{id}/audio")
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.body, bytes)
        XCTAssertEqual(whole.headers["accept-ranges"], "bytes")
        let part = seen(alice.send("GET", "/api/v1/tracks/\(track)/audio", headers: ["Range": "bytes=100-299"]), "GET", "/api/v1/tracks/{id}/audio")
        XCTAssertEqual(part.status, 206)
        XCTAssertEqual(part.body, bytes[100..<300])
        XCTAssertEqual(part.headers["content-range"], "bytes 100-299/\(bytes.count)")
        let tail = alice.send("GET", "/api/v1/tracks/\(track)/audio", headers: ["Range": "bytes=-10"])
        XCTAssertEqual(tail.body, bytes.suffix(10))
        XCTAssertEqual(seen(alice.send("GET", "/api/v1/tracks/\(track)/audio", headers: ["Range": "bytes=\(bytes.count)-"]),
                            "GET", "/api/v1/tracks/{id}/audio").status, 416)

        // A file swapped for a symlink out of its library after the scan is not served.
        let bob = try client(f.bobKey)
        let bobTrack = f.bobTracks[1]
        let relative = try XCTUnwrap(bob.get("/api/v1/tracks/\(bobTrack)").object["path"] as? String)
        let file = f.home.appendingPathComponent("bob").appendingPathComponent(relative)
        let saved = file.appendingPathExtension("saved")
        try FileManager.default.moveItem(at: file, to: saved)
        try FileManager.default.createSymbolicLink(atPath: file.path, withDestinationPath: "/etc/passwd")
        let refused = seen(bob.get("/api/v1/tracks/\(bobTrack)/audio"), "GET", "/api/v1/tracks/{id}/audio")
        XCTAssertEqual(refused.status, 409, refused.text)
        XCTAssertFalse(refused.text.contains("root:"))
        XCTAssertEqual(bob.get("/api/v1/tracks/\(bobTrack)/spectrogram.png").status, 409)
        try FileManager.default.removeItem(at: file)
        try FileManager.default.moveItem(at: saved, to: file)
        XCTAssertEqual(bob.get("/api/v1/tracks/\(bobTrack)/audio").status, 200)

        let png = seen(alice.get("/api/v1/tracks/\(track)/spectrogram.png?width=300"), "GET", "/api/v1/tracks/{id}/spectrogram.png")
        XCTAssertEqual(png.status, 200)
        XCTAssertEqual(png.headers["content-type"], "image/png")
        XCTAssertEqual(Array(png.body.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = png.body[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertLessThanOrEqual(width, 300 + 58, "the plot's width is capped (the axes add a 58 px margin)")
        XCTAssertGreaterThan(width, 58)
    }

    // MARK: Bad requests

    func testMalformedRequestsGetClearErrorsAndTheServerStaysUp() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey)
        XCTAssertEqual(seen(alice.send("POST", "/api/v1/similar", body: Data("{\"track_ids\": [1,".utf8), contentType: "application/json"),
                            "POST", "/api/v1/similar").errorCode, "bad_request")
        XCTAssertEqual(alice.send("POST", "/api/v1/similar", body: Data("[1, 2]".utf8), contentType: "application/json").status, 400)
        XCTAssertEqual(seen(alice.send("POST", "/api/v1/libraries", body: Data("{\"path\": \"/\"}".utf8), contentType: "text/plain"),
                            "POST", "/api/v1/libraries").status, 415)
        // JSON over the 1 MB limit: 413, answered from the declared length.
        let huge = Data("{\"track_ids\": [".utf8) + Data(repeating: UInt8(ascii: "1"), count: 2 << 20) + Data("]}".utf8)
        let tooBig = seen(alice.send("POST", "/api/v1/similar", body: huge, contentType: "application/json"), "POST", "/api/v1/similar")
        XCTAssertEqual(tooBig.status, 413)
        XCTAssertEqual(tooBig.errorCode, "payload_too_large")
        // Unknown routes and methods.
        let unknown = alice.get("/api/v1/nothing/here")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.errorCode, "not_found")
        let wrongMethod = alice.send("DELETE", "/api/v1/tracks/\(f.aliceTracks[0])")
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["allow"], "GET")
        XCTAssertEqual(alice.get("/api/v1/tracks/abc").status, 404)
        // A NUL in the URL does not cut the path or a value short.
        let first = f.aliceTracks[0]
        XCTAssertEqual(alice.get("/api/v1/tracks/\(first)%00/similar").status, 404)
        XCTAssertEqual(alice.get("/api/v1/tracks/%00").status, 404)
        XCTAssertEqual((alice.get("/api/v1/tracks?q=tone%00zz").object["tracks"] as? [Any])?.count, 0)
        XCTAssertEqual(alice.get("/api/v1/tracks/-1").status, 404)
        // Path traversal in the static files and in library paths.
        for path in ["/..%2f..%2fetc%2fpasswd", "/js/..%2f..%2f..%2fetc%2fpasswd", "/vendor/chart.js/..%2f..%2f..%2fetc%2fpasswd", "/.hidden"] {
            let answer = try client(nil).get(path)
            XCTAssertEqual(answer.status, 404, path)
            XCTAssertFalse(answer.text.contains("root:"), path)
        }
        let nested = seen(alice.send("POST", "/api/v1/libraries", json: ["path": f.home.path + "/alice/../alice"]), "POST", "/api/v1/libraries")
        XCTAssertEqual(nested.status, 409, "a path with .. is canonicalised, and it is a library already: \(nested.text)")
        XCTAssertEqual(alice.send("POST", "/api/v1/libraries", json: ["path": "relative/dir"]).status, 400)
        XCTAssertEqual(alice.send("POST", "/api/v1/libraries", json: ["path": "/no/such/folder/\u{1}"]).status, 400)
        XCTAssertEqual(seen(alice.send("POST", "/api/v1/libraries", json: ["path": "/no/such/folder"]), "POST", "/api/v1/libraries").status, 422)
        // A truncated upload (the client hangs up mid-body) leaves the server healthy.
        try sendTruncatedUpload(to: f.server.baseURL)
        XCTAssertEqual(try client(nil).get("/healthz").status, 200)
        XCTAssertEqual(alice.get("/api/v1/me").status, 200)
    }

    func sendTruncatedUpload(to base: String) throws {
        let port = UInt16(base.split(separator: ":").last!)!
        let socketFD = connectLoopback(port: port)
        defer { close(socketFD) }
        let head = "POST /api/v1/analysis/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tmb_x\r\nContent-Type: audio/flac\r\nContent-Length: 100000\r\n\r\n"
        let bytes = Array(head.utf8) + [UInt8](repeating: 7, count: 5000)
        _ = bytes.withUnsafeBytes { send(socketFD, $0.baseAddress, $0.count, 0) }
        shutdown(socketFD, Int32(SHUT_WR))
        usleep(200_000)
    }

    // MARK: Libraries, jobs, models, health

    func testLibrariesScanJobsAndModels() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey), bob = try client(f.bobKey)
        let libraries = seen(alice.get("/api/v1/libraries"), "GET", "/api/v1/libraries").object["libraries"] as? [[String: Any]] ?? []
        XCTAssertEqual(libraries.first?["track_count"] as? Int, 8)
        let libraryID = try XCTUnwrap(libraries.first?["id"] as? NSNumber).int64Value
        let scan = seen(alice.send("POST", "/api/v1/libraries/\(libraryID)/scan"), "POST", "/api/v1/libraries/{id}/scan")
        XCTAssertEqual(scan.status, 202, scan.text)
        let jobID = try XCTUnwrap(((scan.object["job"] as? [String: Any])?["id"] as? NSNumber)?.int64Value)
        var state = ""
        let deadline = Date().addingTimeInterval(30)
        while state != "done", Date() < deadline {
            let jobs = seen(alice.get("/api/v1/jobs?kind=scan"), "GET", "/api/v1/jobs").object["jobs"] as? [[String: Any]] ?? []
            state = jobs.first { ($0["id"] as? NSNumber)?.int64Value == jobID }?["state"] as? String ?? ""
            usleep(100_000)
        }
        XCTAssertEqual(state, "done")
        let bobsJobs = (bob.get("/api/v1/jobs?limit=500").object["jobs"] as? [[String: Any]]) ?? []
        XCTAssertFalse(bobsJobs.contains { ($0["id"] as? NSNumber)?.int64Value == jobID }, "Bob does not see Alice's scan")
        XCTAssertTrue(bobsJobs.allSatisfy { ($0["library_id"] as? NSNumber)?.int64Value != libraryID }, "nor any job of her library")
        XCTAssertEqual(alice.get("/api/v1/jobs?state=lost").status, 400)

        let models = seen(alice.get("/api/v1/models"), "GET", "/api/v1/models").object["models"] as? [[String: Any]] ?? []
        XCTAssertEqual(models.first?["state"] as? String, "active")
        let version = try XCTUnwrap(models.first?["version"] as? String)
        let activated = seen(alice.send("POST", "/api/v1/models/\(version)/activate"), "POST", "/api/v1/models/{version}/activate")
        XCTAssertEqual(activated.status, 200, activated.text)
        XCTAssertEqual(seen(alice.send("POST", "/api/v1/models/no-such-model/activate"), "POST", "/api/v1/models/{version}/activate").status, 404)

        // A library of Bob's own, added and deleted (the folder itself stays).
        let folder = f.home.appendingPathComponent("bob-extra")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let added = seen(bob.send("POST", "/api/v1/libraries", json: ["path": folder.path]), "POST", "/api/v1/libraries")
        XCTAssertEqual(added.status, 201, added.text)
        let addedID = try XCTUnwrap(added.object["id"] as? NSNumber).int64Value
        XCTAssertEqual(seen(alice.send("DELETE", "/api/v1/libraries/\(addedID)"), "DELETE", "/api/v1/libraries/{id}").status, 404)
        XCTAssertEqual(seen(bob.send("DELETE", "/api/v1/libraries/\(addedID)"), "DELETE", "/api/v1/libraries/{id}").status, 204)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.path))

        let anonymous = try client(nil)
        XCTAssertEqual(seen(anonymous.get("/healthz"), "GET", "/healthz").object["status"] as? String, "ok")
        XCTAssertEqual(seen(anonymous.get("/readyz"), "GET", "/readyz").object["status"] as? String, "ready")
        let metrics = seen(anonymous.get("/metrics"), "GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        for name in ["timbre_http_requests_total{", "timbre_http_request_duration_seconds_bucket{", "timbre_jobs{state=\"done\"}",
                     "timbre_tracks_tagged", "timbre_similarity_index_tracks", "timbre_model_info{version=", "timbre_process_resident_memory_bytes"] {
            XCTAssertTrue(metrics.text.contains(name), "metrics lack \(name)")
        }
        XCTAssertEqual(seen(anonymous.get("/api/v1/openapi.json"), "GET", "/api/v1/openapi.json").status, 200)
    }

    // Runs last (alphabetically): every answer the other tests saw is documented.
    func testZZEveryRouteAndStatusSeenIsInTheOpenAPIDocument() throws {
        _ = try fixture()
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: ServerProcess.repositoryRoot
            .appendingPathComponent("web/openapi.json"))) as? [String: Any])
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        let seen = Self.seen.value
        XCTAssertGreaterThan(seen.count, 40)
        for entry in seen.sorted() {
            let parts = entry.split(separator: " ").map(String.init)
            let (method, pattern, status) = (parts[0].lowercased(), parts[1], parts[2])
            guard let operation = paths[pattern]?[method] as? [String: Any] else {
                XCTFail("\(method.uppercased()) \(pattern) is served but not in openapi.json")
                continue
            }
            let responses = operation["responses"] as? [String: Any] ?? [:]
            XCTAssertNotNil(responses[status], "\(method.uppercased()) \(pattern) answered \(status), which openapi.json does not list")
        }
    }
}

/// The shared fixture could not be built: every test that needs it fails with this.
private struct FixtureError: Error, CustomStringConvertible { let description: String }
