import Features
import Foundation
import Logging
import Tagger

/// Runs one retraining job: corrections → training set → fine-tuned candidate → gate →
/// promoted or rejected, in this order:
///
/// 1. The latest correction of each (track, label), whoever made it, on tracks not gone. A user
///    tag outside the active model's vocabulary with at least `minPositivesForNewTag` additions
///    becomes a new output.
/// 2. Corrected tracks learn their corrections (hard targets), the active model's own
///    chunk probabilities on the old labels they were not corrected on (soft), and, for a new
///    tag, "absent" unless added. A replay set of uncorrected tracks learns the active model's
///    probabilities on the old labels (at a lower weight on labels some correction touched, so
///    corrections carry over to similar tracks) and nothing on new ones (masked). Both sets are split
///    into train / validation (early stopping) / gate, the corrected tracks by iterative
///    stratification over their corrections.
/// 3. `FineTuner` (Tagger) fine-tunes from the active model; `RetrainingGate` compares.
/// 4. The model file is written content-addressed; then one transaction registers the model
///    (parent, job, report), marks the corrections it consumed, promotes it and queues a
///    re-tag of every track (or rejects it), and finishes the job, provided this worker still
///    holds the job's lease. A crash before that commit changes nothing in the catalog.
public struct Retrainer {
    public let database: Database
    /// Model files and spectrogram caches live under it (`models/`, `cache/spectrograms/`).
    public let dataDirectory: URL
    public var concurrency = max(1, ProcessInfo.processInfo.activeProcessorCount)
    public var logger = Logger(label: "timbre.retrain")

    public init(database: Database, dataDirectory: URL) {
        self.database = database
        self.dataDirectory = dataDirectory
    }

    public enum Failure: Error, CustomStringConvertible {
        /// Retrying will not help (too few corrections, a bad configuration).
        case permanent(String)
        public var description: String { switch self { case .permanent(let why): why } }
    }

    struct LabeledTrack {
        let id: Int64
        let path: String
        let contentHash: [UInt8]
        /// label → added (true) or removed (false); empty for replay tracks.
        var corrections: [String: Bool]
    }

    /// Runs the job `job` held by `owner`: commits its outcome and finishes it. Throws for a
    /// failure the caller records (`Failure.permanent` fails it for good).
    @discardableResult
    public func run(job: Job, owner: String, progress: (String) -> Void = { _ in }) throws -> RetrainingReport {
        let started = Date()
        let config: RetrainingConfig
        do { config = try JSONDecoder().decode(RetrainingConfig.self, from: Data(job.payload.utf8)) } catch {
            throw Failure.permanent("the retraining job's configuration cannot be read: \(error)")
        }
        guard config.problems.isEmpty else { throw Failure.permanent("invalid retraining configuration: " + config.problems.joined(separator: "; ")) }
        if let done = try database.models.find(trainedByJobID: job.id), let report = RetrainingReport.from(metrics: done.metrics) {
            try database.jobs.complete(jobID: job.id, owner: owner)  // an earlier attempt committed and died before finishing the job
            return report
        }
        guard let activeRow = try database.models.active() else {
            throw Failure.permanent("there is no active model to fine-tune; tag the library first (`timbre scan` or `timbre worker`)")
        }
        let active = try ActiveModel.open(activeRow)
        let parent = active.bundle

        // 1. Corrections and the vocabulary.
        let (corrected, lastCorrectionID) = try correctedTracks()
        let positives = corrected.reduce(into: [String: Int]()) { counts, track in
            for (label, added) in track.corrections where added { counts[label, default: 0] += 1 }
        }
        let known = Set(parent.labels)
        let newLabels = positives.filter { !known.contains($0.key) && $0.value >= config.minPositivesForNewTag }.map(\.key).sorted()
        let waiting = positives.filter { !known.contains($0.key) && $0.value < config.minPositivesForNewTag }
        let vocabulary = Set(parent.labels + newLabels)
        let usable = corrected.compactMap { track -> LabeledTrack? in
            var t = track
            t.corrections = track.corrections.filter { vocabulary.contains($0.key) }
            return t.corrections.isEmpty ? nil : t
        }
        guard usable.count >= config.minCorrectedTracks else {
            throw Failure.permanent("only \(usable.count) tracks have corrections the model can learn from; correct at least "
                                    + "\(config.minCorrectedTracks) (`timbre tag TRACK +label -label`), then retrain")
        }
        progress("\(usable.count) corrected tracks, new labels: \(newLabels.isEmpty ? "none" : newLabels.joined(separator: ", "))")

        // 2. Splits: 0 train, 1 validation, 2 gate.
        let shares = [1 - config.validationFraction - config.gateFraction, config.validationFraction, config.gateFraction]
        let signatures = usable.map { track in track.corrections.map { "\($0.value ? "+" : "-")\($0.key)" } }
        let signatureIndex = Dictionary(uniqueKeysWithValues: Set(signatures.flatMap { $0 }).sorted().enumerated().map { ($1, $0) })
        var correctedSplit = IterativeStratification.split(labels: signatures.map { $0.map { signatureIndex[$0]! } },
                                                           proportions: shares, seed: config.seed)
        // Every split needs a track: take one from the largest where one is empty.
        for s in 0..<3 where !correctedSplit.contains(s) {
            let largest = (0..<3).max { a, b in correctedSplit.filter { $0 == a }.count < correctedSplit.filter { $0 == b }.count }!
            if let i = correctedSplit.lastIndex(of: largest) { correctedSplit[i] = s }
        }
        let replayCount = min(config.maxReplay, Int((config.replayPerCorrected * Double(usable.count)).rounded()))
        let replay = try replayTracks(excluding: usable.map(\.id), count: replayCount, seed: config.seed)
        let replaySplit = replay.indices.map { i -> Int in
            let x = (Double(i) + 0.5) / Double(max(1, replay.count))
            return x < shares[0] ? 0 : (x < shares[0] + shares[1] ? 1 : 2)
        }

        // 3. Features, cached by content.
        let cache = try SpectrogramCache(dataDirectory: dataDirectory, bundle: parent, prediction: config.prediction)
        let all = usable + replay
        progress("computing spectrograms of \(all.count) tracks (cached in \(cache.directory.path))")
        let chunks = features(all.map { ($0.path, $0.contentHash) }, cache: cache)

        let labels = parent.labels + newLabels
        let oldCount = parent.labels.count
        let touched = Set(usable.flatMap(\.corrections.keys))
        var report = RetrainingReport(outcome: .rejected, reason: "", parent: activeRow.version, jobID: job.id, newLabels: newLabels,
                                      waitingLabels: waiting, counts: .init(), gate: .init(), fineTune: config.fineTune,
                                      history: [], bestEpoch: 0, trainableParameters: 0, seconds: 0)
        var sets: [[FineTuneExample]] = [[], [], []]
        var gateCorrected: [(track: LabeledTrack, chunks: ChunkBatch)] = []
        var gateReplay: [ChunkBatch] = []
        var gateCorrectedExamples: [FineTuneExample] = [], gateReplayExamples: [FineTuneExample] = []
        for (i, track) in all.enumerated() {
            guard let batch = chunks[i] else { report.counts.unreadable += 1; continue }
            let isReplay = i >= usable.count
            let split = isReplay ? replaySplit[i - usable.count] : correctedSplit[i]
            var targets = [Float](repeating: 0, count: labels.count), mask = [Float](repeating: 1, count: labels.count)
            var distil = labels.indices.map { $0 < oldCount }
            for (j, label) in labels.enumerated() {
                if let added = track.corrections[label] {
                    targets[j] = added ? 1 : 0
                    mask[j] = config.correctionWeight
                    distil[j] = false
                } else if j >= oldCount && isReplay {
                    mask[j] = 0  // an uncorrected track says nothing about a new tag
                } else if isReplay && touched.contains(label) {
                    mask[j] = config.replayWeightOnCorrectedLabels
                }
            }
            let example = FineTuneExample(chunks: batch, targets: targets, mask: mask, distil: distil)
            sets[split].append(example)
            if split == 2 {
                if isReplay { gateReplayExamples.append(example) } else { gateCorrectedExamples.append(example) }
            }
            switch (isReplay, split) {
            case (false, 0): report.counts.trainCorrected += 1
            case (false, 1): report.counts.validationCorrected += 1
            case (false, _): report.counts.gateCorrected += 1; gateCorrected.append((track, batch))
            case (true, 0): report.counts.trainReplay += 1
            case (true, 1): report.counts.validationReplay += 1
            case (true, _): report.counts.gateReplay += 1; gateReplay.append(batch)
            }
        }
        report.counts.correctedTracks = usable.count
        report.counts.corrections = usable.reduce(0) { $0 + $1.corrections.count }
        guard report.counts.gateCorrected > 0, report.counts.validationCorrected + report.counts.validationReplay > 0 else {
            throw Failure.permanent("too few readable corrected tracks to hold some out for the gate; correct more tracks")
        }

        // 4. Fine-tune.
        progress("fine-tuning on \(sets[0].count) tracks (\(config.fineTune.layers.rawValue)), validating on \(sets[1].count)")
        let tuner: FineTuner
        do { tuner = try FineTuner(parent: parent, newLabels: newLabels, config: config.fineTune) } catch {
            throw Failure.permanent("\(error)")
        }
        let result = try tuner.run(train: sets[0], validation: sets[1]) { epoch in
            progress("epoch \(epoch.epoch): validation loss \(String(format: "%.4f", epoch.valLoss))"
                     + (epoch.trainLoss.map { ", train loss \(String(format: "%.4f", $0))" } ?? ""))
        }
        report.history = result.history
        report.bestEpoch = result.bestEpoch
        report.trainableParameters = result.trainableParameters
        var candidate = result.bundle

        // 5. The gate.
        var pairs: [RetrainingGate.Pair] = []
        for (track, batch) in gateCorrected {
            let before = try parent.trackProbabilities(batch), after = try candidate.trackProbabilities(batch)
            for (label, added) in track.corrections.sorted(by: { $0.key < $1.key }) {
                guard let j = labels.firstIndex(of: label) else { continue }
                pairs.append(.init(probabilityBefore: j < oldCount ? before[j] : nil, probabilityAfter: after[j],
                                   added: added, label: label, isNew: j >= oldCount))
            }
        }
        // Replay agreement is measured on the labels nobody corrected: the ones users did
        // correct are meant to move on uncorrected tracks too.
        let untouched = parent.labels.indices.filter { !touched.contains(parent.labels[$0]) }
        func replayPairs(_ model: ModelBundle) throws -> [(before: [Float], after: [Float])] {
            try gateReplay.map { batch in
                let before = try parent.trackProbabilities(batch), after = try model.trackProbabilities(batch)
                return (before: untouched.map { before[$0] }, after: untouched.map { after[$0] })
            }
        }
        let gate = RetrainingGate(significance: config.significance, maxReplayDisagreement: config.maxReplayDisagreement)
        let verdict = gate.evaluate(corrected: pairs, replay: try replayPairs(candidate))
        report.gate = verdict.gate
        report.outcome = verdict.promote ? .promoted : .rejected
        report.reason = verdict.reason
        progress(verdict.reason)

        // 5b. The refit: the gate judged how a model is trained from these corrections; the one
        // promoted learns from all of them (the held-out ones were too few to waste), trained
        // as long as the candidate's best epoch, kept only if it passes the replay check too.
        if verdict.promote, config.refitOnAllCorrections {
            let refitTrain = sets[0] + sets[1] + gateCorrectedExamples
            let correctedCount = report.counts.trainCorrected + report.counts.validationCorrected + report.counts.gateCorrected
            progress("refitting on all \(correctedCount) corrected tracks "
                     + "and \(report.counts.trainReplay + report.counts.validationReplay) replay tracks for \(result.bestEpoch) epochs")
            let refit = try tuner.run(train: refitTrain, validation: gateReplayExamples, fixedEpochs: result.bestEpoch)
            let replay = gate.evaluate(corrected: [], replay: try replayPairs(refit.bundle)).gate
            let kept = replay.replayDisagreement <= config.maxReplayDisagreement
            report.refit = RetrainingReport.Refit(tracks: refitTrain.count, epochs: result.bestEpoch,
                                                  replayDisagreement: replay.replayDisagreement, promoted: kept)
            if kept { candidate = refit.bundle }
            progress(kept ? "the refit model is promoted (replay: \(String(format: "%.3g", 100 * replay.replayDisagreement))% changed)"
                          : "the refit changes \(String(format: "%.3g", 100 * replay.replayDisagreement))% of held-out replay decisions: the candidate is promoted instead")
        }

        // 6. The file, then one transaction for the catalog.
        candidate.info["training"] = Self.json(["retrained_from": activeRow.version, "job": "\(job.id)", "best_epoch": "\(result.bestEpoch)"])
        candidate.info["metrics"] = Self.json(["held_out_correct_before": "\(verdict.gate.correctBefore)",
                                               "held_out_correct_after": "\(verdict.gate.correctAfter)",
                                               "held_out_pairs": "\(verdict.gate.pairs)",
                                               "replay_disagreement": "\(verdict.gate.replayDisagreement)"])
        let (path, digest) = try ModelFileStore(dataDirectory: dataDirectory).write(candidate)
        report.seconds = Date().timeIntervalSince(started)
        try commit(job: job, owner: owner, report: &report, path: path, digest: digest, labels: labels,
                   parentID: activeRow.id, lastCorrectionID: lastCorrectionID)
        return report
    }

    private func commit(job: Job, owner: String, report: inout RetrainingReport, path: String, digest: String,
                        labels: [String], parentID: Int64, lastCorrectionID: Int64) throws {
        var final = report
        try database.pool.withTransaction(retryingOnConnectionLoss: false) { connection in
            let held = try connection.query("SELECT 1 FROM jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 FOR UPDATE",
                                            [job.id, owner])
            guard held.rowCount == 1 else {
                throw CatalogError.invalidArgument("this worker lost the lease of retraining job \(job.id); another worker runs it now")
            }
            var version = "retrain-" + digest.prefix(12)
            if try connection.query("SELECT 1 FROM models WHERE version = $1", [version]).rowCount > 0 { version += "-job\(job.id)" }
            let state = report.outcome == .promoted ? "candidate" : "rejected"
            let inserted = try connection.query("""
                INSERT INTO models (version, file_path, labels, metrics, parent_id, state, trained_by_job_id)
                VALUES ($1, $2, $3, '{}'::jsonb, $4, $5, $6) RETURNING id
                """, [version, path, labels, parentID, state, job.id])
            let modelID = try inserted.int(0, 0)
            final.consumedCorrections = try connection.query("""
                UPDATE corrections SET consumed_by_model_id = $1 WHERE consumed_by_model_id IS NULL AND id <= $2
                """, [modelID, lastCorrectionID]).affectedRows
            if report.outcome == .promoted {
                try ModelRepository.promote(id: modelID, on: connection)
                let tracks = try connection.query("SELECT id FROM tracks WHERE status <> 'gone' ORDER BY id")
                final.retagJobs = try JobQueue.enqueue(kind: JobKind.tag, trackIDs: (0..<tracks.rowCount).map { try tracks.int($0, 0) },
                                                       on: connection)
            }
            try connection.query("UPDATE models SET metrics = $2::jsonb WHERE id = $1", [modelID, final.metricsJSON])
            try JobQueue.complete(jobID: job.id, owner: owner, on: connection)
        }
        report = final
    }

    /// Tracks with corrections: the latest correction of each label, whoever made it.
    func correctedTracks() throws -> (tracks: [LabeledTrack], lastCorrectionID: Int64) {
        try database.pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT c.track_id, l.root_path || '/' || t.path, t.content_hash, c.label, c.action, c.id FROM (
                    SELECT DISTINCT ON (track_id, label) id, track_id, label, action FROM corrections
                    ORDER BY track_id, label, created_at DESC, id DESC
                ) c JOIN tracks t ON t.id = c.track_id JOIN libraries l ON l.id = t.library_id
                WHERE t.status <> 'gone' ORDER BY c.track_id, c.label
                """)
            var tracks: [LabeledTrack] = []
            for row in 0..<rows.rowCount {
                let id = try rows.int(row, 0)
                if tracks.last?.id != id {
                    tracks.append(LabeledTrack(id: id, path: try rows.string(row, 1), contentHash: try rows.bytes(row, 2), corrections: [:]))
                }
                tracks[tracks.count - 1].corrections[try rows.string(row, 3)] = try rows.string(row, 4) == CorrectionAction.added.rawValue
            }
            let last = try connection.query("SELECT coalesce(max(id), 0) FROM corrections").int(0, 0)
            return (tracks, last)
        }
    }

    /// `count` tagged tracks without corrections, in an order fixed by `seed`.
    func replayTracks(excluding: [Int64], count: Int, seed: UInt64) throws -> [LabeledTrack] {
        guard count > 0 else { return [] }
        return try database.pool.withConnection { connection in
            let rows = try connection.query("""
                SELECT t.id, l.root_path || '/' || t.path, t.content_hash FROM tracks t JOIN libraries l ON l.id = t.library_id
                WHERE t.status = 'tagged' AND NOT (t.id = ANY($1::bigint[]))
                ORDER BY md5(t.id::text || ':' || $2::text), t.id LIMIT $3
                """, [excluding, "\(seed)", count])
            return try (0..<rows.rowCount).map {
                LabeledTrack(id: try rows.int($0, 0), path: try rows.string($0, 1), contentHash: try rows.bytes($0, 2), corrections: [:])
            }
        }
    }

    /// Chunks of each file on `concurrency` threads; nil where the file cannot be read.
    private func features(_ files: [(path: String, hash: [UInt8])], cache: SpectrogramCache) -> [ChunkBatch?] {
        let results = UnsafeSlots<ChunkBatch>(count: files.count)
        let logger = self.logger
        let threads = min(concurrency, max(1, files.count))
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            for i in stride(from: worker, to: files.count, by: threads) {
                do { results.set(i, try cache.chunks(path: files[i].path, contentHash: files[i].hash)) } catch {
                    logger.warning("retraining leaves out \(files[i].path): \(error)")
                }
            }
        }
        return results.values
    }

    static func json(_ fields: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(fields)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Results written by several threads, each to its own index.
private final class UnsafeSlots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: T) { lock.lock(); slots[index] = value; lock.unlock() }
    var values: [T?] { lock.lock(); defer { lock.unlock() }; return slots }
}
