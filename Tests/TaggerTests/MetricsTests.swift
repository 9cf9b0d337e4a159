import Foundation
import XCTest
@testable import Tagger

/// Metrics against scikit-learn (Tests/Fixtures/metrics, from tools/golden/make_metric_fixtures.py)
/// and against small cases worked out by hand.
final class MetricsTests: XCTestCase {
    struct Fixture: Decodable {
        let threshold: Float, num_samples: Int, num_labels: Int
        let probabilities: [Float], targets: [Float]
        let hamming_loss, jaccard_samples, f1_samples, f1_micro, f1_macro: Double
        let precision_samples, precision_micro, precision_macro: Double
        let recall_samples, recall_micro, recall_macro: Double
        let roc_auc_macro, roc_auc_micro, pr_auc_macro, pr_auc_micro: Double
        let per_label_precision, per_label_recall, per_label_f1, per_label_roc_auc, per_label_pr_auc: [Double]
        let per_label_support: [Int]
    }

    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    func testMatchesScikitLearn() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("metrics/multilabel_metrics.json"))
        let f = try JSONDecoder().decode(Fixture.self, from: data)
        let labels = (0..<f.num_labels).map { "tag\($0)" }
        let m = try MultiLabelMetrics.compute(
            probabilities: f.probabilities, targets: f.targets, labels: labels, threshold: f.threshold)
        let tol = 1e-9
        XCTAssertEqual(m.samples, f.num_samples)
        XCTAssertEqual(m.hammingLoss, f.hamming_loss, accuracy: tol)
        XCTAssertEqual(m.jaccardSamples, f.jaccard_samples, accuracy: tol)
        XCTAssertEqual(m.f1Samples, f.f1_samples, accuracy: tol)
        XCTAssertEqual(m.f1Micro, f.f1_micro, accuracy: tol)
        XCTAssertEqual(m.f1Macro, f.f1_macro, accuracy: tol)
        XCTAssertEqual(m.precisionSamples, f.precision_samples, accuracy: tol)
        XCTAssertEqual(m.precisionMicro, f.precision_micro, accuracy: tol)
        XCTAssertEqual(m.precisionMacro, f.precision_macro, accuracy: tol)
        XCTAssertEqual(m.recallSamples, f.recall_samples, accuracy: tol)
        XCTAssertEqual(m.recallMicro, f.recall_micro, accuracy: tol)
        XCTAssertEqual(m.recallMacro, f.recall_macro, accuracy: tol)
        XCTAssertEqual(try XCTUnwrap(m.rocAucMacro), f.roc_auc_macro, accuracy: tol)
        XCTAssertEqual(try XCTUnwrap(m.rocAucMicro), f.roc_auc_micro, accuracy: tol)
        XCTAssertEqual(try XCTUnwrap(m.prAucMacro), f.pr_auc_macro, accuracy: tol)
        XCTAssertEqual(try XCTUnwrap(m.prAucMicro), f.pr_auc_micro, accuracy: tol)
        for (j, row) in m.perLabel.enumerated() {
            XCTAssertEqual(row.label, labels[j])
            XCTAssertEqual(row.support, f.per_label_support[j])
            XCTAssertEqual(row.precision, f.per_label_precision[j], accuracy: tol)
            XCTAssertEqual(row.recall, f.per_label_recall[j], accuracy: tol)
            XCTAssertEqual(row.f1, f.per_label_f1[j], accuracy: tol)
            XCTAssertEqual(try XCTUnwrap(row.rocAuc), f.per_label_roc_auc[j], accuracy: tol)
            XCTAssertEqual(try XCTUnwrap(row.prAuc), f.per_label_pr_auc[j], accuracy: tol)
        }
    }

    /// Two samples, two labels, worked by hand.
    func testHandComputedCase() throws {
        // sample 0: truth {a}, predicted {a, b}; sample 1: truth {b}, predicted {}.
        let m = try MultiLabelMetrics.compute(
            probabilities: [0.9, 0.6, 0.1, 0.2], targets: [1, 0, 0, 1], labels: ["a", "b"])
        XCTAssertEqual(m.hammingLoss, 2.0 / 4.0)
        XCTAssertEqual(m.jaccardSamples, (1.0 / 2.0 + 0) / 2)
        XCTAssertEqual(m.precisionSamples, (1.0 / 2.0 + 0) / 2)
        XCTAssertEqual(m.recallSamples, (1.0 + 0) / 2)
        XCTAssertEqual(m.f1Micro, 2.0 * 1 / (2.0 * 1 + 1 + 1))
        XCTAssertEqual(m.perLabel[0].f1, 1)
        XCTAssertEqual(m.perLabel[1].f1, 0)
        XCTAssertEqual(m.f1Macro, 0.5)
        // Label a: the positive (0.9) outranks the negative (0.1); label b: 0.2 (pos) > 0.6 (neg) fails.
        XCTAssertEqual(m.perLabel[0].rocAuc, 1)
        XCTAssertEqual(m.perLabel[1].rocAuc, 0)
    }

    func testTiesCountHalfAndOneClassLabelsAreLeftOut() throws {
        XCTAssertEqual(RankingMetrics.rocAuc(scores: [0.5, 0.5], truth: [true, false]), 0.5)
        XCTAssertNil(RankingMetrics.rocAuc(scores: [0.1, 0.7], truth: [true, true]))
        XCTAssertNil(RankingMetrics.averagePrecision(scores: [0.1, 0.7], truth: [false, false]))
        // AP with a tie at the top: one threshold, precision 1/2, recall 1.
        XCTAssertEqual(RankingMetrics.averagePrecision(scores: [0.8, 0.8], truth: [true, false]), 0.5)
        let m = try MultiLabelMetrics.compute(
            probabilities: [0.9, 0.2, 0.3, 0.4], targets: [1, 1, 0, 1], labels: ["x", "always"])
        XCTAssertNil(m.perLabel[1].rocAuc)
        XCTAssertEqual(m.rocAucMacro, m.perLabel[0].rocAuc)
    }

    func testShapeErrorsAreReported() {
        XCTAssertThrowsError(try MultiLabelMetrics.compute(probabilities: [0.1, 0.2, 0.3], targets: [1, 0, 1], labels: ["a", "b"])) {
            XCTAssertEqual($0 as? MetricsError, .shapeMismatch(probabilities: 3, targets: 3, labels: 2))
        }
        XCTAssertThrowsError(try MultiLabelMetrics.compute(probabilities: [], targets: [], labels: ["a"]))
    }
}
