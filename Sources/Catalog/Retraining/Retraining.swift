import Foundation
import Logging
import Tagger

extension JobKind {
    /// Fine-tune the active model on users' corrections, gate it, promote or reject it.
    public static let retrain = "retrain"
}

/// What a retraining run does (the job's payload, JSON with snake_case keys; absent keys take
/// these defaults).
public struct RetrainingConfig: Codable, Sendable, Equatable {
    public var fineTune = FineTuneConfig()
    /// A user tag gets its own output once this many tracks have it added (M).
    public var minPositivesForNewTag = 5
    /// Retraining starts by itself once this many corrections arrived since the last run (N).
    public var autoTriggerCorrections = 50
    /// Fewer corrected tracks than this: nothing to learn from, the job fails saying so.
    public var minCorrectedTracks = 6
    /// Uncorrected tracks replayed per corrected track (the model's own probabilities as targets), at most `maxReplay`.
    public var replayPerCorrected = 1.0
    public var maxReplay = 200
    /// Shares of the corrected (and replay) tracks held out for early stopping and for the gate.
    public var validationFraction = 0.2
    public var gateFraction = 0.25
    /// The gate: the candidate must get more held-out corrections right than the active model,
    /// by a one-sided sign test at this level.
    public var significance = 0.05
    /// The gate: the candidate may disagree with the active model on at most this share of the
    /// held-out replay decisions (tag or not at 0.5, old labels).
    public var maxReplayDisagreement = 0.05
    /// Loss weight of a corrected label against a replayed (soft) one.
    public var correctionWeight: Float = 1
    /// Loss weight of the replayed (soft) target of a label some correction touched: low, so
    /// corrections carry over to similar uncorrected tracks, not zero, so the label stays anchored.
    public var replayWeightOnCorrectedLabels: Float = 0.25
    /// After the gate promotes a candidate, train the model actually promoted on every
    /// corrected track (the validation and gate ones too) for the candidate's best epoch count;
    /// it replaces the candidate only if it passes the replay check on the held-out replay tracks.
    public var refitOnAllCorrections = true
    /// Which chunks of a track are cached and trained on (as tagging picks them).
    public var prediction = PredictionConfig()
    public var seed: UInt64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case fineTune = "fine_tune", minPositivesForNewTag = "min_positives_for_new_tag"
        case autoTriggerCorrections = "auto_trigger_corrections", minCorrectedTracks = "min_corrected_tracks"
        case replayPerCorrected = "replay_per_corrected", maxReplay = "max_replay"
        case validationFraction = "validation_fraction", gateFraction = "gate_fraction", significance
        case maxReplayDisagreement = "max_replay_disagreement", correctionWeight = "correction_weight"
        case replayWeightOnCorrectedLabels = "replay_weight_on_corrected_labels", prediction, seed
        case refitOnAllCorrections = "refit_on_all_corrections"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RetrainingConfig()
        fineTune = try c.decodeIfPresent(FineTuneConfig.self, forKey: .fineTune) ?? d.fineTune
        minPositivesForNewTag = try c.decodeIfPresent(Int.self, forKey: .minPositivesForNewTag) ?? d.minPositivesForNewTag
        autoTriggerCorrections = try c.decodeIfPresent(Int.self, forKey: .autoTriggerCorrections) ?? d.autoTriggerCorrections
        minCorrectedTracks = try c.decodeIfPresent(Int.self, forKey: .minCorrectedTracks) ?? d.minCorrectedTracks
        replayPerCorrected = try c.decodeIfPresent(Double.self, forKey: .replayPerCorrected) ?? d.replayPerCorrected
        maxReplay = try c.decodeIfPresent(Int.self, forKey: .maxReplay) ?? d.maxReplay
        validationFraction = try c.decodeIfPresent(Double.self, forKey: .validationFraction) ?? d.validationFraction
        gateFraction = try c.decodeIfPresent(Double.self, forKey: .gateFraction) ?? d.gateFraction
        significance = try c.decodeIfPresent(Double.self, forKey: .significance) ?? d.significance
        maxReplayDisagreement = try c.decodeIfPresent(Double.self, forKey: .maxReplayDisagreement) ?? d.maxReplayDisagreement
        correctionWeight = try c.decodeIfPresent(Float.self, forKey: .correctionWeight) ?? d.correctionWeight
        replayWeightOnCorrectedLabels = try c.decodeIfPresent(Float.self, forKey: .replayWeightOnCorrectedLabels) ?? d.replayWeightOnCorrectedLabels
        prediction = try c.decodeIfPresent(PredictionConfig.self, forKey: .prediction) ?? d.prediction
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        refitOnAllCorrections = try c.decodeIfPresent(Bool.self, forKey: .refitOnAllCorrections) ?? d.refitOnAllCorrections
    }

    public var problems: [String] {
        var found = fineTune.problems.map { "fine_tune." + $0 }
        if minPositivesForNewTag < 1 { found.append("min_positives_for_new_tag must be at least 1") }
        if minCorrectedTracks < 3 { found.append("min_corrected_tracks must be at least 3 (train, validation, gate)") }
        if replayPerCorrected < 0 || maxReplay < 0 { found.append("replay_per_corrected and max_replay must be ≥ 0") }
        if !(validationFraction > 0 && gateFraction > 0 && validationFraction + gateFraction < 0.9) {
            found.append("validation_fraction and gate_fraction must be > 0 and leave at least 10% for training")
        }
        if !(significance > 0 && significance <= 1) { found.append("significance must be in (0, 1]") }
        if !(maxReplayDisagreement >= 0 && maxReplayDisagreement <= 1) { found.append("max_replay_disagreement must be in [0, 1]") }
        if !(correctionWeight > 0) { found.append("correction_weight must be > 0") }
        if !(replayWeightOnCorrectedLabels >= 0) { found.append("replay_weight_on_corrected_labels must be ≥ 0") }
        return found
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// The answer to a retraining request: the open retraining job (one at a time).
public struct RetrainRequest: Sendable, Equatable {
    public let jobID: Int64
    /// False when a retraining was already queued or running and this request joined it.
    public let created: Bool
}

/// Where a retraining job stands, and what it made.
public struct RetrainStatus: Sendable {
    public let jobID: Int64
    public let state: JobState
    public let attempts: Int
    public let lastError: String?
    /// The model the run registered (promoted or rejected), once it finished.
    public let model: ModelVersion?
    public let report: RetrainingReport?
}

/// Retraining as the CLI and the server use it: request, look up, activate.
public enum Retraining {
    /// Queues a retraining job, or returns the one already queued or running (a partial unique
    /// index makes concurrent requests agree on one). Any worker runs it.
    public static func request(database: Database, config: RetrainingConfig = RetrainingConfig()) throws -> RetrainRequest {
        let problems = config.problems
        guard problems.isEmpty else { throw CatalogError.invalidArgument("invalid retraining configuration: " + problems.joined(separator: "; ")) }
        for _ in 0..<5 {
            let found: RetrainRequest? = try database.pool.withConnection { connection in
                let inserted = try connection.query("""
                    INSERT INTO jobs (kind, payload, max_attempts) VALUES ($1, $2::jsonb, 2)
                    ON CONFLICT (kind) WHERE kind = 'retrain' AND state IN ('queued', 'running') DO NOTHING
                    RETURNING id
                    """, [JobKind.retrain, config.json])
                if inserted.rowCount == 1 { return RetrainRequest(jobID: try inserted.int(0, 0), created: true) }
                let open = try connection.query("SELECT id FROM jobs WHERE kind = $1 AND state IN ('queued', 'running')", [JobKind.retrain])
                return open.rowCount == 1 ? RetrainRequest(jobID: try open.int(0, 0), created: false) : nil
            }
            if let found { return found }  // else the open job finished between the two statements: try again
        }
        throw CatalogError.invalidArgument("could not queue a retraining: retraining jobs keep finishing as they are requested; try again")
    }

    /// Queues a retraining when at least `config.autoTriggerCorrections` corrections arrived
    /// since the last retraining was requested (and none is open). Returns the job, or nil.
    public static func requestIfDue(database: Database, config: RetrainingConfig = RetrainingConfig()) throws -> RetrainRequest? {
        let due = try database.pool.withConnection { connection in
            try connection.query("""
                SELECT count(*) FROM corrections
                WHERE created_at > coalesce((SELECT max(created_at) FROM jobs WHERE kind = $1), '-infinity')
                """, [JobKind.retrain]).int(0, 0)
        }
        guard due >= config.autoTriggerCorrections, try database.jobs.openCount(kind: JobKind.retrain) == 0 else { return nil }
        return try request(database: database, config: config)
    }

    public static func status(database: Database, jobID: Int64) throws -> RetrainStatus? {
        guard let (job, state, lastError) = try database.jobs.job(id: jobID), job.kind == JobKind.retrain else { return nil }
        let model = try database.models.find(trainedByJobID: jobID)
        return RetrainStatus(jobID: jobID, state: state, attempts: job.attempts, lastError: lastError,
                             model: model, report: model.flatMap { RetrainingReport.from(metrics: $0.metrics) })
    }

    /// Waits until the job is done or failed (polling every `interval` seconds).
    public static func wait(database: Database, jobID: Int64, interval: TimeInterval = 1,
                            timeout: TimeInterval = .infinity) throws -> RetrainStatus {
        let started = Date()
        while true {
            guard let status = try status(database: database, jobID: jobID) else {
                throw CatalogError.notFound(what: "retraining job \(jobID)")
            }
            if status.state == .done || status.state == .failed { return status }
            guard Date().timeIntervalSince(started) < timeout else { return status }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// Claims the open retraining job, if there is one nobody holds, and runs it here (its
    /// lease renewed meanwhile): a worker does this before tagging, `timbre retrain --wait`
    /// too. Returns the job's id, or nil when there was none to claim. A failure is recorded
    /// on the job (for good when retrying cannot help), not thrown, except a lost server.
    @discardableResult
    public static func runNext(database: Database, dataDirectory: URL, owner: String, lease: TimeInterval = 60,
                               concurrency: Int = max(1, ProcessInfo.processInfo.activeProcessorCount),
                               logger: Logger = Logger(label: "timbre.retrain"),
                               progress: (String) -> Void = { _ in }) throws -> Int64? {
        let queue = database.jobs
        guard let job = try queue.claim(limit: 1, lease: lease, owner: owner, kind: JobKind.retrain).first else { return nil }
        let renewal = LeaseRenewal(queue: queue, jobIDs: [job.id], owner: owner, lease: lease, logger: logger)
        renewal.start()
        defer { renewal.stop() }
        var retrainer = Retrainer(database: database, dataDirectory: dataDirectory)
        retrainer.concurrency = concurrency
        retrainer.logger = logger
        do {
            let report = try retrainer.run(job: job, owner: owner, progress: progress)
            logger.notice("retraining job \(job.id): \(report.reason)")
        } catch let failure as Retrainer.Failure {
            logger.error("retraining job \(job.id) failed: \(failure)")
            try database.pool.withConnection { try JobQueue.failPermanently(jobID: job.id, owner: owner, error: failure.description, on: $0) }
        } catch let error as CatalogError where error.isTransient {
            throw error  // the lease runs out and the job comes back
        } catch {
            logger.error("retraining job \(job.id) failed: \(error)")
            try queue.fail(jobID: job.id, owner: owner, error: "\(error)")
        }
        return job.id
    }

    /// Makes `version` the active model (rollback is activating an older one) and queues
    /// tagging for every track that has no predictions under it yet; tracks it tagged before
    /// show its stored predictions at once. Returns the model and the jobs queued.
    @discardableResult
    public static func activate(database: Database, version: String) throws -> (model: ModelVersion, retagJobs: Int) {
        guard let model = try database.models.find(version: version) else {
            throw CatalogError.notFound(what: "model \(version) (see `timbre model list`)")
        }
        guard model.state != .rejected else {
            throw CatalogError.invalidArgument("model \(version) was rejected by the retraining gate and cannot be activated")
        }
        guard FileManager.default.fileExists(atPath: model.filePath) else {
            throw CatalogError.fileSystem(path: model.filePath, message: "model \(version)'s file is missing; restore it before activating")
        }
        let queued = try database.pool.withTransaction(retryingOnConnectionLoss: false) { connection -> Int in
            try ModelRepository.promote(id: model.id, on: connection)
            let missing = try connection.query("""
                SELECT t.id FROM tracks t WHERE t.status <> 'gone'
                AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.track_id = t.id AND p.model_id = $1)
                ORDER BY t.id
                """, [model.id])
            return try JobQueue.enqueue(kind: JobKind.tag, trackIDs: (0..<missing.rowCount).map { try missing.int($0, 0) }, on: connection)
        }
        return (try database.models.find(id: model.id) ?? model, queued)
    }
}
