import AudioIO
@testable import Catalog
import Foundation
import Tagger
import XCTest

/// Races between the queue, the worker and the crawler, against a real PostgreSQL.
final class WorkerRaceTests: XCTestCase {
    private var fixture: TaggingFixture!

    override func setUpWithError() throws { fixture = try TaggingFixture() }
    override func tearDownWithError() throws { fixture.remove() }

    /// Runs one batch on a thread while `meanwhile` runs here, inside the batch's hold (0.3 s in).
    private func runBatch(_ worker: Worker, meanwhile: () throws -> Void) throws -> WorkerProgress {
        let box = Unchecked(worker)
        let outcome = Locked<Result<WorkerProgress, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let result = Result<WorkerProgress, any Error> { try box.value.runBatch() }
            outcome.mutate { $0 = result }
            finished.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        try meanwhile()
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success, "the batch finished")
        return try XCTUnwrap(outcome.value).get()
    }

    /// A worker whose lease ran out while another worker claimed its jobs neither finishes
    /// those jobs nor writes their results.
    func testAWorkerThatLostItsLeaseFinishesNothing() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        for index in 0..<2 { try fixture.writeTone(fixture.root.appendingPathComponent("t\(index).wav"), frequency: 300 + 200 * Float(index)) }
        let library = try database.makeLibrary(root: fixture.root.path)
        _ = try Crawler(pool: database.pool).scan(library: library)
        var options = fixture.options()
        options.holdAfterClaim = 1
        options.owner = "slow"
        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options)
        let connection = try database.connection()
        let done = try runBatch(worker) {
            // As if the lease had run out and another worker had claimed the jobs.
            XCTAssertEqual(try connection.query("UPDATE jobs SET lease_owner = 'other', attempts = attempts + 1 WHERE state = 'running'")
                .affectedRows, 2)
        }
        XCTAssertEqual(done.lostLeases, 2)
        XCTAssertEqual(done.tagged, 0)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM predictions").int(0, 0), 0, "no results written")
        let jobs = try connection.query("SELECT state, lease_owner FROM jobs ORDER BY id")
        for row in 0..<jobs.rowCount {
            XCTAssertEqual(try jobs.string(row, 0), "running", "still the other worker's")
            XCTAssertEqual(try jobs.string(row, 1), "other")
        }
        XCTAssertEqual(try fixture.track("t0.wav", library, database).status, .pending)

        // The queue's own calls refuse the same way.
        let queue = JobQueue(pool: database.pool)
        let id = try connection.query("SELECT id FROM jobs ORDER BY id LIMIT 1").int(0, 0)
        XCTAssertFalse(try queue.complete(jobID: id, owner: "slow"))
        XCTAssertNil(try queue.fail(jobID: id, owner: "slow", error: "late"))
        XCTAssertFalse(try connection.withTransaction { try JobQueue.failPermanently(jobID: id, owner: "slow", error: "late", on: $0) })
        XCTAssertTrue(try queue.complete(jobID: id, owner: "other"))
    }

    /// The file changes while its job runs: the crawler's new job is dropped (one is open), so
    /// the running job must not mark the track tagged with the old content's results; it leaves
    /// the track pending and queues it again, and the next run tags the new content.
    func testAFileChangedWhileItsJobRunsIsTaggedAgain() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let changing = fixture.root.appendingPathComponent("changing.wav")
        let steady = fixture.root.appendingPathComponent("steady.wav")
        try fixture.writeTone(changing, frequency: 300)
        try fixture.writeTone(steady, frequency: 500)
        let library = try database.makeLibrary(root: fixture.root.path)
        let crawler = Crawler(pool: database.pool, metadataReader: FileTagReader.read)
        _ = try crawler.scan(library: library)
        let model = try fixture.model(database)
        var options = fixture.options()
        options.holdBeforeStore = 1.5  // the old content is decoded and predicted; then it changes
        let worker = try Worker(pool: database.pool, model: model, options: options)
        let track = try fixture.track("changing.wav", library, database)

        let done = try runBatch(worker) {
            // Different content (and length): the rescan sees a change, but the open job keeps
            // its enqueue from adding a second one.
            let samples = (0..<24000).map { 0.4 * sin(2 * .pi * 2000 * Float($0) / 16000) }
            try AudioWriter.write(samples, sampleRate: 16000, to: changing.path)
            let rescan = try crawler.scan(library: library)
            XCTAssertEqual(rescan.changed, 1)
            XCTAssertEqual(rescan.jobsQueued, 0, "the job that is running blocks a second one")
        }
        XCTAssertEqual(done.tagged, 1, "the steady file")
        XCTAssertEqual(done.requeued, 1, "the changed file")
        let predictions = PredictionStore(pool: database.pool)
        XCTAssertEqual(try predictions.probabilities(trackID: track.id, modelID: model.version.id), [:], "no stale results")
        XCTAssertEqual(try fixture.track("changing.wav", library, database).status, .pending)
        XCTAssertEqual(try fixture.track("steady.wav", library, database).status, .tagged)
        XCTAssertEqual(try JobQueue(pool: database.pool).openCount(kind: JobKind.tag), 1, "queued again")

        options.holdBeforeStore = 0
        let again = try Worker(pool: database.pool, model: model, options: options).run(drain: true)
        XCTAssertEqual(again.tagged, 1)
        XCTAssertEqual(try fixture.track("changing.wav", library, database).status, .tagged)
        let expected = try Predictor(bundle: ModelBundle.read(from: fixture.modelPath)).predict(file: changing.path)
        let stored = try predictions.probabilities(trackID: track.id, modelID: model.version.id)
        for (label, probability) in zip(model.bundle.labels, expected.probabilities) {
            XCTAssertEqual(stored[label] ?? -1, probability, accuracy: 1e-5, "the new content's result: \(label)")
        }
    }
}
