/// The multi-label metrics Timbre reports for a model on a labelled set, with
/// scikit-learn's definitions (checked against scikit-learn fixtures).
///
/// Threshold metrics use `probability >= threshold` as a positive prediction and
/// scikit-learn's `zero_division=0`: a ratio with an empty denominator counts 0.
/// Ranking metrics (ROC-AUC, PR-AUC = average precision) use the probabilities
/// directly; a label whose targets are all one class has no ROC-AUC/PR-AUC and is
/// left out of the macro averages (scikit-learn raises there instead).
public struct MultiLabelMetrics: Codable, Sendable, Equatable {
    public var threshold: Float
    public var samples: Int
    public var hammingLoss: Double
    public var jaccardSamples: Double
    public var f1Samples: Double, f1Micro: Double, f1Macro: Double
    public var precisionSamples: Double, precisionMicro: Double, precisionMacro: Double
    public var recallSamples: Double, recallMicro: Double, recallMacro: Double
    /// nil when no label has both classes in the targets.
    public var rocAucMacro: Double?, rocAucMicro: Double?
    public var prAucMacro: Double?, prAucMicro: Double?
    public var perLabel: [LabelMetrics]

    enum CodingKeys: String, CodingKey {
        case threshold, samples, perLabel = "per_label"
        case hammingLoss = "hamming_loss", jaccardSamples = "jaccard_samples"
        case f1Samples = "f1_samples", f1Micro = "f1_micro", f1Macro = "f1_macro"
        case precisionSamples = "precision_samples", precisionMicro = "precision_micro", precisionMacro = "precision_macro"
        case recallSamples = "recall_samples", recallMicro = "recall_micro", recallMacro = "recall_macro"
        case rocAucMacro = "roc_auc_macro", rocAucMicro = "roc_auc_micro"
        case prAucMacro = "pr_auc_macro", prAucMicro = "pr_auc_micro"
    }
}

/// One label's row of the per-tag table.
public struct LabelMetrics: Codable, Sendable, Equatable {
    public var label: String
    public var support: Int
    public var precision: Double, recall: Double, f1: Double
    public var rocAuc: Double?, prAuc: Double?

    enum CodingKeys: String, CodingKey {
        case label, support, precision, recall, f1, rocAuc = "roc_auc", prAuc = "pr_auc"
    }
}

public enum MetricsError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(probabilities: Int, targets: Int, labels: Int)
    case empty

    public var description: String {
        switch self {
        case .shapeMismatch(let p, let t, let l):
            return "metrics: \(p) probabilities and \(t) targets do not form rows of \(l) labels each"
        case .empty: return "metrics: no samples to evaluate"
        }
    }
}

extension MultiLabelMetrics {
    /// - Parameters:
    ///   - probabilities: row-major (samples × labels.count) sigmoid outputs.
    ///   - targets: the same shape; a target counts as positive when ≥ 0.5 (soft labels allowed).
    public static func compute(
        probabilities: [Float], targets: [Float], labels: [String], threshold: Float = 0.5
    ) throws(MetricsError) -> MultiLabelMetrics {
        let l = labels.count
        guard l > 0, probabilities.count == targets.count, probabilities.count % l == 0 else {
            throw .shapeMismatch(probabilities: probabilities.count, targets: targets.count, labels: l)
        }
        let n = probabilities.count / l
        guard n > 0 else { throw .empty }
        let truth = targets.map { $0 >= 0.5 }
        let predicted = probabilities.map { $0 >= threshold }

        var tp = [Int](repeating: 0, count: l), fp = tp, fn = tp
        var wrong = 0
        var jaccard = 0.0, f1s = 0.0, precisionS = 0.0, recallS = 0.0
        for i in 0..<n {
            var rowTP = 0, rowP = 0, rowT = 0
            for j in 0..<l {
                let t = truth[i * l + j], p = predicted[i * l + j]
                if t && p { tp[j] += 1; rowTP += 1 }
                if !t && p { fp[j] += 1 }
                if t && !p { fn[j] += 1 }
                if t != p { wrong += 1 }
                if t { rowT += 1 }
                if p { rowP += 1 }
            }
            let union = rowP + rowT - rowTP
            jaccard += ratio(rowTP, union)
            f1s += ratio(2 * rowTP, rowP + rowT)
            precisionS += ratio(rowTP, rowP)
            recallS += ratio(rowTP, rowT)
        }
        let sumTP = tp.reduce(0, +), sumFP = fp.reduce(0, +), sumFN = fn.reduce(0, +)

        var perLabel: [LabelMetrics] = []
        var labelScores = [Float](repeating: 0, count: n)
        var labelTruth = [Bool](repeating: false, count: n)
        for j in 0..<l {
            for i in 0..<n { labelScores[i] = probabilities[i * l + j]; labelTruth[i] = truth[i * l + j] }
            perLabel.append(LabelMetrics(
                label: labels[j], support: tp[j] + fn[j],
                precision: ratio(tp[j], tp[j] + fp[j]), recall: ratio(tp[j], tp[j] + fn[j]),
                f1: ratio(2 * tp[j], 2 * tp[j] + fp[j] + fn[j]),
                rocAuc: RankingMetrics.rocAuc(scores: labelScores, truth: labelTruth),
                prAuc: RankingMetrics.averagePrecision(scores: labelScores, truth: labelTruth)))
        }
        return MultiLabelMetrics(
            threshold: threshold, samples: n,
            hammingLoss: Double(wrong) / Double(n * l),
            jaccardSamples: jaccard / Double(n),
            f1Samples: f1s / Double(n), f1Micro: ratio(2 * sumTP, 2 * sumTP + sumFP + sumFN),
            f1Macro: mean(perLabel.map(\.f1)),
            precisionSamples: precisionS / Double(n), precisionMicro: ratio(sumTP, sumTP + sumFP),
            precisionMacro: mean(perLabel.map(\.precision)),
            recallSamples: recallS / Double(n), recallMicro: ratio(sumTP, sumTP + sumFN),
            recallMacro: mean(perLabel.map(\.recall)),
            rocAucMacro: optionalMean(perLabel.compactMap(\.rocAuc)),
            rocAucMicro: RankingMetrics.rocAuc(scores: probabilities, truth: truth),
            prAucMacro: optionalMean(perLabel.compactMap(\.prAuc)),
            prAucMicro: RankingMetrics.averagePrecision(scores: probabilities, truth: truth),
            perLabel: perLabel)
    }
}

private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
private func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
private func optionalMean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : mean(xs) }
