/// Threshold-free ranking metrics for one binary label, with scikit-learn's definitions.
public enum RankingMetrics {
    /// Area under the ROC curve: the probability that a random positive scores above a
    /// random negative, ties counting one half (Mann–Whitney U with mid-ranks; equal to
    /// scikit-learn's trapezoidal `roc_auc_score`). nil unless both classes occur.
    public static func rocAuc(scores: [Float], truth: [Bool]) -> Double? {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        let positives = truth.lazy.filter { $0 }.count
        let negatives = truth.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        var rankSumPositives = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && scores[order[end + 1]] == scores[order[start]] { end += 1 }
            let midRank = Double(start + end) / 2 + 1  // 1-based rank shared by the tie group
            for k in start...end where truth[order[k]] { rankSumPositives += midRank }
            start = end + 1
        }
        let u = rankSumPositives - Double(positives) * Double(positives + 1) / 2
        return u / (Double(positives) * Double(negatives))
    }

    /// Average precision, scikit-learn's `average_precision_score`: Σₙ (Rₙ − Rₙ₋₁) Pₙ over
    /// the distinct score thresholds from the highest down (no interpolation).
    /// nil when there is no positive.
    public static func averagePrecision(scores: [Float], truth: [Bool]) -> Double? {
        let positives = truth.lazy.filter { $0 }.count
        guard positives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, fp = 0
        var previousRecall = 0.0, ap = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && scores[order[end + 1]] == scores[order[start]] { end += 1 }
            for k in start...end { if truth[order[k]] { tp += 1 } else { fp += 1 } }
            let recall = Double(tp) / Double(positives)
            ap += (recall - previousRecall) * Double(tp) / Double(tp + fp)
            previousRecall = recall
            start = end + 1
        }
        return ap
    }
}
