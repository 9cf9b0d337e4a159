import Catalog

/// A label with the probability the active model gives it (1 for a label only a user gave).
public struct ScoredLabel: Sendable, Equatable, Codable {
    public var label: String
    public var probability: Float
    public init(label: String, probability: Float) { self.label = label; self.probability = probability }
}

/// A track's tags for one user: what the model predicted, what the user corrected, and what
/// follows — the effective tags. Corrections override predictions (the latest of a label wins);
/// predicted labels count from `threshold` up.
public struct TrackTags: Sendable, Equatable {
    public static let defaultThreshold: Float = 0.5

    public var predicted: [String: Float]
    public var corrections: [String: CorrectionAction]
    public var threshold: Float

    public init(predicted: [String: Float], corrections: [String: CorrectionAction], threshold: Float = TrackTags.defaultThreshold) {
        self.predicted = predicted
        self.corrections = corrections
        self.threshold = threshold
    }

    /// Every predicted label, most likely first (ties by label).
    public var ranked: [ScoredLabel] {
        predicted.map { ScoredLabel(label: $0.key, probability: $0.value) }.sorted(by: Self.before)
    }

    /// The effective tags, most likely first; a label only a user added ranks as probability 1.
    public var effective: [ScoredLabel] {
        var labels: [ScoredLabel] = []
        for (label, probability) in predicted where probability >= threshold && corrections[label] != .removed {
            labels.append(ScoredLabel(label: label, probability: probability))
        }
        for (label, action) in corrections where action == .added && !(predicted[label].map { $0 >= threshold } ?? false) {
            labels.append(ScoredLabel(label: label, probability: predicted[label] ?? 1))
        }
        return labels.sorted(by: Self.before)
    }

    /// The `count` most likely effective tags.
    public func top(_ count: Int) -> [ScoredLabel] { Array(effective.prefix(max(0, count))) }

    static func before(_ a: ScoredLabel, _ b: ScoredLabel) -> Bool {
        a.probability != b.probability ? a.probability > b.probability : a.label < b.label
    }
}
