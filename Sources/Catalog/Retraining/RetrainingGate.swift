import Foundation
import Tagger

/// What a retraining run did and why its model was promoted or rejected; stored as
/// `models.metrics.retraining` of the model it made, shown by `timbre model show` and the
/// web UI's models page.
public struct RetrainingReport: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable { case promoted, rejected }

    public struct Counts: Codable, Sendable, Equatable {
        /// Latest corrections (one per track and label) the run learned from.
        public var corrections = 0
        public var correctedTracks = 0
        public var trainCorrected = 0, validationCorrected = 0, gateCorrected = 0
        public var trainReplay = 0, validationReplay = 0, gateReplay = 0
        /// Tracks left out because their file could not be read.
        public var unreadable = 0
        enum CodingKeys: String, CodingKey {
            case corrections, correctedTracks = "corrected_tracks", trainCorrected = "train_corrected"
            case validationCorrected = "validation_corrected", gateCorrected = "gate_corrected", trainReplay = "train_replay"
            case validationReplay = "validation_replay", gateReplay = "gate_replay", unreadable
        }
    }

    /// One label's held-out corrections, before (active model) and after (candidate).
    public struct TagReport: Codable, Sendable, Equatable {
        public var label: String
        public var isNew: Bool
        public var corrections: Int
        public var added: Int
        public var accuracyBefore: Double
        public var accuracyAfter: Double
        /// Mean probability of the corrected direction (p for added, 1 − p for removed).
        public var agreementBefore: Double
        public var agreementAfter: Double
        public var rocAucBefore: Double?
        public var rocAucAfter: Double?
        enum CodingKeys: String, CodingKey {
            case label, isNew = "new", corrections, added, accuracyBefore = "accuracy_before", accuracyAfter = "accuracy_after"
            case agreementBefore = "agreement_before", agreementAfter = "agreement_after"
            case rocAucBefore = "roc_auc_before", rocAucAfter = "roc_auc_after"
        }
    }

    public struct Gate: Codable, Sendable, Equatable {
        /// Held-out (track, corrected label) pairs.
        public var pairs = 0
        public var correctBefore = 0, correctAfter = 0
        /// Pairs only the candidate gets right, and only the active model.
        public var wins = 0, losses = 0
        /// One-sided sign test: P(at least `wins` of `wins + losses` by chance).
        public var pValue = 1.0
        public var logLossBefore = 0.0, logLossAfter = 0.0
        /// Held-out replay decisions (track × old label no one corrected, tag or not at 0.5) the candidate changes.
        public var replayPairs = 0
        public var replayDisagreement = 0.0
        public var replayMeanAbsoluteChange = 0.0
        public var significance = 0.0
        public var maxReplayDisagreement = 0.0
        public var tags: [TagReport] = []
        enum CodingKeys: String, CodingKey {
            case pairs, correctBefore = "correct_before", correctAfter = "correct_after", wins, losses, pValue = "p_value"
            case logLossBefore = "log_loss_before", logLossAfter = "log_loss_after", replayPairs = "replay_pairs"
            case replayDisagreement = "replay_disagreement", replayMeanAbsoluteChange = "replay_mean_absolute_change"
            case significance, maxReplayDisagreement = "max_replay_disagreement", tags
        }
    }

    public var outcome: Outcome
    public var reason: String
    public var parent: String
    public var jobID: Int64
    public var newLabels: [String]
    /// User tags with too few positive corrections for an output yet: label → tracks.
    public var waitingLabels: [String: Int]
    public var counts: Counts
    public var gate: Gate
    public var fineTune: FineTuneConfig
    public var history: [FineTuneEpoch]
    public var bestEpoch: Int
    public var trainableParameters: Int
    /// Corrections first used by this run (`corrections.consumed_by_model_id`).
    public var consumedCorrections = 0
    public var retagJobs = 0
    public var seconds: Double
    /// The model refit on every corrected track after a promotion (nil: none was made).
    public var refit: Refit?

    public struct Refit: Codable, Sendable, Equatable {
        /// Tracks it trained on (all corrected, train and validation replay).
        public var tracks: Int
        public var epochs: Int
        /// Share of the held-out replay decisions it changes.
        public var replayDisagreement: Double
        /// Whether it is the model promoted (else the gated candidate is).
        public var promoted: Bool
        enum CodingKeys: String, CodingKey { case tracks, epochs, replayDisagreement = "replay_disagreement", promoted }
    }

    enum CodingKeys: String, CodingKey {
        case outcome, reason, parent, jobID = "job_id", newLabels = "new_labels", waitingLabels = "waiting_labels", counts, gate
        case fineTune = "fine_tune", history, bestEpoch = "best_epoch", trainableParameters = "trainable_parameters"
        case consumedCorrections = "consumed_corrections", retagJobs = "retag_jobs", seconds, refit
    }

    /// The report inside a model's `metrics` JSON, if it has one.
    public static func from(metrics: String) -> RetrainingReport? {
        struct Wrapper: Decodable { let retraining: RetrainingReport }
        return try? JSONDecoder().decode(Wrapper.self, from: Data(metrics.utf8)).retraining
    }

    /// `{"retraining": report}`: what `models.metrics` holds.
    var metricsJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let body = (try? encoder.encode(["retraining": self])).map { String(decoding: $0, as: UTF8.self) }
        return body ?? "{}"
    }
}

/// The promotion gate: the candidate against the active model on tracks neither trained on.
///
/// 1. Held-out corrected tracks, the labels users corrected: a decision (tag at p ≥ 0.5; the
///    active model never tags a label it does not have) is right when it follows the
///    correction. The candidate must win more pairs than it loses, and a one-sided sign test
///    over the pairs where the two differ must reach `significance`: corrections that
///    contradict each other teach nothing, and a lucky few flips do not promote a model.
/// 2. Held-out replay tracks (uncorrected), the active model's labels that no correction
///    touched: the candidate may change at most `maxReplayDisagreement` of the active model's
///    decisions (what users did not correct should stay as it was).
struct RetrainingGate {
    struct Pair { let probabilityBefore: Float?; let probabilityAfter: Float; let added: Bool; let label: String; let isNew: Bool }

    var significance: Double
    var maxReplayDisagreement: Double

    func evaluate(corrected pairs: [Pair], replay: [(before: [Float], after: [Float])]) -> (promote: Bool, reason: String, gate: RetrainingReport.Gate) {
        var gate = RetrainingReport.Gate()
        gate.significance = significance
        gate.maxReplayDisagreement = maxReplayDisagreement
        gate.pairs = pairs.count
        var lossBefore = 0.0, lossAfter = 0.0
        for pair in pairs {
            let before = pair.probabilityBefore.map { ($0 >= 0.5) == pair.added } ?? !pair.added
            let after = (pair.probabilityAfter >= 0.5) == pair.added
            gate.correctBefore += before ? 1 : 0
            gate.correctAfter += after ? 1 : 0
            if after && !before { gate.wins += 1 }
            if before && !after { gate.losses += 1 }
            lossBefore += Self.logLoss(pair.probabilityBefore ?? 0.5, pair.added)
            lossAfter += Self.logLoss(pair.probabilityAfter, pair.added)
        }
        gate.logLossBefore = pairs.isEmpty ? 0 : lossBefore / Double(pairs.count)
        gate.logLossAfter = pairs.isEmpty ? 0 : lossAfter / Double(pairs.count)
        gate.pValue = Self.signTest(wins: gate.wins, losses: gate.losses)
        var changed = 0, absolute = 0.0
        for track in replay {
            for (b, a) in zip(track.before, track.after) {
                gate.replayPairs += 1
                if (b >= 0.5) != (a >= 0.5) { changed += 1 }
                absolute += Double(abs(a - b))
            }
        }
        gate.replayDisagreement = gate.replayPairs == 0 ? 0 : Double(changed) / Double(gate.replayPairs)
        gate.replayMeanAbsoluteChange = gate.replayPairs == 0 ? 0 : absolute / Double(gate.replayPairs)
        gate.tags = Self.perTag(pairs)

        let f = { (x: Double) in String(format: "%.3g", x) }
        let better = gate.wins > gate.losses && gate.pValue <= significance
        let kept = gate.replayDisagreement <= maxReplayDisagreement
        let first = "held-out corrections: \(gate.correctAfter)/\(gate.pairs) right after, \(gate.correctBefore) before "
            + "(\(gate.wins) won, \(gate.losses) lost, sign test p = \(f(gate.pValue)), needed ≤ \(f(significance)))"
        let second = "replay: \(f(100 * gate.replayDisagreement))% of \(gate.replayPairs) decisions changed (at most \(f(100 * maxReplayDisagreement))%)"
        switch (better, kept) {
        case (true, true): return (true, "promoted: better on \(first); \(second)", gate)
        case (false, _): return (false, "rejected: not better on \(first); \(second)", gate)
        case (true, false): return (false, "rejected: forgets too much: \(second); \(first)", gate)
        }
    }

    static func logLoss(_ p: Float, _ added: Bool) -> Double {
        let q = min(max(Double(p), 1e-7), 1 - 1e-7)
        return added ? -log(q) : -log(1 - q)
    }

    /// P(X ≥ wins) for X ~ Binomial(wins + losses, 1/2); 1 when no pair differs.
    static func signTest(wins: Int, losses: Int) -> Double {
        let n = wins + losses
        guard n > 0 else { return 1 }
        var total = 0.0
        for k in wins...n { total += exp(logChoose(n, k) - Double(n) * log(2)) }
        return min(1, total)
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double { lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1)) }

    static func perTag(_ pairs: [Pair]) -> [RetrainingReport.TagReport] {
        Dictionary(grouping: pairs, by: \.label).map { label, group in
            let n = Double(group.count)
            let before = group.map { $0.probabilityBefore ?? 0 }, after = group.map(\.probabilityAfter), truth = group.map(\.added)
            func accuracy(_ p: [Float]) -> Double {
                Double(zip(p, truth).filter { ($0.0 >= 0.5) == $0.1 }.count) / n
            }
            func agreement(_ p: [Float]) -> Double { zip(p, truth).reduce(0.0) { $0 + Double($1.1 ? $1.0 : 1 - $1.0) } / n }
            let isNew = group[0].isNew
            return RetrainingReport.TagReport(
                label: label, isNew: isNew, corrections: group.count, added: truth.filter { $0 }.count,
                accuracyBefore: accuracy(before), accuracyAfter: accuracy(after),
                agreementBefore: isNew ? 0.5 : agreement(before), agreementAfter: agreement(after),
                rocAucBefore: isNew ? nil : RankingMetrics.rocAuc(scores: before, truth: truth),
                rocAucAfter: RankingMetrics.rocAuc(scores: after, truth: truth))
        }.sorted { $0.label < $1.label }
    }
}
