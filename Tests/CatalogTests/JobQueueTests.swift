@testable import Catalog
import Foundation
import XCTest

final class JobQueueTests: XCTestCase {
    private func enqueue(_ count: Int, _ queue: JobQueue, maxAttempts: Int = 3) throws -> [Int64] {
        try (0..<count).map { _ in try XCTUnwrap(try queue.enqueue(kind: "test", maxAttempts: maxAttempts)) }
    }

    func testConcurrentClaimersNeverGetTheSameJob() throws {
        let database = try TestDatabase(maximumConnections: 4)
        defer { database.drop() }
        let queue = JobQueue(pool: database.pool)
        let ids = try enqueue(300, queue)
        let claimed = LockedArray<Int64>()
        let errors = LockedArray<String>()
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                while true {
                    let jobs = try queue.claim(limit: 7, lease: 60, owner: "worker-\(worker)")
                    if jobs.isEmpty { break }
                    claimed.append(contentsOf: jobs.map(\.id))
                    for job in jobs {
                        XCTAssertEqual(job.leaseOwner, "worker-\(worker)")
                        XCTAssertTrue(try queue.complete(jobID: job.id, owner: "worker-\(worker)"))
                    }
                }
            } catch {
                errors.append("\(error)")
            }
        }
        XCTAssertEqual(errors.values, [])
        XCTAssertEqual(claimed.values.count, ids.count, "a job was claimed twice")
        XCTAssertEqual(Set(claimed.values), Set(ids))
        XCTAssertEqual(try queue.counts(), [.done: ids.count])
    }

    func testExpiredLeaseReturnsTheJobAndRenewKeepsIt() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let queue = JobQueue(pool: database.pool)
        let id = try enqueue(1, queue)[0]

        let first = try queue.claim(limit: 5, lease: 0.3, owner: "slow")
        XCTAssertEqual(first.map(\.id), [id])
        XCTAssertEqual(first[0].attempts, 1)
        XCTAssertEqual(try queue.claim(limit: 5, lease: 60, owner: "other"), [])
        // A live worker renews: the job stays its own past the first lease.
        XCTAssertTrue(try queue.renew(jobID: id, owner: "slow", lease: 0.6))
        Thread.sleep(forTimeInterval: 0.35)
        XCTAssertEqual(try queue.claim(limit: 5, lease: 60, owner: "other"), [])
        // Then it stops renewing (crashed): the job comes back.
        Thread.sleep(forTimeInterval: 0.4)
        let second = try queue.claim(limit: 5, lease: 60, owner: "other")
        XCTAssertEqual(second.map(\.id), [id])
        XCTAssertEqual(second[0].attempts, 2)
        // The slow worker has lost it: it can neither renew nor fail it.
        XCTAssertFalse(try queue.renew(jobID: id, owner: "slow", lease: 60))
        XCTAssertNil(try queue.fail(jobID: id, owner: "slow", error: "late"))
        XCTAssertFalse(try queue.complete(jobID: id, owner: "slow"), "nor finish it")
        XCTAssertTrue(try queue.complete(jobID: id, owner: "other"))
        XCTAssertFalse(try queue.complete(jobID: id, owner: "other"), "finished already: nothing changes")
        XCTAssertEqual(try queue.job(id: id)?.state, .done)
        XCTAssertEqual(try queue.claim(limit: 5, lease: 60, owner: "other"), [])
    }

    func testAttemptsAreCappedAndTheLastErrorKept() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let queue = JobQueue(pool: database.pool)
        let id = try enqueue(1, queue, maxAttempts: 2)[0]
        XCTAssertEqual(try queue.claim(limit: 1, lease: 60, owner: "w").map(\.id), [id])
        XCTAssertEqual(try queue.fail(jobID: id, owner: "w", error: "decoder error 1"), .queued)
        XCTAssertEqual(try queue.claim(limit: 1, lease: 60, owner: "w").map(\.attempts), [2])
        XCTAssertEqual(try queue.fail(jobID: id, owner: "w", error: "decoder error 2"), .failed)
        XCTAssertEqual(try queue.claim(limit: 1, lease: 60, owner: "w"), [])
        let failed = try XCTUnwrap(try queue.job(id: id))
        XCTAssertEqual(failed.state, .failed)
        XCTAssertEqual(failed.lastError, "decoder error 2")
        XCTAssertEqual(failed.job.attempts, 2)

        // A job whose last lease runs out is failed too, not retried forever.
        let other = try enqueue(1, queue, maxAttempts: 1)[0]
        XCTAssertEqual(try queue.claim(limit: 1, lease: 0.05, owner: "crashing").map(\.id), [other])
        Thread.sleep(forTimeInterval: 0.15)
        XCTAssertEqual(try queue.claim(limit: 1, lease: 60, owner: "w"), [])
        let expired = try XCTUnwrap(try queue.job(id: other))
        XCTAssertEqual(expired.state, .failed)
        XCTAssertTrue(expired.lastError?.contains("lease expired") == true, expired.lastError ?? "nil")
    }

    func testOneOpenJobPerTrackAndKind() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let trackID = try insertTrack(database)
        let queue = JobQueue(pool: database.pool)
        let first = try XCTUnwrap(try queue.enqueue(kind: JobKind.tag, trackID: trackID))
        XCTAssertNil(try queue.enqueue(kind: JobKind.tag, trackID: trackID))
        XCTAssertNotNil(try queue.enqueue(kind: "other", trackID: trackID))
        XCTAssertEqual(try queue.claim(limit: 5, lease: 60, owner: "w", kind: JobKind.tag).map(\.id), [first])
        XCTAssertTrue(try queue.complete(jobID: first, owner: "w"))
        XCTAssertNotNil(try queue.enqueue(kind: JobKind.tag, trackID: trackID), "a finished job does not block a new one")
    }

    /// A job run twice (its lease expired under a slow worker) stores one result: the latest.
    func testPredictionWritesAreIdempotentUpserts() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let trackID = try insertTrack(database)
        let model = try ModelRepository(pool: database.pool).register(version: "v1", filePath: "m", labels: ["rock", "jazz", "pop"])
        let store = PredictionStore(pool: database.pool)
        let embedding1 = (0..<256).map { Float($0) / 256 }
        let embedding2 = (0..<256).map { Float(255 - $0) / 256 }
        try store.write(trackID: trackID, modelID: model.id, probabilities: ["rock": 0.2, "jazz": 0.7, "pop": 0.1], embedding: embedding1)
        try store.write(trackID: trackID, modelID: model.id, probabilities: ["rock": 0.25, "jazz": 0.65, "pop": 0.1], embedding: embedding2)
        let counts = try database.pool.withConnection { connection in
            (try connection.query("SELECT count(*) FROM predictions").int(0, 0), try connection.query("SELECT count(*) FROM embeddings").int(0, 0))
        }
        XCTAssertEqual(counts.0, 3)
        XCTAssertEqual(counts.1, 1)
        XCTAssertEqual(try store.probabilities(trackID: trackID, modelID: model.id), ["rock": 0.25, "jazz": 0.65, "pop": 0.1])
        XCTAssertEqual(try store.embedding(trackID: trackID, modelID: model.id), embedding2)
        XCTAssertEqual(try TrackRepository(pool: database.pool).track(id: trackID)?.status, .tagged)
        XCTAssertEqual(try store.tracks(label: "jazz", modelID: model.id, threshold: 0.5).map(\.trackID), [trackID])
        XCTAssertEqual(try store.tracks(label: "rock", modelID: model.id, threshold: 0.5).count, 0)
        XCTAssertThrowsError(try store.write(trackID: trackID, modelID: model.id, probabilities: ["rock": 1.5], embedding: nil))
        // A failed write leaves the earlier result whole.
        XCTAssertThrowsError(try store.write(trackID: trackID, modelID: model.id + 99, probabilities: ["rock": 0.5], embedding: nil))
        XCTAssertEqual(try store.probabilities(trackID: trackID, modelID: model.id).count, 3)
    }

    func testPromotionKeepsOneActiveModel() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let models = ModelRepository(pool: database.pool)
        let v1 = try models.register(version: "v1", filePath: "a", labels: ["x"])
        let v2 = try models.register(version: "v2", filePath: "b", labels: ["x"], metrics: #"{"map": 0.5}"#, parentID: v1.id)
        try models.promote(id: v1.id)
        try models.promote(id: v2.id)
        XCTAssertEqual(try models.active()?.id, v2.id)
        XCTAssertEqual(try models.find(id: v1.id)?.state, .retired)
        XCTAssertEqual(try models.find(id: v2.id)?.parentID, v1.id)
        // The partial unique index refuses a second active model, whoever tries.
        XCTAssertThrowsError(try database.pool.withConnection { try $0.query("UPDATE models SET state = 'active' WHERE id = $1", [v1.id]) }) { error in
            XCTAssertEqual((error as? CatalogError)?.sqlState, "23505")
        }
        try models.promote(id: v1.id) // rollback
        XCTAssertEqual(try models.active()?.version, "v1")
    }

    private func insertTrack(_ database: TestDatabase) throws -> Int64 {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let library = try database.makeLibrary(root: root.path)
        return try database.pool.withConnection { connection in
            try connection.query("""
                INSERT INTO tracks (library_id, path, size, mtime_ns, content_hash) VALUES ($1, 'x.mp3', 1, 0, $2) RETURNING id
                """, [library.id, PostgresValue.bytes(SHA256.hash([1]))]).int(0, 0)
        }
    }

    /// One scan of a library at a time; a scan whose server died (its lease ran out without a
    /// progress report) is failed with a reason instead of blocking the library's scans.
    func testAScanWhoseLeaseRanOutNoLongerBlocksTheLibrary() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let folder = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let library = try database.makeLibrary(root: folder.path)
        let queue = JobQueue(pool: database.pool)
        let first = try XCTUnwrap(try queue.startScan(libraryID: library.id, owner: "server-a", lease: 1))
        XCTAssertNil(try queue.startScan(libraryID: library.id, owner: "server-b"), "one scan at a time")
        try queue.reportProgress(jobID: first, done: 10, total: 10, lease: 1)
        XCTAssertNil(try queue.startScan(libraryID: library.id, owner: "server-b"), "a live scan renews its lease")
        Thread.sleep(forTimeInterval: 1.5)
        let second = try XCTUnwrap(try queue.startScan(libraryID: library.id, owner: "server-b"), "the dead scan no longer blocks")
        XCTAssertNotEqual(first, second)
        let dead = try XCTUnwrap(try queue.record(id: first))
        XCTAssertEqual(dead.state, .failed)
        XCTAssertTrue(dead.lastError?.contains("lease ran out") == true, dead.lastError ?? "")
        XCTAssertEqual(try queue.record(id: second)?.state, .running)
    }
}
