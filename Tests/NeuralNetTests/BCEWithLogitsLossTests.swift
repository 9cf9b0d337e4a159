import XCTest
@testable import NeuralNet

final class BCEWithLogitsLossTests: XCTestCase {
    func testMatchesPyTorchWithAndWithoutPosWeight() throws {
        let fixture = try ModelFixtures.load("bce")
        let logits = try fixture.tensor(named: "logits"), targets = try fixture.tensor(named: "targets")
        let posWeight = try fixture.tensor(named: "pos_weight").data
        for (suffix, loss) in [("", BCEWithLogitsLoss()), (".pw", BCEWithLogitsLoss(posWeight: posWeight))] {
            let (value, gradient) = try loss(logits: logits, targets: targets)
            let expected = try fixture.tensor(named: "loss\(suffix)").data[0]
            XCTAssertEqual(value, expected, accuracy: 1e-6 * Swift.abs(expected), "loss\(suffix)")
            assertClose(gradient, try fixture.tensor(named: "grad\(suffix)"), rel: 1e-6, "grad\(suffix)")
        }
    }

    func testGradientMatchesCentralDifferences() throws {
        let logits = try Tensor(shape: [3, 4], data: [-3, -1, -0.2, 0, 0.3, 1.5, 2.5, -2, 0.7, -0.6, 4, -4.5])
        let targets = try Tensor(shape: [3, 4], data: [0, 1, 0.3, 0.5, 1, 0, 0.9, 0.1, 0.25, 0.75, 1, 0])
        let loss = BCEWithLogitsLoss(posWeight: [0.5, 1, 2, 3.5])
        let gradient = try loss(logits: logits, targets: targets).gradient
        let h: Float = 1e-2
        for i in 0..<logits.count {
            var plus = logits, minus = logits
            plus.data[i] += h
            minus.data[i] -= h
            let numeric = (try loss(logits: plus, targets: targets).loss - loss(logits: minus, targets: targets).loss) / (2 * h)
            XCTAssertEqual(gradient.data[i], numeric, accuracy: 2e-4, "element \(i)")
        }
    }

    func testSaturatedLogitsGiveFiniteLossAndExactLimits() throws {
        let logits = try Tensor(shape: [1, 4], data: [1e4, -1e4, 1e4, -1e4])
        let targets = try Tensor(shape: [1, 4], data: [1, 0, 0, 1])
        let (loss, gradient) = try BCEWithLogitsLoss()(logits: logits, targets: targets)
        // Right answers cost nothing, wrong ones cost |x|: (0 + 0 + 1e4 + 1e4) / 4.
        XCTAssertEqual(loss, 5000, accuracy: 1e-3)
        XCTAssertEqual(gradient.data, [0, 0, 0.25, -0.25])
    }

    func testRejectsMismatchedShapes() throws {
        let logits = Tensor(zeros: [2, 3])
        XCTAssertThrowsError(try BCEWithLogitsLoss()(logits: logits, targets: Tensor(zeros: [2, 4])))
        XCTAssertThrowsError(try BCEWithLogitsLoss(posWeight: [1, 2])(logits: logits, targets: Tensor(zeros: [2, 3])))
    }
}
