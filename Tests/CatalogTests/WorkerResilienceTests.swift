import AudioIO
@testable import Catalog
import Foundation
import Tagger
import XCTest

/// Files that cannot be read right now, hung decodes, batches whose worker died and claims whose
/// COMMIT's answer was lost, against a real PostgreSQL.
final class WorkerResilienceTests: XCTestCase {
    private var fixture: TaggingFixture!

    override func setUpWithError() throws { fixture = try TaggingFixture() }
    override func tearDownWithError() throws { fixture.remove() }

    private func options(retryDelay: TimeInterval = 0.3) -> WorkerOptions {
        var options = fixture.options()
        options.retryDelay = retryDelay
        return options
    }

    /// (state, attempts, last error, seconds until not_before) of the track's latest tag job.
    private func job(of track: Track, _ database: TestDatabase) throws -> (state: String, attempts: Int, error: String?, wait: Double?, alone: Bool) {
        let rows = try database.connection().query("""
            SELECT state, attempts, last_error, extract(epoch FROM not_before - now())::float8, claim_alone
            FROM jobs WHERE track_id = $1 AND kind = 'tag' ORDER BY id DESC LIMIT 1
            """, [track.id])
        return (try rows.string(0, 0), Int(try rows.int(0, 1)), try rows.optionalString(0, 2),
                rows.isNull(0, 3) ? nil : try rows.double(0, 3), try rows.bool(0, 4))
    }

    /// Runs batches until one claims something (the back-off passes meanwhile), at most 10 s.
    private func nextBatch(_ worker: Worker) throws -> WorkerProgress {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let done = try worker.runBatch()
            if done.batches > 0 { return done }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTFail("no job became claimable within 10 s")
        return WorkerProgress()
    }

    // MARK: Files that cannot be read now

    /// A file that vanished after the scan is not failed for good: its job goes back to the
    /// queue for a later attempt (not before the back-off), the track stays pending, and once
    /// the file is back the next attempt tags it.
    func testAVanishedFileIsRetriedLaterAndTaggedOnceItIsBack() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let vanishing = fixture.root.appendingPathComponent("vanishing.wav")
        try fixture.writeTone(fixture.root.appendingPathComponent("kept.wav"), frequency: 300)
        try fixture.writeTone(vanishing, frequency: 500)
        let library = try database.makeLibrary(root: fixture.root.path)
        _ = try Crawler(pool: database.pool).scan(library: library)
        let aside = fixture.outside.appendingPathComponent("vanishing.wav")
        try FileManager.default.moveItem(at: vanishing, to: aside)

        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options(retryDelay: 1))
        let done = try worker.runBatch()
        XCTAssertEqual([done.tagged, done.failed, done.retrying], [1, 0, 1], "a missing file is not a failure yet")
        let track = try fixture.track("vanishing.wav", library, database)
        XCTAssertEqual(track.status, .pending)
        var job = try job(of: track, database)
        XCTAssertEqual(job.state, "queued")
        XCTAssertEqual(job.attempts, 1, "the attempt counts")
        XCTAssertTrue(job.error?.contains("no such file") == true, job.error ?? "nil")
        XCTAssertEqual(try XCTUnwrap(job.wait), 1, accuracy: 0.3, "not before the back-off")
        XCTAssertFalse(job.alone)
        XCTAssertEqual(try worker.runBatch().batches, 0, "nothing is claimed during the back-off")
        XCTAssertEqual(try JobQueue(pool: database.pool).openCount(kind: JobKind.tag, includingDeferred: false), 0)
        XCTAssertEqual(try worker.run(drain: true).batches, 0, "a draining worker leaves the retry to later runs")

        try FileManager.default.moveItem(at: aside, to: vanishing)
        let again = try nextBatch(worker)
        XCTAssertEqual(again.tagged, 1)
        XCTAssertEqual(try fixture.track("vanishing.wav", library, database).status, .tagged)
        job = try self.job(of: track, database)
        XCTAssertEqual([job.state, "\(job.attempts)"], ["done", "2"])
    }

    /// Missing on every attempt: retried with a doubling back-off until the attempt cap, then
    /// failed with the error. The file then turns up under another name: the crawler's move
    /// detection queues the failed track again, with fresh attempts, and it is tagged.
    func testAFileMissingOnEveryAttemptFailsAtTheCapAndIsQueuedAgainWhenItReappearsMoved() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let original = fixture.root.appendingPathComponent("song.wav")
        try fixture.writeTone(original, frequency: 440)
        let library = try database.makeLibrary(root: fixture.root.path)
        let crawler = Crawler(pool: database.pool)
        _ = try crawler.scan(library: library)
        let aside = fixture.outside.appendingPathComponent("song.wav")
        try FileManager.default.moveItem(at: original, to: aside)
        let track = try fixture.track("song.wav", library, database)

        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options(retryDelay: 0.4))
        var waits: [Double] = []
        for attempt in 1...2 {
            let done = try nextBatch(worker)
            XCTAssertEqual(done.retrying, 1, "attempt \(attempt)")
            let job = try job(of: track, database)
            XCTAssertEqual([job.state, "\(job.attempts)"], ["queued", "\(attempt)"])
            waits.append(try XCTUnwrap(job.wait))
            XCTAssertEqual(try fixture.track("song.wav", library, database).status, .pending)
        }
        XCTAssertEqual(waits[0], 0.4, accuracy: 0.25)
        XCTAssertEqual(waits[1], 0.8, accuracy: 0.25, "the back-off doubles")
        let last = try nextBatch(worker)
        XCTAssertEqual([last.retrying, last.failed], [0, 1], "the third attempt is the last (max_attempts 3)")
        let failedJob = try job(of: track, database)
        XCTAssertEqual([failedJob.state, "\(failedJob.attempts)"], ["failed", "3"])
        let failed = try fixture.track("song.wav", library, database)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.lastError?.contains("no such file") == true, failed.lastError ?? "nil")

        // The same content under a new name is the failed track, moved: queued again.
        try FileManager.default.moveItem(at: aside, to: fixture.root.appendingPathComponent("renamed.wav"))
        let rescan = try crawler.scan(library: library)
        XCTAssertEqual([rescan.moved, rescan.jobsQueued], [1, 1])
        let moved = try fixture.track("renamed.wav", library, database)
        XCTAssertEqual(moved.id, track.id)
        XCTAssertEqual(moved.status, .pending)
        let fresh = try job(of: moved, database)
        XCTAssertEqual([fresh.state, "\(fresh.attempts)"], ["queued", "0"])
        XCTAssertEqual(try nextBatch(worker).tagged, 1)
        XCTAssertEqual(try fixture.track("renamed.wav", library, database).status, .tagged)
    }

    /// A file away on every attempt (its disk unmounted longer than the retries) fails; once it
    /// is back, unchanged at the same path, the next scan queues it again and it is tagged — while
    /// an unchanged file that failed because it does not decode stays failed.
    func testAFileThatFailedWhileAwayIsQueuedAgainWhenItIsBackUnchanged() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let original = fixture.root.appendingPathComponent("away.wav")
        try fixture.writeTone(original, frequency: 440)
        let broken = fixture.root.appendingPathComponent("broken.wav")
        try Data(repeating: 0x5A, count: 4096).write(to: broken)
        let library = try database.makeLibrary(root: fixture.root.path)
        let crawler = Crawler(pool: database.pool)
        _ = try crawler.scan(library: library)
        let aside = fixture.outside.appendingPathComponent("away.wav")
        try FileManager.default.moveItem(at: original, to: aside)

        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options(retryDelay: 0.1))
        var failed = 0
        for _ in 0..<20 where failed < 2 {
            let done = try nextBatch(worker)
            failed += done.failed
            if done.batches == 0 { Thread.sleep(forTimeInterval: 0.15) }
        }
        XCTAssertEqual(try fixture.track("away.wav", library, database).status, .failed)
        XCTAssertEqual(try fixture.track("broken.wav", library, database).status, .failed)

        // Back where it was, same bytes and mtime (a rename keeps both): unchanged to the scan.
        try FileManager.default.moveItem(at: aside, to: original)
        let rescan = try crawler.scan(library: library)
        XCTAssertEqual(rescan.unchanged, 2)
        XCTAssertEqual(rescan.jobsQueued, 1, "only the file that could not be read is tried again")
        let back = try fixture.track("away.wav", library, database)
        XCTAssertEqual(back.status, .pending)
        XCTAssertEqual(try job(of: back, database).attempts, 0)
        XCTAssertEqual(try nextBatch(worker).tagged, 1)
        XCTAssertEqual(try fixture.track("away.wav", library, database).status, .tagged)
        XCTAssertEqual(try fixture.track("broken.wav", library, database).status, .failed, "a file that does not decode is not retried unchanged")
        // And a later scan queues nothing more.
        XCTAssertEqual(try crawler.scan(library: library).jobsQueued, 0)
    }

    /// A file that failed for good (it did not decode) and is then replaced by good content is
    /// queued again by the rescan and tagged; a job still waiting out a retry when its file
    /// moves starts over with every attempt and no back-off.
    func testAChangedFileThatHadFailedAndAMovedFileWaitingForARetryStartOver() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let broken = fixture.root.appendingPathComponent("broken.wav")
        try Data("not audio, only text".utf8).write(to: broken)
        let moving = fixture.root.appendingPathComponent("moving.wav")
        try fixture.writeTone(moving, frequency: 700)
        let library = try database.makeLibrary(root: fixture.root.path)
        let crawler = Crawler(pool: database.pool)
        _ = try crawler.scan(library: library)
        let aside = fixture.outside.appendingPathComponent("moving.wav")
        try FileManager.default.moveItem(at: moving, to: aside)

        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options(retryDelay: 600))
        let done = try worker.runBatch()
        XCTAssertEqual([done.failed, done.retrying], [1, 1], "the readable file that does not decode fails at once")
        let brokenTrack = try fixture.track("broken.wav", library, database)
        XCTAssertEqual(brokenTrack.status, .failed)
        XCTAssertEqual(try job(of: brokenTrack, database).attempts, 1, "a decode error is not retried")
        let movingTrack = try fixture.track("moving.wav", library, database)
        XCTAssertEqual(try XCTUnwrap(try job(of: movingTrack, database).wait), 600, accuracy: 5)

        try fixture.writeTone(broken, frequency: 900)
        try FileManager.default.moveItem(at: aside, to: fixture.root.appendingPathComponent("moved.wav"))
        let rescan = try crawler.scan(library: library)
        XCTAssertEqual([rescan.changed, rescan.moved], [1, 1])
        XCTAssertEqual(try fixture.track("broken.wav", library, database).status, .pending)
        let restarted = try job(of: try fixture.track("moved.wav", library, database), database)
        XCTAssertEqual([restarted.state, "\(restarted.attempts)"], ["queued", "0"], "every attempt again")
        XCTAssertNil(restarted.wait, "no back-off")
        let again = try worker.runBatch()
        XCTAssertEqual(again.tagged, 2)
        XCTAssertEqual(try fixture.track("broken.wav", library, database).status, .tagged)
        XCTAssertEqual(try fixture.track("moved.wav", library, database).status, .tagged)
    }

    /// The library's folder itself is away (an unmounted disk): every file of the batch is
    /// retried later, none fails; once the folder is back they are tagged.
    func testAMissingLibraryFolderIsRetriedNotFailed() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        for index in 0..<3 { try fixture.writeTone(fixture.root.appendingPathComponent("t\(index).wav"), frequency: 200 + 150 * Float(index)) }
        let library = try database.makeLibrary(root: fixture.root.path)
        _ = try Crawler(pool: database.pool).scan(library: library)
        let unmounted = URL(fileURLWithPath: fixture.root.path + "-away")
        try FileManager.default.moveItem(at: fixture.root, to: unmounted)
        defer { if !FileManager.default.fileExists(atPath: fixture.root.path) { try? FileManager.default.moveItem(at: unmounted, to: fixture.root) } }

        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options(retryDelay: 0.3))
        let done = try worker.runBatch()
        XCTAssertEqual([done.tagged, done.failed, done.retrying], [0, 0, 3])
        for index in 0..<3 {
            let track = try fixture.track("t\(index).wav", library, database)
            XCTAssertEqual(track.status, .pending)
            XCTAssertTrue(try job(of: track, database).error?.contains("the library folder") == true)
        }
        try FileManager.default.moveItem(at: unmounted, to: fixture.root)
        XCTAssertEqual(try nextBatch(worker).tagged, 3)
    }

    /// A file the worker may not open (EACCES, the kernel's own answer: the decode thread runs
    /// with an unprivileged filesystem uid for it) is retried later, not failed.
    func testAFileThatCannotBeOpenedForPermissionIsRetried() throws {
        guard let setfsuid = Self.setfsuid else { throw XCTSkip("setfsuid is not available") }
        let database = try TestDatabase()
        defer { database.drop() }
        let locked = fixture.root.appendingPathComponent("locked.wav")
        try fixture.writeTone(locked, frequency: 330)
        try fixture.writeTone(fixture.root.appendingPathComponent("open.wav"), frequency: 660)
        let library = try database.makeLibrary(root: fixture.root.path)
        _ = try Crawler(pool: database.pool).scan(library: library)
        XCTAssertEqual(chmod(locked.path, 0o600), 0)
        XCTAssertEqual(chmod(fixture.root.path, 0o755), 0)
        let unprivileged: UInt32 = getuid() == 0 ? 65534 : getuid()
        if getuid() != 0 { XCTAssertEqual(chmod(locked.path, 0), 0) }

        var options = options(retryDelay: 0.3)
        let lockedPath = locked.path
        options.beforeDecode = { path in _ = setfsuid(path == lockedPath ? unprivileged : getuid()) }
        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options)
        let done = try worker.runBatch()
        XCTAssertEqual([done.tagged, done.failed, done.retrying], [1, 0, 1])
        let track = try fixture.track("locked.wav", library, database)
        XCTAssertEqual(track.status, .pending)
        let job = try job(of: track, database)
        XCTAssertEqual(job.state, "queued")
        XCTAssertTrue(job.error?.contains(String(cString: strerror(EACCES))) == true, job.error ?? "nil")
    }

    /// setfsuid(2) (per thread), looked up at run time: Glibc's module does not export it.
    private static let setfsuid: (@convention(c) (UInt32) -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "setfsuid") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UInt32) -> Int32).self)
    }()

    /// Which errors may pass: errno values of a file that cannot be read now, a library folder
    /// that is away; not a FIFO, a link out of the library, or a readable file that does not decode.
    func testFileErrorsAreToldApart() throws {
        func reason(_ code: Int32) -> String { String(cString: strerror(code)) }
        for code in [EACCES, EIO, ENXIO, ESTALE, ENOENT, ENODEV] {
            XCTAssertEqual(FileReadability.openProblem(AudioError.unreadable(path: "/m/a.mp3", reason: reason(code))),
                           .transient("/m/a.mp3: cannot be read: \(reason(code))"), reason(code))
        }
        XCTAssertEqual(FileReadability.openProblem(AudioError.fileNotFound(path: "/m/a.mp3")), .transient("/m/a.mp3: no such file"))
        if case .transient? = FileReadability.openProblem(AudioError.unreadable(path: "/m/a.mp3",
                                                                              reason: "the library folder /m cannot be resolved: x")) {} else {
            XCTFail("a library folder that is away may come back")
        }
        for permanent in ["is a FIFO (named pipe), not a regular file; not opened",
                          "is a symbolic link to /etc/passwd, outside the library /m; not opened"] {
            XCTAssertEqual(FileReadability.openProblem(AudioError.unreadable(path: "/m/a.mp3", reason: permanent)),
                           .permanent("/m/a.mp3: cannot be read: \(permanent)"))
        }
        XCTAssertNil(FileReadability.openProblem(AudioError.corrupt(path: "/m/a.mp3", reason: "bad frame")), "a decoder's error")
        XCTAssertEqual(FileReadability.openProblem(AudioError.tooLarge(path: "/m/a.flac", reason: "2 h at 768 kHz")),
                       .permanent("/m/a.flac: too large to decode: 2 h at 768 kHz"), "over the decode cap: read, and refused")
        // A decode error is believed only of a file that reads through.
        let readable = fixture.root.appendingPathComponent("readable.mp3")
        try Data(repeating: 7, count: 3 << 20).write(to: readable)
        let corrupt = AudioError.corrupt(path: readable.path, reason: "bad frame")
        XCTAssertEqual(FileReadability.classify(corrupt, path: readable.path, root: fixture.root.path), .permanent("\(corrupt)"))
        let gone = fixture.root.appendingPathComponent("gone.mp3")
        if case .transient? = Optional(FileReadability.classify(AudioError.corrupt(path: gone.path, reason: "short read"),
                                                                 path: gone.path, root: fixture.root.path)) {} else {
            XCTFail("a decode error of a file that is not there is not the file's fault")
        }
    }

    // MARK: Hung decodes and batches that never finished

    /// A file that hangs the decoder is abandoned after the time limit: the rest of its batch is
    /// tagged and stored at once, its job goes back to be retried alone, and after its attempts
    /// it fails; the decode threads left behind are counted.
    func testAHungDecodeIsAbandonedAndCostsOnlyItsOwnJob() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        for name in ["a.wav", "hang.wav", "b.wav", "c.wav"] {
            try fixture.writeTone(fixture.root.appendingPathComponent(name), frequency: 250 + Float(name.utf8.first!))
        }
        let library = try database.makeLibrary(root: fixture.root.path)
        _ = try Crawler(pool: database.pool).scan(library: library)
        let release = DispatchSemaphore(value: 0)
        let hung = Locked(0)
        defer { for _ in 0..<hung.value { release.signal() } }
        var options = options(retryDelay: 0.2)
        options.fileTimeout = 1
        options.lease = 30
        options.beforeDecode = { path in
            guard path.hasSuffix("/hang.wav") else { return }
            hung.mutate { $0 += 1 }
            _ = release.wait(timeout: .now() + 20)  // the decoder does not come back (until the test ends)
        }
        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: options)

        let started = Date()
        let done = try worker.runBatch()
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "the batch did not wait for the hung decode")
        XCTAssertEqual([done.tagged, done.timedOut, done.retrying, done.failed], [3, 1, 1, 0])
        let track = try fixture.track("hang.wav", library, database)
        var job = try job(of: track, database)
        XCTAssertEqual([job.state, "\(job.attempts)"], ["queued", "1"])
        XCTAssertTrue(job.alone, "its next attempt runs alone")
        XCTAssertTrue(job.error?.contains("longer than 1 s") == true, job.error ?? "nil")
        XCTAssertEqual(track.status, .pending)
        XCTAssertGreaterThanOrEqual(DecodeRunner.stuckThreads, 1)

        // Queue another file: once its back-off is over, the retried job is claimed in a batch of its own.
        try fixture.writeTone(fixture.root.appendingPathComponent("d.wav"), frequency: 1200)
        _ = try Crawler(pool: database.pool).scan(library: library)
        Thread.sleep(forTimeInterval: 0.3)
        let second = try nextBatch(worker)
        XCTAssertEqual([second.tagged, second.timedOut, second.retrying], [0, 1, 1], "the hung file alone")
        XCTAssertEqual(try fixture.track("d.wav", library, database).status, .pending, "not batched with the hung file")
        Thread.sleep(forTimeInterval: 0.5)
        let third = try nextBatch(worker)
        XCTAssertEqual([third.timedOut, third.failed], [1, 1], "its last attempt fails it")
        job = try self.job(of: track, database)
        XCTAssertEqual([job.state, "\(job.attempts)"], ["failed", "3"])
        let failed = try fixture.track("hang.wav", library, database)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.lastError?.contains("--file-timeout") == true, failed.lastError ?? "nil")
        XCTAssertEqual(try nextBatch(worker).tagged, 1, "d.wav")
        XCTAssertEqual(hung.value, 3)
    }

    /// A dropped job's lease is renewed no more (it runs out as a dead worker's would); the
    /// others' leases are.
    func testADroppedJobsLeaseIsNoLongerRenewed() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let queue = JobQueue(pool: database.pool)
        for _ in 0..<2 { XCTAssertNotNil(try queue.enqueue(kind: "test")) }
        let jobs = try queue.claim(limit: 2, lease: 0.6, owner: "w")
        XCTAssertEqual(jobs.count, 2)
        let renewal = LeaseRenewal(queue: queue, jobIDs: jobs.map(\.id), owner: "w", lease: 0.6, logger: .init(label: "test"))
        renewal.start()
        defer { renewal.stop() }
        renewal.drop(jobs[1].id)
        Thread.sleep(forTimeInterval: 1.2)
        let rows = try database.connection().query("SELECT id, lease_expires_at > now() FROM jobs ORDER BY id")
        XCTAssertTrue(try rows.bool(0, 1), "still renewed")
        XCTAssertFalse(try rows.bool(1, 1), "dropped: its lease ran out")
        XCTAssertEqual(renewal.renewed, [jobs[0].id])
    }

    /// The jobs of a batch whose lease ran out (its worker died) are claimed one at a time, so a
    /// job that keeps killing workers uses up only its own attempts; fresh jobs still come in batches.
    func testAnExpiredBatchIsClaimedOneJobAtATime() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let queue = JobQueue(pool: database.pool)
        let ids = try (0..<6).map { _ in try XCTUnwrap(try queue.enqueue(kind: "test")) }
        XCTAssertEqual(try queue.claim(limit: 4, lease: 0.2, owner: "crashed").map(\.id), Array(ids[0..<4]))
        Thread.sleep(forTimeInterval: 0.3)

        // ids[0] is poisonous: every worker that claims it dies (its lease runs out).
        var poisonAttempts = 1
        while poisonAttempts < 3 {
            let alone = try queue.claim(limit: 4, lease: 0.2, owner: "dies-\(poisonAttempts)")
            XCTAssertEqual(alone.map(\.id), [ids[0]], "alone")
            XCTAssertTrue(alone[0].claimedAlone)
            poisonAttempts += 1
            XCTAssertEqual(alone[0].attempts, poisonAttempts)
            Thread.sleep(forTimeInterval: 0.3)
        }
        for expected in ids[1..<4] {
            let alone = try queue.claim(limit: 4, lease: 60, owner: "w")
            XCTAssertEqual(alone.map(\.id), [expected], "each of the dead batch's jobs alone")
            XCTAssertEqual(alone.first?.attempts, 2)
            XCTAssertTrue(try queue.complete(jobID: expected, owner: "w"))
        }
        let fresh = try queue.claim(limit: 4, lease: 60, owner: "w")
        XCTAssertEqual(fresh.map(\.id), Array(ids[4..<6]), "fresh jobs together")
        XCTAssertEqual(fresh.map(\.claimedAlone), [false, false])
        let poison = try XCTUnwrap(try queue.job(id: ids[0]))
        XCTAssertEqual(poison.state, .failed, "its attempts used up")
        XCTAssertEqual(poison.job.attempts, 3)
        XCTAssertTrue(poison.lastError?.contains("lease expired on attempt 3 of 3") == true, poison.lastError ?? "nil")
    }

    /// The real binary killed mid-batch: a worker then runs the fresh jobs as one batch and each
    /// of the dead batch's jobs on its own.
    func testAKilledWorkersBatchIsRetriedOneByOne() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try WorkerTests.timbreBinary()
        for index in 0..<6 { try fixture.writeTone(fixture.root.appendingPathComponent("t\(index).wav"), frequency: 200 + 90 * Float(index)) }
        let library = try database.makeLibrary(root: fixture.root.path)
        _ = try Crawler(pool: database.pool).scan(library: library)
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let pid = try spawn([binary.path, "worker", "--database-url", url, "--migrations", TestDatabase.migrationsDirectory.path,
                             "--model", fixture.modelPath, "--lease", "2", "--batch-size", "4", "--concurrency", "1", "--hold-after-claim", "60", "--drain"])
        var reaped = false
        defer { if !reaped { kill(pid, SIGKILL); _ = try? waitForExit(pid) } }
        let connection = try database.connection()
        XCTAssertEqual(try WorkerTests.jobsHeld(by: pid, connection), 4)
        kill(pid, SIGKILL)
        _ = try waitForExit(pid)
        reaped = true

        var options = options()
        options.batchSize = 4
        options.lease = 2
        let done = try Worker(pool: database.pool, model: fixture.model(database), options: options).run(drain: true)
        XCTAssertEqual(done.tagged, 6)
        XCTAssertEqual(done.batches, 5, "the 2 fresh jobs together, then the 4 of the dead batch one by one")
        let alone = try connection.query("SELECT claim_alone, attempts, count(*) FROM jobs GROUP BY 1, 2 ORDER BY 1, 2")
        XCTAssertEqual(alone.rowCount, 2)
        XCTAssertEqual([try alone.bool(0, 0) ? 1 : 0, Int(try alone.int(0, 1)), Int(try alone.int(0, 2))], [0, 1, 2])
        XCTAssertEqual([try alone.bool(1, 0) ? 1 : 0, Int(try alone.int(1, 1)), Int(try alone.int(1, 2))], [1, 2, 4])
    }

    // MARK: Lost COMMITs

    /// The connection dies right after a claim's COMMIT, before its answer reaches the worker:
    /// the claim is not run blindly again (that would lease a second batch and leave the first
    /// leased to nobody); the jobs the first run leased are found by its token and returned.
    func testAClaimWhoseCommitAnswerWasLostReturnsTheJobsItLeased() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        var queue = JobQueue(pool: database.pool)
        let ids = try (0..<6).map { _ in try XCTUnwrap(try queue.enqueue(kind: "test")) }
        let killed = Locked(0)
        queue.afterCommit = { operation, connection in
            guard operation == .claim, killed.value == 0 else { return }
            killed.mutate { $0 += 1 }
            _ = try connection.query("SELECT pg_terminate_backend(pg_backend_pid())")
        }
        let claimed = try queue.claim(limit: 3, lease: 60, owner: "w")
        XCTAssertEqual(killed.value, 1, "the connection was lost after the COMMIT")
        XCTAssertEqual(claimed.map(\.id), Array(ids[0..<3]))
        let rows = try database.connection().query("SELECT id, state, attempts FROM jobs ORDER BY id")
        for row in 0..<rows.rowCount {
            let expected = row < 3 ? ("running", 1) : ("queued", 0)
            let id = try rows.int(row, 0)
            XCTAssertEqual(try rows.string(row, 1), expected.0, "job \(id)")
            XCTAssertEqual(Int(try rows.int(row, 2)), expected.1, "job \(id)")
        }
        // A connection lost before anything committed: the claim simply runs again.
        queue.afterCommit = nil
        let killer = try database.connection()
        let victim = try database.pool.withConnection { try $0.query("SELECT pg_backend_pid()").int(0, 0) }
        XCTAssertTrue(try killer.query("SELECT pg_terminate_backend($1::integer)", [victim]).bool(0, 0))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(try queue.claim(limit: 3, lease: 60, owner: "w").map(\.id), Array(ids[3..<6]))
    }

    /// The same for an enqueue of a job without a track: one job, not two.
    func testATracklessEnqueueWhoseCommitAnswerWasLostAddsOneJob() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        var queue = JobQueue(pool: database.pool)
        let killed = Locked(0)
        queue.afterCommit = { operation, connection in
            guard operation == .enqueue, killed.value == 0 else { return }
            killed.mutate { $0 += 1 }
            _ = try connection.query("SELECT pg_terminate_backend(pg_backend_pid())")
        }
        let id = try XCTUnwrap(try queue.enqueue(kind: "test", payload: #"{"n": 1}"#))
        XCTAssertEqual(killed.value, 1)
        let rows = try database.connection().query("SELECT id FROM jobs")
        XCTAssertEqual(rows.rowCount, 1, "one job")
        XCTAssertEqual(try rows.int(0, 0), id)
    }
}
