import XCTest
@testable import NeuralNet

/// The mask of `BCEWithLogitsLoss`: unknown targets add nothing, the mean is over known ones.
final class MaskedBCETests: XCTestCase {
    let logits = try! Tensor(shape: [3, 4], data: [-3, -1, -0.2, 0, 0.3, 1.5, 2.5, -2, 0.7, -0.6, 4, -4.5])
    let targets = try! Tensor(shape: [3, 4], data: [0, 1, 0.3, 0.5, 1, 0, 0.9, 0.1, 0.25, 0.75, 1, 0])
    let mask = try! Tensor(shape: [3, 4], data: [1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0])

    /// An all-ones mask is the PyTorch-golden unmasked loss, bit for bit.
    func testAllOnesMaskIsTheUnmaskedLoss() throws {
        let loss = BCEWithLogitsLoss(posWeight: [0.5, 1, 2, 3.5])
        let plain = try loss(logits: logits, targets: targets)
        let ones = try loss(logits: logits, targets: targets, mask: Tensor(shape: [3, 4], data: [Float](repeating: 1, count: 12)))
        XCTAssertEqual(plain.loss, ones.loss)
        XCTAssertEqual(plain.gradient.data, ones.gradient.data)
    }

    /// The masked loss is the plain loss of the known elements alone (each as a 1×1 batch, averaged).
    func testMaskedLossIsTheMeanOverKnownElements() throws {
        let loss = BCEWithLogitsLoss()
        let masked = try loss(logits: logits, targets: targets, mask: mask)
        var sum: Float = 0, known: Float = 0
        for i in 0..<12 where mask.data[i] == 1 {
            sum += try loss(logits: Tensor(shape: [1, 1], data: [logits.data[i]]), targets: Tensor(shape: [1, 1], data: [targets.data[i]])).loss
            known += 1
        }
        XCTAssertEqual(masked.loss, sum / known, accuracy: 1e-6)
        for i in 0..<12 where mask.data[i] == 0 { XCTAssertEqual(masked.gradient.data[i], 0, "masked element \(i) gets no gradient") }
    }

    func testMaskedGradientMatchesCentralDifferences() throws {
        let loss = BCEWithLogitsLoss(posWeight: [0.5, 1, 2, 3.5])
        let gradient = try loss(logits: logits, targets: targets, mask: mask).gradient
        let h: Float = 1e-2
        for i in 0..<logits.count {
            var plus = logits, minus = logits
            plus.data[i] += h
            minus.data[i] -= h
            let numeric = (try loss(logits: plus, targets: targets, mask: mask).loss
                           - loss(logits: minus, targets: targets, mask: mask).loss) / (2 * h)
            XCTAssertEqual(gradient.data[i], numeric, accuracy: 2e-4, "element \(i)")
        }
    }

    func testNothingKnownCostsNothingAndWrongMaskShapeIsAnError() throws {
        let result = try BCEWithLogitsLoss()(logits: logits, targets: targets, mask: Tensor(zeros: [3, 4]))
        XCTAssertEqual(result.loss, 0)
        XCTAssertEqual(result.gradient.data, [Float](repeating: 0, count: 12))
        XCTAssertThrowsError(try BCEWithLogitsLoss()(logits: logits, targets: targets, mask: Tensor(zeros: [3, 3])))
    }
}
