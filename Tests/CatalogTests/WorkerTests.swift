import AudioIO
@testable import Catalog
import Features
import Foundation
import Similarity
import Tagger
import XCTest

/// The tagging worker against a real PostgreSQL (skipped without TIMBRE_TEST_DATABASE_URL),
/// with a tiny model and a few short files written here.
final class WorkerTests: XCTestCase {
    private var root: URL!
    private var scratch: URL!
    private var modelPath: String!
    static let labels = ["ambient", "jazz", "rock"]

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory("timbre-worker-library")
        scratch = try makeTemporaryDirectory("timbre-worker-model")
        modelPath = scratch.appendingPathComponent("model.safetensors").path
        let network = makeNetwork(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: 11)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 32),
                                chunkFrames: 32)
        try ModelBundle(network: network, labels: Self.labels, frontEnd: frontEnd,
                        normalization: InputNormalization(mean: -40, std: 20)).write(to: modelPath)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: scratch)
    }

    /// `count` distinct short tones (WAV, every third FLAC) and, with `corrupt`, a file that is not audio.
    @discardableResult
    private func writeLibrary(count: Int, seconds: Double = 1.5, corrupt: Bool = true) throws -> [String] {
        var names: [String] = []
        for index in 0..<count {
            let name = String(format: "track%02d.%@", index, index % 3 == 2 ? "flac" : "wav")
            let rate = 16000
            let frequency = 110 * Float(index + 1)
            var state: UInt32 = UInt32(index + 1) &* 2_654_435_761
            let samples = (0..<Int(seconds * Double(rate))).map { i -> Float in
                state = state &* 1_664_525 &+ 1_013_904_223
                let noise = Float(state >> 8) / Float(1 << 24) - 0.5
                return 0.4 * sin(2 * .pi * frequency * Float(i) / Float(rate)) + 0.1 * noise
            }
            try AudioWriter.write(samples, sampleRate: rate, to: root.appendingPathComponent(name).path)
            names.append(name)
        }
        if corrupt {
            try Data("this is not audio at all, only text pretending to be an MP3".utf8)
                .write(to: root.appendingPathComponent("corrupt.mp3"))
        }
        return names
    }

    private func options(batchSize: Int = 4, lease: TimeInterval = 10) -> WorkerOptions {
        var options = WorkerOptions()
        options.concurrency = 2
        options.batchSize = batchSize
        options.lease = lease
        options.pollInterval = 0.2
        options.reconnectTimeout = 30
        return options
    }

    /// Scans `root` into a fresh library with the file-tag reader plugged in.
    private func scan(_ database: TestDatabase) throws -> Library {
        let library = try database.makeLibrary(root: root.path)
        _ = try Crawler(pool: database.pool, metadataReader: FileTagReader.read).scan(library: library)
        return library
    }

    /// Every track but `failed` is tagged with exactly one probability per label and one 8-d
    /// unit embedding under `modelID`, every job is finished, and nothing is stored twice.
    private func assertTaggedOnce(_ database: TestDatabase, modelID: Int64, expectTagged: Int,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let connection = try database.connection()
        let perTrack = try connection.query("""
            SELECT t.id, t.status, count(p.label), coalesce(array_agg(p.label ORDER BY p.label) FILTER (WHERE p.label IS NOT NULL), '{}')
            FROM tracks t LEFT JOIN predictions p ON p.track_id = t.id AND p.model_id = $1
            WHERE t.status = 'tagged' GROUP BY t.id, t.status
            """, [modelID])
        XCTAssertEqual(perTrack.rowCount, expectTagged, "tagged tracks", file: file, line: line)
        for row in 0..<perTrack.rowCount {
            XCTAssertEqual(try perTrack.strings(row, 3), Self.labels, file: file, line: line)
        }
        let embeddings = try connection.query("SELECT vector FROM embeddings WHERE model_id = $1", [modelID])
        XCTAssertEqual(embeddings.rowCount, expectTagged, "one embedding per tagged track", file: file, line: line)
        for row in 0..<embeddings.rowCount {
            let vector = try embeddings.floats(row, 0)
            XCTAssertEqual(vector.count, 8, file: file, line: line)
            XCTAssertEqual(vector.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1, accuracy: 1e-4, file: file, line: line)
        }
        XCTAssertEqual(try JobQueue(pool: database.pool).openCount(kind: JobKind.tag), 0, "queue drained", file: file, line: line)
    }

    func testLibraryIsTaggedOnceAndTheCorruptFileFails() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let names = try writeLibrary(count: 5)
        let library = try scan(database)
        let models = ModelRepository(pool: database.pool)
        XCTAssertNil(try models.active())

        let model = try ActiveModel.load(models: models, defaultPath: modelPath)
        let digest = SHA256.hash([UInt8](try Data(contentsOf: URL(fileURLWithPath: modelPath))))
        XCTAssertEqual(model.version.version, "default-" + digest.hexString.prefix(12))
        XCTAssertEqual(model.version.state, .active)
        XCTAssertEqual(try ActiveModel.load(models: models, defaultPath: modelPath).version.id, model.version.id, "registered once")

        let worker = try Worker(pool: database.pool, model: model, options: options(batchSize: 4))
        let done = try worker.run(drain: true)
        XCTAssertEqual(done.tagged, 5)
        XCTAssertEqual(done.failed, 1)
        XCTAssertEqual(done.batches, 2)
        try assertTaggedOnce(database, modelID: model.version.id, expectTagged: 5)

        // The stored results are what the single-track Predictor computes for each file.
        let predictor = try Predictor(bundle: try ModelBundle.read(from: modelPath))
        let tracks = TrackRepository(pool: database.pool)
        let store = PredictionStore(pool: database.pool)
        for name in names {
            let track = try XCTUnwrap(try tracks.track(libraryID: library.id, path: name))
            let expected = try predictor.predict(file: root.appendingPathComponent(name).path)
            let stored = try store.probabilities(trackID: track.id, modelID: model.version.id)
            for (label, probability) in zip(Self.labels, expected.probabilities) {
                XCTAssertEqual(try XCTUnwrap(stored[label]), probability, accuracy: 1e-4, "\(name) \(label)")
            }
            let embedding = try XCTUnwrap(try store.embedding(trackID: track.id, modelID: model.version.id))
            for (a, b) in zip(embedding, expected.embedding) { XCTAssertEqual(a, b, accuracy: 1e-4) }
            // File tags read through AudioMetadata when the crawler found the file.
            XCTAssertEqual(track.metadata.format, name.hasSuffix("flac") ? "flac" : "wav")
            XCTAssertEqual(try XCTUnwrap(track.metadata.durationSeconds), 1.5, accuracy: 0.01)
        }

        // What a similarity index loads: one embedding per tagged track, and the paths to show.
        let all = try store.embeddings(modelID: model.version.id)
        XCTAssertEqual(all.count, 5)
        for (trackID, vector) in all {
            XCTAssertEqual(vector, try store.embedding(trackID: trackID, modelID: model.version.id))
        }
        let paths = try tracks.absolutePaths(trackIDs: all.map(\.trackID) + [999_999])
        XCTAssertEqual(paths.count, 5)
        for (trackID, path) in paths {
            XCTAssertEqual(try tracks.track(absolutePath: path)?.id, trackID)
        }
        XCTAssertNil(try tracks.track(absolutePath: root.appendingPathComponent("nowhere.wav").path))

        let corrupt = try XCTUnwrap(try tracks.track(libraryID: library.id, path: "corrupt.mp3"))
        XCTAssertEqual(corrupt.status, .failed)
        XCTAssertFalse(corrupt.lastError?.isEmpty ?? true)
        let failedJob = try database.connection().query("SELECT state, last_error, attempts FROM jobs WHERE track_id = $1", [corrupt.id])
        XCTAssertEqual(try failedJob.string(0, 0), "failed")
        XCTAssertEqual(try failedJob.optionalString(0, 1), corrupt.lastError)
        XCTAssertEqual(try failedJob.int(0, 2), 1, "a corrupt file is not retried")

        // Running every job again (a lease that expired under a slow worker) stores nothing twice.
        let queue = JobQueue(pool: database.pool)
        for track in try tracks.tracks(libraryID: library.id) where track.status == .tagged {
            XCTAssertNotNil(try queue.enqueue(kind: JobKind.tag, trackID: track.id))
        }
        XCTAssertEqual(try worker.run(drain: true).tagged, 5)
        try assertTaggedOnce(database, modelID: model.version.id, expectTagged: 5)
        let rows = try database.connection().query("SELECT count(*) FROM predictions")
        XCTAssertEqual(try rows.int(0, 0), 15)
    }

    func testMissingModelSaysHowToGetOne() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let missing = scratch.appendingPathComponent("absent.safetensors").path
        XCTAssertThrowsError(try ActiveModel.load(models: ModelRepository(pool: database.pool), defaultPath: missing)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("timbre train") && message.contains("--model") && message.contains(missing), message)
        }
    }

    func testTwoWorkersNeverRunTheSameJob() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        try writeLibrary(count: 12, seconds: 1, corrupt: false)
        _ = try scan(database)
        let model = try ActiveModel.load(models: ModelRepository(pool: database.pool), defaultPath: modelPath)
        let results = Locked<[Result<WorkerProgress, any Error>]>([])
        let pools = (0..<2).map { _ in ConnectionPool(url: database.url, database: database.name, maximumConnections: 3) }
        defer { pools.forEach { $0.close() } }
        let bundlePath = modelPath!
        let version = model.version
        var shared = options(batchSize: 2)
        shared.holdAfterClaim = 0.05
        let perWorker = [shared, shared].enumerated().map { index, options in
            var options = options
            options.owner += "-\(index)"
            return options
        }
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = Result<WorkerProgress, any Error> {
                let options = perWorker[index]
                let worker = try Worker(pool: pools[index], model: LoadedModel(version: version, bundle: try ModelBundle.read(from: bundlePath)),
                                        options: options)
                return try worker.run(drain: true)
            }
            results.mutate { $0.append(result) }
        }
        let progress = try results.value.map { try $0.get() }
        XCTAssertEqual(progress.map(\.tagged).reduce(0, +), 12, "every job ran exactly once across both workers")
        let attempts = try database.connection().query("SELECT max(attempts), min(attempts), count(DISTINCT lease_owner) FROM jobs")
        XCTAssertEqual(try attempts.int(0, 0), 1, "no job was claimed twice")
        try assertTaggedOnce(database, modelID: model.version.id, expectTagged: 12)
    }

    /// `timbre similar`: the tagged library's nearest tracks by cosine, as the index computes
    /// them from the stored embeddings, for a track id, a library path and an outside file.
    func testSimilarCommandListsTheNearestTracks() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try Self.timbreBinary()
        let names = try writeLibrary(count: 6, seconds: 1, corrupt: false)
        let library = try scan(database)
        let model = try ActiveModel.load(models: ModelRepository(pool: database.pool), defaultPath: modelPath)
        XCTAssertEqual(try Worker(pool: database.pool, model: model, options: options(batchSize: 8)).run(drain: true).tagged, 6)
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let store = PredictionStore(pool: database.pool)
        let tracks = TrackRepository(pool: database.pool)
        let query = try XCTUnwrap(try tracks.track(libraryID: library.id, path: names[0]))
        let mine = try XCTUnwrap(try store.embedding(trackID: query.id, modelID: model.version.id))

        // Expected: every other track by cosine with the query's embedding, best first.
        func cosine(_ a: [Float], _ b: [Float]) -> Float {
            let dot = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            return dot / (a.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot() * b.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot())
        }
        let expected = try store.embeddings(modelID: model.version.id).filter { $0.trackID != query.id }
            .map { (id: $0.trackID, score: cosine(mine, $0.vector)) }.sorted { $0.score > $1.score }.prefix(3)

        struct Report: Decodable {
            struct Entry: Decodable { let track_id: Int64; let path: String; let score: Float; let tags: [String: Float] }
            let query: String
            let model: String
            let similar: [Entry]
        }
        let output = scratch.appendingPathComponent("similar.json").path
        func similar(_ track: String) throws -> Report {
            let pid = try spawn([binary.path, "similar", track, "--limit", "3", "--tags", "2", "--json", "--database-url", url,
                                 "--migrations", TestDatabase.migrationsDirectory.path], output: output)
            XCTAssertEqual(try waitForExit(pid), 0, "timbre similar \(track)")
            return try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
        }
        for argument in [String(query.id), root.appendingPathComponent(names[0]).path] {
            let report = try similar(argument)
            XCTAssertEqual(report.query, "track \(query.id)")
            XCTAssertEqual(report.model, model.version.version)
            XCTAssertEqual(report.similar.map(\.track_id), expected.map(\.id), argument)
            for (entry, truth) in zip(report.similar, expected) {
                XCTAssertEqual(entry.score, truth.score, accuracy: 1e-4)
                XCTAssertEqual(entry.tags.count, 2)
                XCTAssertEqual(try tracks.track(absolutePath: entry.path)?.id, entry.track_id)
            }
        }
        // A file outside the catalog is embedded on the spot: a copy of the query track finds
        // the query itself first, at cosine 1.
        let outside = scratch.appendingPathComponent("copy-\(names[0])").path
        try FileManager.default.copyItem(atPath: root.appendingPathComponent(names[0]).path, toPath: outside)
        let report = try similar(outside)
        XCTAssertEqual(report.similar.first?.track_id, query.id)
        XCTAssertEqual(try XCTUnwrap(report.similar.first?.score), 1, accuracy: 1e-4)
        // Unknown tracks fail with a message, not a crash.
        XCTAssertNotEqual(try waitForExit(spawn([binary.path, "similar", "987654", "--database-url", url,
                                                 "--migrations", TestDatabase.migrationsDirectory.path])), 0)

        // `timbre clusters --json`: the groups k-means++ (seed 3) finds over the same embeddings,
        // described by their mean tags, and every track placed on the 2-D map.
        struct Clusters: Decodable {
            struct Group: Decodable { let id: Int; let size: Int; let tags: [String: Float]; let examples: [String] }
            struct Point: Decodable { let track_id: Int64; let path: String; let cluster: Int; let x: Float; let y: Float }
            let k: Int
            let clusters: [Group]
            let tracks: [Point]
            let explained_variance_ratio: [Double]
        }
        let pid = try spawn([binary.path, "clusters", "--k", "2", "--seed", "3", "--json", "--database-url", url,
                             "--migrations", TestDatabase.migrationsDirectory.path], output: output)
        XCTAssertEqual(try waitForExit(pid), 0, "timbre clusters")
        let clusters = try JSONDecoder().decode(Clusters.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
        let stored = try store.embeddings(modelID: model.version.id)
        var generator = Xoshiro256StarStar(seed: 3)
        let expectedClusters = try KMeans.cluster(stored.flatMap(\.vector), count: stored.count, dimension: mine.count, k: 2,
                                                  using: &generator)
        XCTAssertEqual(clusters.k, 2)
        XCTAssertEqual(clusters.tracks.map(\.track_id), stored.map(\.trackID))
        XCTAssertEqual(clusters.tracks.map(\.cluster), expectedClusters.assignments)
        XCTAssertEqual(clusters.clusters.map(\.size).sorted(), expectedClusters.sizes.sorted())
        XCTAssertEqual(clusters.explained_variance_ratio.count, 2)
        for group in clusters.clusters {
            XCTAssertEqual(group.tags.count, 3)
            XCTAssertEqual(group.examples.count, min(3, group.size))
        }
        // The map is the embeddings' PCA.
        let map = try PrincipalComponents(stored.flatMap(\.vector), count: stored.count, dimension: mine.count)
        let xy = try map.project(stored.flatMap(\.vector), count: stored.count)
        for (i, point) in clusters.tracks.enumerated() {
            XCTAssertEqual(point.x, xy[2 * i], accuracy: 1e-5)
            XCTAssertEqual(point.y, xy[2 * i + 1], accuracy: 1e-5)
        }
    }

    /// `timbre tag` records corrections as the API does (normalised, one row each) and, once
    /// enough have arrived (50 by default), queues one retraining for the workers.
    func testTagCommandRecordsCorrectionsAndQueuesARetrainingWhenDue() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try Self.timbreBinary()
        try writeLibrary(count: 2, seconds: 1, corrupt: false)
        let library = try scan(database)
        let track = try XCTUnwrap(try TrackRepository(pool: database.pool).tracks(libraryID: library.id).first)
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let output = NSTemporaryDirectory() + "timbre-tag-\(UUID().uuidString.prefix(8)).txt"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let labels = (1...50).map { "+Label \($0)" }
        let pid = try spawn([binary.path, "tag", String(track.id)] + labels + ["--database-url", url,
                             "--migrations", TestDatabase.migrationsDirectory.path], output: output)
        XCTAssertEqual(try waitForExit(pid), 0)
        let printed = try String(contentsOfFile: output, encoding: .utf8)
        XCTAssertTrue(printed.contains("recorded 50 corrections"), printed)
        XCTAssertTrue(printed.contains("retraining job"), printed)
        XCTAssertTrue(printed.contains("label-7"), "labels are normalised: \(printed)")
        let connection = try database.connection()
        XCTAssertEqual(try connection.query("SELECT count(*) FROM corrections WHERE track_id = $1", [track.id]).int(0, 0), 50)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM jobs WHERE kind = 'retrain'").int(0, 0), 1)
        // Below the threshold again: one more correction queues nothing new.
        XCTAssertEqual(try waitForExit(spawn([binary.path, "tag", String(track.id), "-label-1", "--database-url", url,
                                              "--migrations", TestDatabase.migrationsDirectory.path], output: output)), 0)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM jobs WHERE kind = 'retrain'").int(0, 0), 1)
    }

    /// The real binary, sent SIGTERM while it holds a batch: it finishes that batch, claims no
    /// other, and exits 0; nothing is left running, the unclaimed jobs keep all their attempts.
    func testWorkerStopsCleanlyOnSIGTERM() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try Self.timbreBinary()
        try writeLibrary(count: 6, seconds: 1, corrupt: false)
        _ = try scan(database)
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let pid = try spawn([binary.path, "worker", "--database-url", url, "--migrations", TestDatabase.migrationsDirectory.path,
                             "--model", modelPath, "--batch-size", "4", "--concurrency", "1", "--hold-after-claim", "2"])
        var reaped = false
        defer { if !reaped { kill(pid, SIGKILL); _ = try? waitForExit(pid) } }
        let connection = try database.connection()
        XCTAssertEqual(try Self.jobsHeld(by: pid, connection), 4, "the binary claimed one batch")
        let signalled = Date()
        kill(pid, SIGTERM)
        XCTAssertEqual(try waitForExit(pid), 0, "a worker stopped by SIGTERM exits 0")
        reaped = true
        XCTAssertLessThan(Date().timeIntervalSince(signalled), 30)
        let states = try connection.query("SELECT state, attempts, count(*) FROM jobs GROUP BY state, attempts ORDER BY state")
        var counts: [String: Int] = [:]
        for row in 0..<states.rowCount {
            counts["\(try states.string(row, 0)) \(try states.int(row, 1))"] = Int(try states.int(row, 2))
        }
        XCTAssertEqual(counts, ["done 1": 4, "queued 0": 2], "its batch done, the rest untouched")
    }

    /// The real binary, killed with SIGKILL while it holds a batch: its jobs come back after the
    /// lease and another worker tags them; nothing is lost or stored twice.
    func testKilledWorkersJobsAreRunAgainAfterTheLease() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try Self.timbreBinary()
        try writeLibrary(count: 6, seconds: 1, corrupt: false)
        _ = try scan(database)
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        XCTAssertNotEqual(url, database.url, "the test server URL names the postgres database")

        let pid = try spawn([binary.path, "worker", "--database-url", url, "--migrations", TestDatabase.migrationsDirectory.path,
                             "--model", modelPath, "--lease", "2", "--batch-size", "4", "--concurrency", "1",
                             "--hold-after-claim", "60", "--drain"])
        var reaped = false
        defer { if !reaped { kill(pid, SIGKILL); _ = try? waitForExit(pid) } }

        // Wait until the binary holds a batch, then kill it mid-batch.
        let connection = try database.connection()
        XCTAssertEqual(try Self.jobsHeld(by: pid, connection), 4, "the binary claimed one batch")
        kill(pid, SIGKILL)
        _ = try waitForExit(pid)
        reaped = true

        let model = try ActiveModel.load(models: ModelRepository(pool: database.pool), defaultPath: nil)
        let started = Date()
        let done = try Worker(pool: database.pool, model: model, options: options(batchSize: 4, lease: 2)).run(drain: true)
        XCTAssertEqual(done.tagged, 6)
        XCTAssertLessThan(Date().timeIntervalSince(started), 15)
        try assertTaggedOnce(database, modelID: model.version.id, expectTagged: 6)
        let attempts = try connection.query("SELECT attempts, count(*) FROM jobs WHERE state = 'done' GROUP BY attempts ORDER BY attempts")
        XCTAssertEqual(attempts.rowCount, 2)
        XCTAssertEqual([try attempts.int(0, 0), try attempts.int(0, 1)], [1, 2], "two jobs claimed once")
        XCTAssertEqual([try attempts.int(1, 0), try attempts.int(1, 1)], [2, 4], "the killed worker's four jobs claimed again")
    }

    /// The server restarts while a worker holds a batch; the worker reconnects and finishes the queue.
    func testWorkerCarriesOnAcrossAServerRestart() throws {
        guard let directory = ProcessInfo.processInfo.environment["TIMBRE_TEST_POSTGRES_DIR"], !directory.isEmpty else {
            throw XCTSkip("TIMBRE_TEST_POSTGRES_DIR is not set (scripts/test-postgres start exports it)")
        }
        let database = try TestDatabase()
        defer { database.drop() }
        try writeLibrary(count: 6, seconds: 1, corrupt: false)
        _ = try scan(database)
        let model = try ActiveModel.load(models: ModelRepository(pool: database.pool), defaultPath: modelPath)
        var options = options(batchSize: 2, lease: 5)
        options.holdAfterClaim = 1
        let worker = try Worker(pool: database.pool, model: model, options: options)
        let outcome = Locked<Result<WorkerProgress, any Error>?>(nil)
        let box = Unchecked(worker)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let result = Result<WorkerProgress, any Error> { try box.value.run(drain: true) }
            outcome.mutate { $0 = result }
            finished.signal()
        }
        Thread.sleep(forTimeInterval: 0.5)   // inside the first batch's hold
        try Self.restartServer(directory: directory)
        XCTAssertEqual(finished.wait(timeout: .now() + 40), .success, "the worker finished")
        let done = try XCTUnwrap(outcome.value).get()
        XCTAssertEqual(done.tagged, 6)
        try assertTaggedOnce(database, modelID: model.version.id, expectTagged: 6)
    }

    /// `pg_ctl restart` on the test cluster, as the user that owns it.
    static func restartServer(directory: String) throws {
        let data = directory + "/data"
        let pgCtl = ["/usr/lib/postgresql/15/bin/pg_ctl", "pg_ctl"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "pg_ctl"
        var arguments = [pgCtl, "-D", data, "-l", directory + "/server.log", "-m", "fast", "-w", "-t", "30", "restart"]
        if getuid() == 0 {
            var info = stat()
            guard stat(data, &info) == 0, let owner = getpwuid(info.st_uid) else { throw XCTSkip("cannot tell who owns \(data)") }
            arguments = ["runuser", "-u", String(cString: owner.pointee.pw_name), "--"] + arguments
        }
        XCTAssertEqual(try waitForExit(spawn(["/usr/bin/env"] + arguments)), 0, "pg_ctl restart")
    }

    /// Waits (up to 30 s) until the worker process `pid` holds a batch; how many jobs it holds.
    static func jobsHeld(by pid: pid_t, _ connection: PostgresConnection) throws -> Int {
        var held = 0
        for _ in 0..<300 where held == 0 {
            Thread.sleep(forTimeInterval: 0.1)
            held = Int(try connection.query("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE $1",
                                            ["%:\(pid):%"]).int(0, 0))
        }
        return held
    }

    /// The `timbre` executable built beside this test bundle (the same build): a test that
    /// needs it fails, never skips, when it is missing or lacks the command.
    static func timbreBinary() throws -> URL {
        let bundle = Bundle.main.bundleURL
        let candidates = [bundle.appendingPathComponent("timbre"), bundle.deletingLastPathComponent().appendingPathComponent("timbre")]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent("timbre") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw SpawnError("the timbre executable was not built beside the tests (looked at \(candidates.map(\.path))); build with --build-tests")
        }
        guard try waitForExit(spawn([found.path, "worker", "--help"])) == 0 else {
            throw SpawnError("\(found.path) has no `worker` command (WorkerCommand is not registered in Timbre.swift)")
        }
        return found
    }
}

/// Starting or waiting for a child process failed: the test fails with this, it is not skipped.
struct SpawnError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// posix_spawn and waitpid rather than Foundation's Process, whose waitUntilExit can miss a
// child's exit on Linux and hang.

/// Starts `arguments` (an absolute path first) with stdout to `output` and stderr to `errors`
/// (created or truncated).
func spawn(_ arguments: [String], output: String = "/dev/null", errors: String = "/dev/null") throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
    guard status == 0 else { throw SpawnError("cannot start \(arguments[0]): error \(status)") }
    return pid
}

/// The exit status (128 + signal when killed).
func waitForExit(_ pid: pid_t) throws -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw SpawnError("waitpid failed: errno \(errno)") }
    }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
}

/// A value shared by test threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.lock(); defer { lock.unlock() }; return stored }
    func mutate(_ body: (inout Value) -> Void) { lock.lock(); body(&stored); lock.unlock() }
}

/// Hands a non-Sendable object to one other thread.
final class Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
