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
    /// Another Timbre server whose `POST /api/v1/analysis/predict` tags for this worker, when
    /// `inference` says so (the active model's file is not on this machine, or always).
    public var remote: RemoteInferenceSettings?
    /// Where the network runs.
    public var inference = InferenceMode.auto
    /// Tracks in flight to `remote` at once.
    public var remoteConcurrency = 2
    /// Seconds one file's decode and features may take, plus 1 s for every minute of audio the
    /// catalog knows the track to last; past it the decode is abandoned (its thread left to
    /// finish), the job's lease is no longer renewed and the job is retried later, alone.
    /// 0: no limit.
    public var fileTimeout: TimeInterval = 120
    /// Seconds before a job whose file could not be read is tried again; doubled after each
    /// further attempt, at most `maxRetryDelay`.
    public var retryDelay: TimeInterval = 30
    public var maxRetryDelay: TimeInterval = 900
    /// Tests: runs on the decode thread before each file is decoded (a hook to make one hang).
    var beforeDecode: (@Sendable (_ path: String) -> Void)?

    public init() {}

    /// The time limit for a file of `duration` seconds (nil when there is none).
    func timeLimit(duration: Double?) -> Double? {
        guard fileTimeout > 0 else { return nil }
        return fileTimeout + max(0, duration ?? 0) / 60
    }

    /// Seconds before the next attempt of a job that has had `attempts`.
    func retryDelay(afterAttempt attempts: Int) -> TimeInterval {
        JobQueue.retryDelay(afterAttempt: attempts, base: retryDelay, cap: max(retryDelay, maxRetryDelay))
    }
}

/// Where a worker runs the network.
public enum InferenceMode: String, Sendable, CaseIterable {
    /// Locally when the active model's file loads here; else through `WorkerOptions.remote`, if set.
    case auto
    /// Always the local model file (an error when it is missing, as without a remote server).
    case local
    /// Always through `WorkerOptions.remote`, even where the file is here.
    case remote
}

/// What produced a worker's results.
public enum InferencePath: Sendable, Equatable, CustomStringConvertible {
    /// This machine ran the model file at this path.
    case local(modelFile: String)
    /// This server ran it (`http://host:port`).
    case remote(server: String)

    public var description: String {
        switch self {
        case let .local(file): return "local (\(file))"
        case let .remote(server): return "remote (\(server))"
        }
    }
}

/// The model a worker tags with: its catalog row and where it runs.
public struct WorkerModel: Sendable, Equatable {
    public let version: ModelVersion
    public let path: InferencePath
}

/// What a worker has done so far.
public struct WorkerProgress: Sendable, Equatable {
    public var batches = 0
    public var tagged = 0
    /// Tracks whose file could not be tagged (marked failed with the error).
    public var failed = 0
    /// Jobs handed back for a later attempt (back-off): their file could not be read right now
    /// (missing, no permission, an I/O error, the library's disk away) or outlived `fileTimeout`.
    public var retrying = 0
    /// Files whose decode outlived `fileTimeout` and was abandoned (each also counted in
    /// `retrying`, or in `failed` on its last attempt).
    public var timedOut = 0
    /// Jobs with nothing to do (track deleted or gone).
    public var skipped = 0
    /// Tracks whose file changed while their job ran: results dropped, queued again.
    public var requeued = 0
    /// Jobs another worker claimed after this one's lease ran out: left to it, results dropped.
    public var lostLeases = 0
    /// Retraining jobs run (promoted, rejected or failed).
    public var retrainings = 0
    /// Of `tagged`, the tracks a remote server tagged (`WorkerOptions.remote`).
    public var taggedRemotely = 0
    /// Jobs given back to the queue, their attempt not spent, because the remote server could not
    /// be used (down, circuit open, another model version): they run again later.
    public var handedBack = 0
    /// Where the time went.
    public var timings = WorkerTimings()
    public init() {}

    mutating func add(_ other: WorkerProgress) {
        batches += other.batches; tagged += other.tagged; failed += other.failed; skipped += other.skipped
        retrying += other.retrying; timedOut += other.timedOut
        requeued += other.requeued; lostLeases += other.lostLeases
        retrainings += other.retrainings
        taggedRemotely += other.taggedRemotely; handedBack += other.handedBack
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
/// never stops the batch. A file that cannot be read *now* (missing, no permission, an I/O
/// error, the library's disk away: `FileReadability`) is not the file's fault: its job goes back
/// to the queue for a later attempt (`retryDelay`, doubling), and only the last attempt fails the
/// track. A decode that outlives `fileTimeout` is abandoned and its job retried alone, and a
/// batch whose lease ran out (the worker died in it) is retried one job at a time (`JobQueue`),
/// so one poisonous file costs its own attempts, never a whole batch's. A lost server
/// connection is waited out (up to `reconnectTimeout`).
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
///
/// Remote inference (`WorkerOptions.remote`): where the active model's file is not on this
/// machine (or `inference` is `.remote`), each claimed file is sent to another Timbre server's
/// predict endpoint instead (see `Worker+Remote.swift`); the answer must come from the catalog's
/// active model version, and is stored exactly as a local result. While that server cannot be
/// used the batch's unfinished jobs are handed back without spending an attempt and no batch is
/// claimed until the circuit breaker lets a probe through; no track fails for it.
public final class Worker {
    public let pool: ConnectionPool
    public let options: WorkerOptions
    /// The client for `options.remote` (nil without one).
    public let remote: RemoteInferenceClient?
    /// The model this worker tags with, and where it runs.
    public var model: WorkerModel { engine.model }
    var engine: Engine
    let logger: Logger
    var queue: JobQueue { JobQueue(pool: pool) }
    /// While set (monotonic seconds), no batch is claimed: the remote server is given time.
    var remotePausedUntil: Double?
    /// The remote server failed the last batch (to say once when it answers again).
    var remoteFailing = false

    enum Engine {
        case local(LoadedModel, BatchInference)
        case remote(ModelVersion, RemoteInferenceClient)

        var model: WorkerModel {
            switch self {
            case let .local(loaded, _): return WorkerModel(version: loaded.version, path: .local(modelFile: loaded.version.filePath))
            case let .remote(version, client): return WorkerModel(version: version, path: .remote(server: client.server.description))
            }
        }
    }

    /// A worker tagging with `model`'s loaded file (through `options.remote` instead when
    /// `options.inference` is `.remote`). `remote` replaces the client `options.remote` would make.
    public convenience init(pool: ConnectionPool, model: LoadedModel, options: WorkerOptions = WorkerOptions(),
                            logger: Logger = Logger(label: "timbre.worker"), remote: RemoteInferenceClient? = nil) throws {
        try self.init(pool: pool, options: options, logger: logger, remote: remote) { client in
            if options.inference == .remote, let client { return .remote(model.version, client) }
            return .local(model, try BatchInference(bundle: model.bundle, config: options.prediction))
        }
    }

    /// A worker for the catalog's model row `version`: its file is loaded when it is here (and
    /// `options.inference` allows); otherwise it tags through `options.remote` (or `remote`).
    public convenience init(pool: ConnectionPool, activeModel version: ModelVersion, options: WorkerOptions = WorkerOptions(),
                            logger: Logger = Logger(label: "timbre.worker"), remote: RemoteInferenceClient? = nil) throws {
        try self.init(pool: pool, options: options, logger: logger, remote: remote) { client in
            try Self.engine(for: version, options: options, client: client, logger: logger)
        }
    }

    private init(pool: ConnectionPool, options: WorkerOptions, logger: Logger, remote: RemoteInferenceClient?,
                 engine make: (RemoteInferenceClient?) throws -> Engine) throws {
        guard options.lease > 0, options.batchSize > 0, options.remoteConcurrency > 0 else {
            throw CatalogError.invalidArgument("the lease, the batch size and the remote concurrency must be positive")
        }
        let client = try remote ?? options.remote.map { try RemoteInferenceClient(settings: $0) }
        if options.inference == .remote, client == nil {
            throw CatalogError.invalidArgument("remote inference needs a server: give --remote-url (or $TIMBRE_INFERENCE_REMOTE_URL)")
        }
        self.pool = pool
        self.options = options
        self.logger = logger
        self.remote = client
        engine = try make(client)
    }

    /// Where `version` runs under `options`: its file here, or `client`'s server.
    static func engine(for version: ModelVersion, options: WorkerOptions, client: RemoteInferenceClient?, logger: Logger) throws -> Engine {
        if options.inference == .remote, let client { return .remote(version, client) }
        do {
            let loaded = try ActiveModel.open(version)
            return .local(loaded, try BatchInference(bundle: loaded.bundle, config: options.prediction))
        } catch let error as ActiveModelError {
            guard options.inference == .auto, case .unreadable = error, let client else { throw error }
            logger.notice("model \(version.version): its file \(version.filePath) cannot be loaded here; tagging through \(client.server)")
            return .remote(version, client)
        }
    }

    /// Whether this worker runs retraining jobs: only where the model files are.
    var retrains: Bool {
        guard options.runsRetraining, case .local = engine else { return false }
        return true
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
                // Jobs handed back to be retried later are left to later runs (or other workers).
                if drain, try queue.openCount(kind: JobKind.tag, includingDeferred: false) == 0,
                   try !retrains || queue.openCount(kind: JobKind.retrain, includingDeferred: false) == 0 { break }
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

    /// Follows the catalog's active model when it is not the one this worker tags with.
    private func followActiveModel() throws {
        guard let active = try ModelRepository(pool: pool).active(), active.id != model.version.id else { return }
        engine = try Self.engine(for: active, options: options, client: remote, logger: logger)
        remotePausedUntil = nil
        logger.notice("now tagging with model \(active.version), \(model.path)")
    }

    /// Claims the open retraining job, if any, and runs it; false when there was none (or this
    /// worker tags remotely: retraining needs the model files, so it is left to workers that have them).
    public func runRetraining() throws -> Bool {
        guard retrains else { return false }
        let logger = self.logger
        return try Retraining.runNext(database: Database(pool: pool), dataDirectory: options.dataDirectory, owner: options.owner,
                                      lease: options.lease, concurrency: options.concurrency, logger: logger) {
            logger.info("retraining: \($0)")
        } != nil
    }

    /// A claimed job's file.
    struct WorkItem: Sendable {
        let job: Job
        let trackID: Int64
        let path: String
        let root: String
        /// Seconds, from the catalog (for the remote path's audio count).
        let duration: Double?
    }

    /// Claims and runs one batch; `batches` is 0 when the queue had nothing to claim (or the
    /// remote server is being given time).
    public func runBatch() throws -> WorkerProgress {
        try followActiveModel()
        var done = WorkerProgress()
        if let until = remotePausedUntil {
            guard monotonicSeconds() >= until else { return done }
            remotePausedUntil = nil
        }
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
        var work: [WorkItem] = []
        var startedFrom: [Int64: [UInt8]] = [:]  // job id → the content hash of the file the job reads
        var outcomes: [Int64: Outcome] = [:]
        for job in jobs {
            guard let trackID = job.trackID else { outcomes[job.id] = .failed(trackID: nil, error: "a tag job needs a track"); continue }
            guard let location = try tracks.location(trackID: trackID), location.track.status != .gone else {
                outcomes[job.id] = .skipped
                continue
            }
            work.append(WorkItem(job: job, trackID: trackID, path: location.absolutePath, root: location.libraryRoot,
                                 duration: location.track.metadata.durationSeconds))
            startedFrom[job.id] = location.track.contentHash
        }
        done.timings.claim = max(0, lap() - options.holdAfterClaim)

        var stop: RemoteStop?
        switch engine {
        case let .local(loaded, inference):
            tagLocally(work, model: loaded, inference: inference, renewal: renewal, outcomes: &outcomes, done: &done, lap: lap)
        case let .remote(version, client):
            let result = tagRemotely(work, version: version, client: client)
            outcomes.merge(result.outcomes) { old, _ in old }
            stop = result.stop
            done.timings.audio += result.audio
            done.timings.model = lap()
        }

        if options.holdBeforeStore > 0 { Thread.sleep(forTimeInterval: options.holdBeforeStore) }
        let written = try write(outcomes, startedFrom: startedFrom)
        done.timings.store = max(0, lap() - options.holdBeforeStore)
        let remotely: Bool
        if case .remote = engine { remotely = true } else { remotely = false }
        for (jobID, outcome) in outcomes {
            if written.lost.contains(jobID) { done.lostLeases += 1; continue }
            if written.requeued.contains(jobID) { done.requeued += 1; continue }
            switch outcome {
            case .tagged:
                done.tagged += 1
                if remotely { done.taggedRemotely += 1 }
            case .failed: done.failed += 1
            case .retry:
                if written.gaveUp.contains(jobID) { done.failed += 1 } else { done.retrying += 1 }
            case .skipped: done.skipped += 1
            }
        }
        if done.retrying > 0 {
            logger.info("\(done.retrying) files could not be read now (or outlived --file-timeout); their jobs are queued for a later attempt")
        }
        if !written.lost.isEmpty {
            logger.warning("\(written.lost.count) jobs were claimed by another worker after their lease ran out; their results were not written")
        }
        if !written.requeued.isEmpty {
            logger.info("\(written.requeued.count) files changed while being tagged; queued again")
        }
        if case let .remote(version, client) = engine {
            try finishRemoteBatch(stop: stop, version: version, client: client, done: &done)
        }
        return done
    }

    /// The local path: decode and chunk on `concurrency` threads (each file within its time
    /// limit), one network over the batch.
    private func tagLocally(_ work: [WorkItem], model: LoadedModel, inference: BatchInference, renewal: LeaseRenewal,
                            outcomes: inout [Int64: Outcome], done: inout WorkerProgress, lap: () -> Double) {
        let features = computeFeatures(work, inference: inference) { index, limit in
            let item = work[index]
            renewal.drop(item.job.id)
            let seconds = String(format: "%.0f", limit)
            logger.warning("\(item.path): still decoding after \(seconds) s (--file-timeout); abandoned, its job is retried later on its own (\(DecodeRunner.stuckThreads) decode threads stuck)")
        }
        done.timings.frontEnd = lap()
        var ready: [(index: Int, chunks: TrackChunks)] = []
        for (index, result) in features.enumerated() {
            let item = work[index]
            switch result {
            case let .chunks(chunks):
                ready.append((index, chunks))
                done.timings.decode += chunks.decodeSeconds
                done.timings.features += chunks.featureSeconds
            case let .problem(.permanent(message)):
                outcomes[item.job.id] = .failed(trackID: item.trackID, error: message)
            case let .problem(.transient(message)):
                outcomes[item.job.id] = .retry(trackID: item.trackID, error: message,
                                               delay: options.retryDelay(afterAttempt: item.job.attempts), alone: false)
            case let .timedOut(limit):
                done.timedOut += 1
                outcomes[item.job.id] = .retry(trackID: item.trackID,
                                               error: "\(item.path): decoding took longer than \(String(format: "%.0f", limit)) s "
                                                   + "(the file time limit, --file-timeout); abandoned",
                                               delay: options.retryDelay(afterAttempt: item.job.attempts), alone: true)
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
    }

    enum Outcome {
        case tagged(trackID: Int64, probabilities: [String: Float], embedding: [Float])
        case failed(trackID: Int64?, error: String)
        /// Not now: hand the job back to be tried again in `delay` seconds (alone, with `alone`).
        case retry(trackID: Int64, error: String, delay: TimeInterval, alone: Bool)
        case skipped

        var trackID: Int64? {
            switch self {
            case let .tagged(trackID, _, _): return trackID
            case let .failed(trackID, _): return trackID
            case let .retry(trackID, _, _, _): return trackID
            case .skipped: return nil
            }
        }
    }

    /// Decodes and chunks the files on `concurrency` threads, each taking the next file, each
    /// within its time limit (`timedOut` is called when one is given up on); each file is opened
    /// confined to its library root, and a failure says whether it may pass (`FileReadability`).
    private func computeFeatures(_ work: [WorkItem], inference: BatchInference,
                                 timedOut: (_ index: Int, _ limit: Double) -> Void) -> [DecodeRunner.Result] {
        let files = work.map { (path: $0.path, root: $0.root) }
        let limits = work.map { options.timeLimit(duration: $0.duration) }
        let beforeDecode = options.beforeDecode
        let runner = DecodeRunner(limits: limits) { index in
            let (path, root) = files[index]
            beforeDecode?(path)
            do { return .chunks(try inference.features(path: path, libraryRoot: root)) } catch {
                return .problem(FileReadability.classify(error, path: path, root: root))
            }
        }
        return runner.run(threads: options.concurrency) { index in timedOut(index, limits[index] ?? 0) }
    }

    /// What `write` did besides storing results.
    struct Written {
        /// Jobs another worker holds now: nothing of theirs written.
        var lost: Set<Int64> = []
        /// Jobs whose file changed since they began: results dropped, the track queued again.
        var requeued: Set<Int64> = []
        /// `retry` jobs that had no attempt left: failed, with their track.
        var gaveUp: Set<Int64> = []
    }

    /// All of a batch's results and job states in one transaction, retried while the server is
    /// away. Returns the jobs whose results were dropped: `lost` (another worker holds the job
    /// now) and `requeued` (the file changed since the job began; queued again), and the
    /// retries that used the job's last attempt (`gaveUp`).
    private func write(_ outcomes: [Int64: Outcome], startedFrom: [Int64: [UInt8]]) throws -> Written {
        let modelID = model.version.id
        let owner = options.owner
        let started = Date()
        while true {
            do {
                return try pool.withTransaction { connection in
                    var tagged: [Int64] = [], again: [Int64] = []
                    var written = Written()
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
                            guard try JobQueue.complete(jobID: jobID, owner: owner, on: connection) else { written.lost.insert(jobID); continue }
                            again.append(trackID)
                            written.requeued.insert(jobID)
                            continue
                        }
                        switch outcome {
                        case let .tagged(trackID, probabilities, embedding):
                            guard try JobQueue.complete(jobID: jobID, owner: owner, on: connection) else { written.lost.insert(jobID); continue }
                            try PredictionStore.write(trackID: trackID, modelID: modelID, probabilities: probabilities,
                                                      embedding: embedding, on: connection)
                            tagged.append(trackID)
                        case let .failed(trackID, error):
                            guard try JobQueue.failPermanently(jobID: jobID, owner: owner, error: error, on: connection) else {
                                written.lost.insert(jobID)
                                continue
                            }
                            if let trackID { try TrackRepository.markFailed(trackID: trackID, error: error, on: connection) }
                        case let .retry(trackID, error, delay, alone):
                            guard let state = try JobQueue.retryLater(jobID: jobID, owner: owner, error: error, delay: delay, alone: alone,
                                                                      on: connection) else {
                                written.lost.insert(jobID)
                                continue
                            }
                            if state == .failed {
                                written.gaveUp.insert(jobID)
                                try TrackRepository.markFailed(trackID: trackID, error: error, unreadable: true, on: connection)
                            }
                        case .skipped:
                            if !(try JobQueue.complete(jobID: jobID, owner: owner, on: connection)) { written.lost.insert(jobID) }
                        }
                    }
                    // Finished above, so the open-job index lets the new jobs in.
                    try JobQueue.enqueue(kind: JobKind.tag, trackIDs: again, on: connection)
                    // A promotion or rollback during the batch: these tracks need the new model too.
                    let active = try connection.query("SELECT id FROM models WHERE state = 'active'")
                    if active.rowCount == 1, try active.int(0, 0) != modelID {
                        try JobQueue.enqueue(kind: JobKind.tag, trackIDs: tagged, on: connection)
                    }
                    return written
                }
            } catch let error as CatalogError where error.isTransient && Date().timeIntervalSince(started) < options.reconnectTimeout {
                logger.warning("could not store a batch's results, retrying: \(error)")
                Thread.sleep(forTimeInterval: min(2, options.pollInterval))
            }
        }
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
