import AudioIO
@testable import Catalog
import Features
import Foundation
import NeuralNet
import Tagger
import XCTest

/// Retraining end to end against a real PostgreSQL (skipped without TIMBRE_TEST_DATABASE_URL):
/// a tiny model, a library of short generated tracks of two kinds (low tones and high tones),
/// corrections, the retraining job run by a worker, the gate, promotion, re-tag and rollback.
final class RetrainingTests: XCTestCase {
    private var root: URL!
    private var scratch: URL!
    private var modelPath: String!
    static let labels = ["ambient", "jazz", "rock"]
    static let perKind = 24

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory("timbre-retrain-library")
        scratch = try makeTemporaryDirectory("timbre-retrain-data")
        modelPath = scratch.appendingPathComponent("default.safetensors").path
        let network = makeNetwork(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: 11)
        // ambient and jazz confidently absent everywhere (their decisions are stable), rock undecided.
        var state = Dictionary(uniqueKeysWithValues: network.stateDict().map { ($0.name, $0.tensor) })
        state["classifier.bias"] = try Tensor(shape: [3], data: [-3, -3, 0])
        try network.loadStateDict(state)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 32), chunkFrames: 32)
        try ModelBundle(network: network, labels: Self.labels, frontEnd: frontEnd,
                        normalization: InputNormalization(mean: -40, std: 20)).write(to: modelPath)
        // Tracks "lowNN" (tones of 110–300 Hz) and "highNN" (2–4 kHz), with noise.
        for kind in ["low", "high"] {
            for index in 0..<Self.perKind {
                let rate = 16000
                let frequency: Float = kind == "low" ? 110 + 10 * Float(index) : 2000 + 100 * Float(index)
                var seed = UInt32(index + (kind == "low" ? 1 : 101)) &* 2_654_435_761
                let samples = (0..<(2 * rate)).map { i -> Float in
                    seed = seed &* 1_664_525 &+ 1_013_904_223
                    return 0.4 * sin(2 * .pi * frequency * Float(i) / Float(rate)) + 0.1 * (Float(seed >> 8) / Float(1 << 24) - 0.5)
                }
                try AudioWriter.write(samples, sampleRate: rate, to: root.appendingPathComponent(String(format: "%@%02d.wav", kind, index)).path)
            }
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: scratch)
    }

    private func workerOptions() -> WorkerOptions {
        var options = WorkerOptions()
        options.concurrency = 2
        options.batchSize = 16
        options.lease = 20
        options.pollInterval = 0.1
        options.dataDirectory = scratch
        options.prediction.chunkHop = 16
        return options
    }

    static func config() -> RetrainingConfig {
        var config = RetrainingConfig()
        config.fineTune.epochs = 40
        config.fineTune.learningRate = 5e-3
        config.fineTune.layers = .all
        config.fineTune.patience = 6
        config.fineTune.chunksPerTrack = 4
        config.prediction.chunkHop = 16
        config.minPositivesForNewTag = 5
        return config
    }

    /// A scanned library tagged by the default model: (database, catalog, library, tracks by file name, the worker).
    private func taggedLibrary(_ database: TestDatabase) throws -> (Database, Library, [String: Int64], Worker) {
        let library = try database.makeLibrary(root: root.path)
        _ = try Crawler(pool: database.pool).scan(library: library)
        let model = try ActiveModel.load(models: ModelRepository(pool: database.pool), defaultPath: modelPath)
        let worker = try Worker(pool: database.pool, model: model, options: workerOptions())
        XCTAssertEqual(try worker.run(drain: true).tagged, 2 * Self.perKind)
        let tracks = try TrackRepository(pool: database.pool).tracks(libraryID: library.id)
        return (Database(pool: database.pool), library, Dictionary(uniqueKeysWithValues: tracks.map { ($0.path, $0.id) }), worker)
    }

    private func writeTone(kind: String, frequency: Float, seed: UInt32) throws {
        let rate = 16000
        var state = seed &* 2_654_435_761
        let samples = (0..<(2 * rate)).map { i -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return 0.4 * sin(2 * .pi * frequency * Float(i) / Float(rate)) + 0.1 * (Float(state >> 8) / Float(1 << 24) - 0.5)
        }
        try AudioWriter.write(samples, sampleRate: rate, to: root.appendingPathComponent("\(kind)\(seed).wav").path)
    }

    private func name(_ kind: String, _ index: Int) -> String { String(format: "%@%02d.wav", kind, index) }

    private func probability(_ db: Database, _ track: Int64, _ model: Int64, _ label: String) throws -> Float {
        try XCTUnwrap(try db.predictions.probabilities(trackID: track, modelID: model)[label], "\(label) of track \(track)")
    }

    /// High tracks corrected to rock and to a new tag `party`, low tracks to not rock: the
    /// candidate passes the gate, is promoted, the library is re-tagged with it, and uncorrected
    /// tracks move the way their kind was corrected; `party` is learned. Rollback then brings
    /// back the old predictions at once.
    func testCorrectionsPromoteAModelThatLearnsThemAndANewTag() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let (db, library, tracks, worker) = try taggedLibrary(database)
        let old = try XCTUnwrap(try db.models.active())
        let corrected = (0..<Self.perKind).filter { $0 % 3 != 2 }
        for i in corrected {
            try db.corrections.record(trackID: tracks[name("high", i)]!, userID: library.ownerID, add: ["rock", "Party"], remove: [])
            try db.corrections.record(trackID: tracks[name("low", i)]!, userID: library.ownerID, add: [], remove: ["rock"])
        }
        let request = try Retraining.request(database: db, config: Self.config())
        XCTAssertTrue(request.created)

        let started = Date()
        let done = try worker.run(drain: true)
        XCTAssertEqual(done.retrainings, 1)
        print("retraining + re-tag took \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        let status = try XCTUnwrap(try Retraining.status(database: db, jobID: request.jobID))
        XCTAssertEqual(status.state, .done, status.lastError ?? "")
        let model = try XCTUnwrap(status.model)
        let report = try XCTUnwrap(status.report)
        XCTAssertEqual(report.outcome, .promoted, report.reason)
        XCTAssertEqual(model.state, .active)
        XCTAssertEqual(model.parentID, old.id)
        XCTAssertEqual(model.labels, Self.labels + ["party"])
        XCTAssertEqual(report.newLabels, ["party"])
        XCTAssertEqual(report.counts.correctedTracks, 2 * corrected.count)
        XCTAssertGreaterThan(report.gate.wins, report.gate.losses)
        XCTAssertLessThanOrEqual(report.gate.pValue, 0.05)
        // The promoted model is the refit on every corrected track, as long as the candidate's best epoch.
        let refit = try XCTUnwrap(report.refit, "a promotion refits on all corrections")
        XCTAssertEqual(refit.tracks, report.counts.trainCorrected + report.counts.validationCorrected + report.counts.gateCorrected
                       + report.counts.trainReplay + report.counts.validationReplay)
        XCTAssertEqual(refit.epochs, report.bestEpoch)
        XCTAssertTrue(refit.promoted, "the refit passed the replay check")
        XCTAssertLessThanOrEqual(refit.replayDisagreement, Self.config().maxReplayDisagreement)
        XCTAssertEqual(try db.models.active()?.id, model.id)
        XCTAssertEqual(worker.model.version.id, model.id, "the worker follows the promoted model")

        // The file is immutable and named by its content; the corrections name the model.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model.filePath)))
        XCTAssertEqual(URL(fileURLWithPath: model.filePath).lastPathComponent, SHA256.hash(bytes).hexString + ".safetensors")
        XCTAssertTrue(model.filePath.hasPrefix(scratch.appendingPathComponent("models").path))
        XCTAssertEqual(try ModelBundle.read(from: model.filePath).labels, model.labels)
        let consumed = try database.connection().query("SELECT count(*) FROM corrections WHERE consumed_by_model_id = $1", [model.id]).int(0, 0)
        XCTAssertEqual(consumed, Int64(3 * corrected.count))
        XCTAssertEqual(report.consumedCorrections, 3 * corrected.count)

        // Re-tagged: every track has the new model's predictions and embedding.
        XCTAssertEqual(try db.jobs.openCount(kind: JobKind.tag), 0)
        let counts = try database.connection().query("""
            SELECT count(DISTINCT p.track_id), (SELECT count(*) FROM embeddings e WHERE e.model_id = $1) FROM predictions p WHERE p.model_id = $1
            """, [model.id])
        XCTAssertEqual(try counts.int(0, 0), Int64(2 * Self.perKind))
        XCTAssertEqual(try counts.int(0, 1), Int64(2 * Self.perKind))

        // Tracks like the corrected ones that no run has seen (added now, tagged by the new model)
        // move the corrected way against the old model's predictions, and get the new tag.
        let oldPredictor = try Predictor(bundle: try ModelBundle.read(from: old.filePath), config: workerOptions().prediction)
        for index in 0..<6 { try writeTone(kind: "newhigh", frequency: 2050 + 200 * Float(index), seed: 500 + UInt32(index)) }
        for index in 0..<6 { try writeTone(kind: "newlow", frequency: 115 + 20 * Float(index), seed: 600 + UInt32(index)) }
        _ = try Crawler(pool: database.pool).scan(library: library)
        XCTAssertEqual(try worker.run(drain: true).tagged, 12)
        var party: [(Float, Bool)] = []
        for track in try db.tracks.tracks(libraryID: library.id) where track.path.hasPrefix("new") {
            let isHigh = track.path.hasPrefix("newhigh")
            let before = try oldPredictor.predict(file: root.appendingPathComponent(track.path).path).probabilities[2]
            let after = try probability(db, track.id, model.id, "rock")
            if isHigh { XCTAssertGreaterThan(after, before, "\(track.path): rock") } else { XCTAssertLessThan(after, before, "\(track.path): rock") }
            party.append((try probability(db, track.id, model.id, "party"), isHigh))
        }
        let auc = try XCTUnwrap(RankingMetrics.rocAuc(scores: party.map(\.0), truth: party.map(\.1)))
        XCTAssertGreaterThanOrEqual(auc, 0.95, "party on unseen tracks: \(party)")
        XCTAssertNotNil(try db.embeddings(trackID: tracks[name("high", 0)]!, modelID: model.id))

        // Rollback: the old version is active again; tracks it tagged answer with its stored
        // predictions at once, the 12 it never saw are queued and tagged by it.
        let high = tracks[name("high", 23)]!
        let (rolledBack, queued) = try Retraining.activate(database: db, version: old.version)
        XCTAssertEqual(rolledBack.state, .active)
        XCTAssertEqual(queued, 12)
        XCTAssertEqual(try db.models.active()?.id, old.id)
        XCTAssertEqual(try db.models.find(id: model.id)?.state, .retired)
        XCTAssertEqual(try db.predictions.probabilities(trackID: high, modelID: try XCTUnwrap(try db.models.active()).id).keys.sorted(), Self.labels)
        XCTAssertEqual(try worker.run(drain: true).tagged, 12)
        XCTAssertEqual(worker.model.version.id, old.id, "the worker follows the rollback")
        for track in try db.tracks.tracks(libraryID: library.id) where track.path.hasPrefix("new") {
            let expected = try oldPredictor.predict(file: root.appendingPathComponent(track.path).path).probabilities
            let stored = try db.predictions.probabilities(trackID: track.id, modelID: old.id)
            for (j, label) in Self.labels.enumerated() { XCTAssertEqual(stored[label]!, expected[j], accuracy: 1e-5, track.path) }
        }
    }

    /// Corrections that contradict each other at random teach nothing the held-out ones
    /// confirm: the candidate is rejected with its report, the active model and its file stay.
    func testContradictoryCorrectionsAreRejected() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let (db, library, tracks, worker) = try taggedLibrary(database)
        let old = try XCTUnwrap(try db.models.active())
        let oldBytes = try Data(contentsOf: URL(fileURLWithPath: old.filePath))
        var rng = Xoshiro256StarStar(seed: 5)
        for kind in ["low", "high"] {
            for i in 0..<14 {
                let coin = rng.next() % 2 == 0
                try db.corrections.record(trackID: tracks[name(kind, i)]!, userID: library.ownerID,
                                          add: coin ? ["rock"] : [], remove: coin ? [] : ["rock"])
            }
        }
        let request = try Retraining.request(database: db, config: Self.config())
        XCTAssertEqual(try worker.run(drain: true).retrainings, 1)
        let status = try XCTUnwrap(try Retraining.status(database: db, jobID: request.jobID))
        XCTAssertEqual(status.state, .done, status.lastError ?? "")
        let report = try XCTUnwrap(status.report)
        XCTAssertEqual(report.outcome, .rejected, report.reason)
        XCTAssertTrue(report.reason.hasPrefix("rejected"), report.reason)
        XCTAssertNil(report.refit, "no refit for a rejected candidate")
        XCTAssertEqual(status.model?.state, .rejected)
        XCTAssertEqual(try db.models.active()?.id, old.id)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: old.filePath)), oldBytes)
        XCTAssertEqual(report.retagJobs, 0)
        XCTAssertThrowsError(try Retraining.activate(database: db, version: status.model!.version), "a rejected model cannot be activated")
    }

    /// Requests at once from many threads make one retraining job; a finished one lets a new one be queued.
    func testConcurrentRequestsMakeOneJob() throws {
        let database = try TestDatabase(maximumConnections: 8)
        defer { database.drop() }
        let db = Database(pool: database.pool)
        let answers = RequestLog<RetrainRequest>()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if let request = try? Retraining.request(database: db) { answers.append(request) }
        }
        let all = answers.values
        XCTAssertEqual(all.count, 8)
        XCTAssertEqual(Set(all.map(\.jobID)).count, 1)
        XCTAssertEqual(all.filter(\.created).count, 1)
        XCTAssertEqual(try db.jobs.openCount(kind: JobKind.retrain), 1)

        // Without an active model the job fails for good, saying why; then a new request makes a new job.
        let ran = try Retraining.runNext(database: db, dataDirectory: scratch, owner: "test")
        XCTAssertEqual(ran, all[0].jobID)
        let status = try XCTUnwrap(try Retraining.status(database: db, jobID: all[0].jobID))
        XCTAssertEqual(status.state, .failed)
        XCTAssertTrue(status.lastError?.contains("no active model") ?? false, status.lastError ?? "")
        let next = try Retraining.request(database: db)
        XCTAssertTrue(next.created)
        XCTAssertNotEqual(next.jobID, all[0].jobID)
    }

    /// The real binary, `timbre retrain --wait`, killed with SIGKILL in the middle of
    /// fine-tuning: the active model, its row and its file are untouched, nothing half-written
    /// is left for a model, no correction is marked consumed; once the lease has run out the
    /// job is run again (here, in-process) and finishes with a report.
    func testKillDuringRetrainingLeavesTheActiveModelIntact() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let (db, library, tracks, _) = try taggedLibrary(database)
        let old = try XCTUnwrap(try db.models.active())
        let oldBytes = try XCTUnwrap(FileManager.default.contents(atPath: old.filePath))
        for i in 0..<8 {
            try db.corrections.record(trackID: tracks[name("high", i)]!, userID: library.ownerID, add: ["rock"], remove: [])
            try db.corrections.record(trackID: tracks[name("low", i)]!, userID: library.ownerID, add: [], remove: ["rock"])
        }
        // Long enough that the kill lands in fine-tuning.
        var config = Self.config()
        config.fineTune.epochs = 2000
        config.fineTune.patience = 2000
        let request = try Retraining.request(database: db, config: config)
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let errors = scratch.appendingPathComponent("retrain.log").path
        let pid = try spawn([try WorkerTests.timbreBinary().path, "retrain", "--wait", "--database-url", url,
                             "--migrations", TestDatabase.migrationsDirectory.path, "--data-dir", scratch.path],
                            errors: errors)
        var reaped = false
        defer { if !reaped { kill(pid, SIGKILL); _ = try? waitForExit(pid) } }
        let deadline = Date().addingTimeInterval(60)
        var log = ""
        while !log.contains("epoch 3:"), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        }
        XCTAssertTrue(log.contains("epoch 3:"), "fine-tuning started in the child:\n\(log)")
        let connection = try database.connection()
        XCTAssertEqual(try connection.query("SELECT state FROM jobs WHERE id = $1 AND lease_owner LIKE $2",
                                            [request.jobID, "%:\(pid):%"]).rowCount, 1, "the child holds the job")
        kill(pid, SIGKILL)
        XCTAssertEqual(try waitForExit(pid), 128 + SIGKILL)
        reaped = true

        XCTAssertEqual(try db.models.active()?.id, old.id)
        XCTAssertEqual(try db.models.list().map(\.id), [old.id], "no model row for the interrupted run")
        XCTAssertEqual(FileManager.default.contents(atPath: old.filePath), oldBytes, "the active model's file is unchanged")
        let store = ModelFileStore(dataDirectory: scratch)
        let finished = ((try? FileManager.default.contentsOfDirectory(atPath: store.directory.path)) ?? [])
            .filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }
        XCTAssertEqual(finished, [], "no model file under the data directory but temporary ones")
        XCTAssertEqual(try connection.query("SELECT count(*) FROM corrections WHERE consumed_by_model_id IS NOT NULL").int(0, 0), 0)
        let held = try XCTUnwrap(try Retraining.status(database: db, jobID: request.jobID))
        XCTAssertEqual(held.state, .running, "the dead child's lease still holds the job")

        // The lease runs out (made to now, rather than waiting a minute): the job runs again.
        _ = try connection.query("UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [request.jobID])
        _ = try connection.query("UPDATE jobs SET payload = jsonb_set(payload, '{fine_tune,epochs}', '3') WHERE id = $1",
                                 [request.jobID])
        XCTAssertEqual(try Retraining.runNext(database: db, dataDirectory: scratch, owner: "after-the-kill"), request.jobID)
        let status = try XCTUnwrap(try Retraining.status(database: db, jobID: request.jobID))
        XCTAssertEqual(status.state, .done, status.lastError ?? "")
        XCTAssertNotNil(status.report, "the rerun made a candidate with its report")
        XCTAssertEqual(try db.models.list().count, 2)
    }

    /// A worker that lost its lease (killed, and the job taken over) commits nothing: no model
    /// row, the active model unchanged; the job's holder runs it.
    func testALostLeaseCommitsNothing() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let (db, library, tracks, _) = try taggedLibrary(database)
        let old = try XCTUnwrap(try db.models.active())
        for i in 0..<8 {
            try db.corrections.record(trackID: tracks[name("high", i)]!, userID: library.ownerID, add: ["rock"], remove: [])
            try db.corrections.record(trackID: tracks[name("low", i)]!, userID: library.ownerID, add: [], remove: ["rock"])
        }
        var config = Self.config()
        config.fineTune.epochs = 1
        let request = try Retraining.request(database: db, config: config)
        let job = try XCTUnwrap(try db.jobs.claim(limit: 1, lease: 30, owner: "holder", kind: JobKind.retrain).first)
        XCTAssertEqual(job.id, request.jobID)
        XCTAssertThrowsError(try Retrainer(database: db, dataDirectory: scratch).run(job: job, owner: "impostor")) { error in
            XCTAssertTrue("\(error)".contains("lost the lease"), "\(error)")
        }
        XCTAssertNil(try db.models.find(trainedByJobID: job.id))
        XCTAssertEqual(try db.models.active()?.id, old.id)
        XCTAssertEqual(try db.models.list().count, 1)
        XCTAssertEqual(try database.connection().query("SELECT count(*) FROM corrections WHERE consumed_by_model_id IS NOT NULL").int(0, 0), 0)
    }
}

private extension Database {
    func embeddings(trackID: Int64, modelID: Int64) throws -> [Float]? { try predictions.embedding(trackID: trackID, modelID: modelID) }
}

/// An array several threads append to.
private final class RequestLog<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ item: T) { lock.lock(); items.append(item); lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return items }
}
