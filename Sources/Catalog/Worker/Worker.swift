import Foundation
import Logging
import Tagger

public struct WorkerOptions: Sendable {
    /// Threads decoding and computing features for a batch (the network runs on one).
    public var concurrency = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Jobs claimed at once: the unit of leasing, of the network's cross-track batches and of
    /// the results transaction.
    public var batchSize = 16
    /// Seconds a claim lasts without renewal: how long a killed worker's jobs wait to come back.
    public var lease: TimeInterval = 60
    /// Seconds between looks at an empty queue.
    public var pollInterval: TimeInterval = 1
    /// How long the server may stay unreachable before the worker gives up.
    public var reconnectTimeout: TimeInterval = 300
    /// Chunks per track, spread evenly (so a 10-minute track costs what a 1-minute one does).
    public var prediction = PredictionConfig()
    /// Seconds to sit on a freshly claimed batch: lets tests kill a worker mid-batch.
    public var holdAfterClaim: TimeInterval = 0
    /// Seconds to sit between a batch's results and storing them: lets tests change a file then.
    public var holdBeforeStore: TimeInterval = 0
    /// Claim retraining jobs too (before tagging jobs): any worker may run the one open retraining.
    public var runsRetraining = true
    /// Where retraining writes model files and caches spectrograms (shared by the workers that retrain).
    public var dataDirectory = TimbreHome.directory()
    /// Names this worker in `jobs.lease_owner`.
    public var owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"

    public init() {}
}

/// What a worker has done so far.
public struct WorkerProgress: Sendable, Equatable {
    public var batches = 0
    public var tagged = 0
    /// Tracks whose file could not be tagged (marked failed with the error).
    public var failed = 0
    /// Jobs with nothing to do (track deleted or gone).
    public var skipped = 0
    /// Tracks whose file changed while their job ran: results dropped, queued again.
    public var requeued = 0
    /// Jobs another worker claimed after this one's lease ran out: left to it, results dropped.
    public var lostLeases = 0
    /// Retraining jobs run (promoted, rejected or failed).
    public var retrainings = 0
    /// Where the time went.
    public var timings = WorkerTimings()
    public init() {}

    mutating func add(_ other: WorkerProgress) {
        batches += other.batches; tagged += other.tagged; failed += other.failed; skipped += other.skipped
        requeued += other.requeued; lostLeases += other.lostLeases
        retrainings += other.retrainings
        timings.add(other.timings)
    }
}

/// Seconds a worker spent in each stage, summed over its batches. Decoding and features run on
/// several threads at once: `decode` and `features` add up every thread's time (CPU-seconds,
/// roughly), `frontEnd` is the wall time of those parallel phases. The others are wall time of
/// the worker's main thread (`model`: the network, with BLAS on every core).
public struct WorkerTimings: Sendable, Equatable, Codable {
    /// Claiming jobs and looking up their files.
    public var claim = 0.0
    public var decode = 0.0
    public var features = 0.0
    public var frontEnd = 0.0
    public var model = 0.0
    /// Writing results and job states (one transaction a batch).
    public var store = 0.0
    /// Seconds of audio in the tracks tagged.
    public var audio = 0.0

    public init() {}

    mutating func add(_ other: WorkerTimings) {
        claim += other.claim; decode += other.decode; features += other.features; frontEnd += other.frontEnd
        model += other.model; store += other.store; audio += other.audio
    }
}

/// Runs tagging jobs from the queue: claim a batch (`FOR UPDATE SKIP LOCKED`, leased and
/// renewed while it runs) → decode and chunk on `concurrency` threads → one network over all
/// the batch's chunks → probabilities and embedding for every track, the failures and the
/// job states, in one transaction. Any number of workers, on any machines, can share a
/// database: a job is held by one lease at a time, a killed worker's jobs come back when its
/// lease runs out, and results are upserts, so a job that runs twice still leaves one result.
///
/// A file that cannot be decoded fails its track (with the error) and its job for good; it
/// never stops the batch. A lost server connection is waited out (up to `reconnectTimeout`).
/// Files are opened read-only by descriptor, confined to their library (`ReadOnlyFile`): one
/// swapped for a symlink out of the library, a FIFO or a device fails its track, never blocks.
///
/// Results are written only by the job's lease holder (a worker whose lease ran out and was
/// claimed again leaves the job to the new holder), and only if the track's content hash is
/// still the one the job started from: a file the crawler saw change meanwhile (its enqueue
/// was dropped, since this job was open) is left pending and queued again instead.
///
/// Before each batch the worker looks at the catalog's active model and loads it when it
/// changed (a retraining promoted one, or a rollback), so queued re-tag jobs run on the new
/// version; a batch that finished on a model retired meanwhile queues its tracks again. With
/// `runsRetraining`, an open retraining job is claimed first and run here (`Retrainer`).
public final class Worker {
    public let pool: ConnectionPool
    public private(set) var model: LoadedModel
    public let options: WorkerOptions
    private var inference: BatchInference
    private let logger: Logger
    private var queue: JobQueue { JobQueue(pool: pool) }

    public init(pool: ConnectionPool, model: LoadedModel, options: WorkerOptions = WorkerOptions(),
                logger: Logger = Logger(label: "timbre.worker")) throws {
        guard options.lease > 0, options.batchSize > 0 else {
            throw CatalogError.invalidArgument("the lease and the batch size must be positive")
        }
        self.pool = pool
        self.model = model
        self.options = options
        self.logger = logger
        inference = try BatchInference(bundle: model.bundle, config: options.prediction)
    }

    /// Runs batches until `shouldStop` says so or, with `drain`, until no tagging job is queued
    /// or running (waiting out other workers' leases). `progress` is called after every batch.
    @discardableResult
    public func run(drain: Bool, shouldStop: () -> Bool = { false },
                    progress: (WorkerProgress) -> Void = { _ in }) throws -> WorkerProgress {
        var total = WorkerProgress()
        var unreachableSince: Date?
        while !shouldStop() {
            do {
                if try runRetraining() {
                    total.retrainings += 1
                    progress(total)
                    continue
                }
                let done = try runBatch()
                unreachableSince = nil
                if done.batches > 0 {
                    total.add(done)
                    progress(total)
                    continue
                }
                if drain, try queue.openCount(kind: JobKind.tag) == 0,
                   try !options.runsRetraining || queue.openCount(kind: JobKind.retrain) == 0 { break }
            } catch let error as CatalogError where error.isTransient {
                let since = unreachableSince ?? Date()
                unreachableSince = since
                guard Date().timeIntervalSince(since) < options.reconnectTimeout else { throw error }
                logger.warning("database unavailable, retrying: \(error)")
            }
            Thread.sleep(forTimeInterval: options.pollInterval)
        }
        return total
    }

    /// Loads the catalog's active model if it is not the one this worker tags with.
    private func followActiveModel() throws {
        guard let active = try ModelRepository(pool: pool).active(), active.id != model.version.id else { return }
        let loaded = try ActiveModel.open(active)
        inference = try BatchInference(bundle: loaded.bundle, config: options.prediction)
        model = loaded
        logger.notice("now tagging with model \(active.version)")
    }

    /// Claims the open retraining job, if any, and runs it; false when there was none.
    public func runRetraining() throws -> Bool {
        guard options.runsRetraining else { return false }
        let logger = self.logger
        return try Retraining.runNext(database: Database(pool: pool), dataDirectory: options.dataDirectory, owner: options.owner,
                                      lease: options.lease, concurrency: options.concurrency, logger: logger) {
            logger.info("retraining: \($0)")
        } != nil
    }

    /// Claims and runs one batch; `batches` is 0 when the queue had nothing to claim.
    public func runBatch() throws -> WorkerProgress {
        try followActiveModel()
        var done = WorkerProgress()
        var mark = monotonicSeconds()
        /// Seconds since the last call.
        func lap() -> Double {
            let now = monotonicSeconds()
            defer { mark = now }
            return now - mark
        }
        let jobs = try queue.claim(limit: options.batchSize, lease: options.lease, owner: options.owner, kind: JobKind.tag)
        guard !jobs.isEmpty else { return done }
        done.batches = 1
        let renewal = LeaseRenewal(queue: queue, jobIDs: jobs.map(\.id), owner: options.owner, lease: options.lease, logger: logger)
        renewal.start()
        defer { renewal.stop() }
        if options.holdAfterClaim > 0 { Thread.sleep(forTimeInterval: options.holdAfterClaim) }

        // Where each job's file is; jobs whose track is gone have nothing to do.
        let tracks = TrackRepository(pool: pool)
        var work: [(job: Job, trackID: Int64, path: String, root: String)] = []
        var startedFrom: [Int64: [UInt8]] = [:]  // job id → the content hash of the file the job reads
        var outcomes: [Int64: Outcome] = [:]
        for job in jobs {
            guard let trackID = job.trackID else { outcomes[job.id] = .failed(trackID: nil, error: "a tag job needs a track"); continue }
            guard let location = try tracks.location(trackID: trackID), location.track.status != .gone else {
                outcomes[job.id] = .skipped
                continue
            }
            work.append((job, trackID, location.absolutePath, location.libraryRoot))
            startedFrom[job.id] = location.track.contentHash
        }

        done.timings.claim = max(0, lap() - options.holdAfterClaim)
        let features = computeFeatures(files: work.map { ($0.path, $0.root) })
        done.timings.frontEnd = lap()
        var ready: [(index: Int, chunks: TrackChunks)] = []
        for (index, result) in features.enumerated() {
            switch result {
            case let .success(chunks):
                ready.append((index, chunks))
                done.timings.decode += chunks.decodeSeconds
                done.timings.features += chunks.featureSeconds
            case let .failure(error): outcomes[work[index].job.id] = .failed(trackID: work[index].trackID, error: "\(error)")
            }
        }
        do {
            let predictions = try inference.predict(ready.map(\.chunks.chunks))
            for (item, prediction) in zip(ready, predictions) {
                let entry = work[item.index]
                let probabilities = Dictionary(uniqueKeysWithValues: zip(model.bundle.labels, prediction.probabilities))
                do {
                    try PredictionStore.validate(probabilities: probabilities, embedding: prediction.embedding)
                    outcomes[entry.job.id] = .tagged(trackID: entry.trackID, probabilities: probabilities, embedding: prediction.embedding)
                    done.timings.audio += item.chunks.duration
                } catch {
                    outcomes[entry.job.id] = .failed(trackID: entry.trackID, error: "the model gave unusable output: \(error)")
                }
            }
        } catch {
            // The network refused the input shape: no track of this batch can be tagged by this model.
            for item in ready { outcomes[work[item.index].job.id] = .failed(trackID: work[item.index].trackID, error: "model error: \(error)") }
        }
        done.timings.model = lap()

        if options.holdBeforeStore > 0 { Thread.sleep(forTimeInterval: options.holdBeforeStore) }
        let written = try write(outcomes, startedFrom: startedFrom)
        done.timings.store = max(0, lap() - options.holdBeforeStore)
        for (jobID, outcome) in outcomes {
            if written.lost.contains(jobID) { done.lostLeases += 1; continue }
            if written.requeued.contains(jobID) { done.requeued += 1; continue }
            switch outcome {
            case .tagged: done.tagged += 1
            case .failed: done.failed += 1
            case .skipped: done.skipped += 1
            }
        }
        if !written.lost.isEmpty {
            logger.warning("\(written.lost.count) jobs were claimed by another worker after their lease ran out; their results were not written")
        }
        if !written.requeued.isEmpty {
            logger.info("\(written.requeued.count) files changed while being tagged; queued again")
        }
        return done
    }

    enum Outcome {
        case tagged(trackID: Int64, probabilities: [String: Float], embedding: [Float])
        case failed(trackID: Int64?, error: String)
        case skipped

        var trackID: Int64? {
            switch self {
            case let .tagged(trackID, _, _): return trackID
            case let .failed(trackID, _): return trackID
            case .skipped: return nil
            }
        }
    }

    /// Decodes and chunks the files on `concurrency` threads, each taking the next file; each
    /// file is opened confined to its library root.
    private func computeFeatures(files: [(path: String, root: String)]) -> [Result<TrackChunks, any Error>] {
        let slots = ResultSlots(count: files.count)
        let inference = self.inference
        let threads = min(options.concurrency, files.count)
        guard threads > 0 else { return [] }
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            while let index = slots.nextIndex() {
                let result: Result<TrackChunks, any Error>
                do { result = .success(try inference.features(path: files[index].path, libraryRoot: files[index].root)) } catch {
                    result = .failure(error)
                }
                slots.set(index, result)
            }
        }
        return slots.results
    }

    /// All of a batch's results and job states in one transaction, retried while the server is
    /// away. Returns the jobs whose results were dropped: `lost` (another worker holds the job
    /// now) and `requeued` (the file changed since the job began; queued again).
    private func write(_ outcomes: [Int64: Outcome], startedFrom: [Int64: [UInt8]]) throws -> (lost: Set<Int64>, requeued: Set<Int64>) {
        let modelID = model.version.id
        let owner = options.owner
        let started = Date()
        while true {
            do {
                return try pool.withTransaction { connection in
                    var tagged: [Int64] = [], again: [Int64] = []
                    var lost: Set<Int64> = [], requeued: Set<Int64> = []
                    // The tracks first, in id order (the crawler also locks a track before
                    // queueing its job), so a concurrent rescan waits for this batch or this
                    // batch sees the rescan's new hash.
                    let trackIDs = outcomes.values.compactMap(\.trackID)
                    let rows = try connection.query("""
                        SELECT id, content_hash, status FROM tracks WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
                        """, [trackIDs])
                    var current: [Int64: (hash: [UInt8], gone: Bool)] = [:]
                    for row in 0..<rows.rowCount {
                        current[try rows.int(row, 0)] = (try rows.bytes(row, 1), try rows.string(row, 2) == TrackStatus.gone.rawValue)
                    }
                    /// The file is no longer what the job read: leave the track pending for a new job.
                    func changed(_ jobID: Int64, _ trackID: Int64) -> Bool {
                        guard let now = current[trackID], !now.gone, let then = startedFrom[jobID] else { return false }
                        return now.hash != then
                    }
                    for (jobID, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
                        if let trackID = outcome.trackID, changed(jobID, trackID) {
                            guard try JobQueue.complete(jobID: jobID, owner: owner, on: connection) else { lost.insert(jobID); continue }
                            again.append(trackID)
                            requeued.insert(jobID)
                            continue
                        }
                        switch outcome {
                        case let .tagged(trackID, probabilities, embedding):
                            guard try JobQueue.complete(jobID: jobID, owner: owner, on: connection) else { lost.insert(jobID); continue }
                            try PredictionStore.write(trackID: trackID, modelID: modelID, probabilities: probabilities,
                                                      embedding: embedding, on: connection)
                            tagged.append(trackID)
                        case let .failed(trackID, error):
                            guard try JobQueue.failPermanently(jobID: jobID, owner: owner, error: error, on: connection) else {
                                lost.insert(jobID)
                                continue
                            }
                            if let trackID { try TrackRepository.markFailed(trackID: trackID, error: error, on: connection) }
                        case .skipped:
                            if !(try JobQueue.complete(jobID: jobID, owner: owner, on: connection)) { lost.insert(jobID) }
                        }
                    }
                    // Finished above, so the open-job index lets the new jobs in.
                    try JobQueue.enqueue(kind: JobKind.tag, trackIDs: again, on: connection)
                    // A promotion or rollback during the batch: these tracks need the new model too.
                    let active = try connection.query("SELECT id FROM models WHERE state = 'active'")
                    if active.rowCount == 1, try active.int(0, 0) != modelID {
                        try JobQueue.enqueue(kind: JobKind.tag, trackIDs: tagged, on: connection)
                    }
                    return (lost, requeued)
                }
            } catch let error as CatalogError where error.isTransient && Date().timeIntervalSince(started) < options.reconnectTimeout {
                logger.warning("could not store a batch's results, retrying: \(error)")
                Thread.sleep(forTimeInterval: min(2, options.pollInterval))
            }
        }
    }
}

/// Per-file results filled by several threads.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var slots: [Result<TrackChunks, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func nextIndex() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    func set(_ index: Int, _ result: Result<TrackChunks, any Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    var results: [Result<TrackChunks, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0 ?? .failure(CatalogError.invalidArgument("no result")) }
    }
}

extension CatalogError {
    /// Worth waiting out: the server is away (restart, network), not a bug in the statement.
    var isTransient: Bool {
        switch self {
        case .connectionFailed, .connectionLost: return true
        case let .queryFailed(sqlState, _, _, _):
            // 57P01-03: shutdown/cannot connect now; 08xxx: connection exceptions; 40001/40P01: retry.
            return sqlState.hasPrefix("57P") || sqlState.hasPrefix("08") || sqlState == "40001" || sqlState == "40P01"
        default: return isConnectionLoss
        }
    }
}
