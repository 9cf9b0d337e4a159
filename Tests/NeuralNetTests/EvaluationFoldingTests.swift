import NeuralNet
import XCTest

/// Evaluation's folded passes give exactly the values of the layers run one after the other.
final class EvaluationFoldingTests: XCTestCase {
    /// A BatchNorm with running statistics and affine parameters far from their defaults.
    func trainedNorm(channels: Int, rng: inout SeededGenerator) -> BatchNorm {
        let norm = BatchNorm2d(name: "bn", numFeatures: channels)
        for c in 0..<channels {
            norm.weight.value.data[c] = 0.5 + rng.nextUnitFloat()
            norm.bias.value.data[c] = rng.uniform(bound: 0.5)
            norm.runningMean.value.data[c] = rng.uniform(bound: 0.3)
            norm.runningVar.value.data[c] = 0.2 + rng.nextUnitFloat()
        }
        return norm
    }

    func check(inChannels: Int, outChannels: Int, size: Int, stride: Int, batch: Int, relu: Bool, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let conv = Conv2d(name: "c", inChannels: inChannels, outChannels: outChannels, kernelSize: 3, stride: stride,
                          padding: 1, bias: false, rng: &rng)
        let norm = trainedNorm(channels: outChannels, rng: &rng)
        let h = LayerHarness(shape: ActivationShape(batch: batch, channels: inChannels, height: size, width: size))
        let activation = ReLU()   // kept alive: its output lives in its own buffer
        var a = try conv.forward(h.activation, training: false)
        a = try norm.forward(a, training: false)
        if relu { a = try activation.forward(a, training: false) }
        let separate = Array(a.buffer)
        XCTAssertTrue(separate.contains { $0 < 0 } != relu, "the data should exercise the ReLU")
        let folded = try conv.forwardEvaluation(h.activation, normalizedBy: norm, relu: relu)
        XCTAssertEqual(folded.shape, a.shape)
        XCTAssertEqual(Array(folded.buffer), separate)
    }

    /// Large planes: the map is applied after each sample's GEMM.
    func testPerSampleConvolutionFoldsNormAndReLU() throws {
        try check(inChannels: 3, outChannels: 4, size: 20, stride: 1, batch: 3, relu: true, seed: 41)
        try check(inChannels: 3, outChannels: 4, size: 20, stride: 1, batch: 3, relu: false, seed: 42)
    }

    /// Small planes: the map is applied while the grouped product is permuted to NCHW.
    func testGroupedConvolutionFoldsNormAndReLU() throws {
        try check(inChannels: 8, outChannels: 5, size: 7, stride: 2, batch: 6, relu: true, seed: 43)
        try check(inChannels: 8, outChannels: 5, size: 7, stride: 2, batch: 6, relu: false, seed: 44)
    }

    func testFoldingRefusesAMismatchedNorm() {
        var rng = SeededGenerator(seed: 45)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, bias: false, rng: &rng)
        let h = LayerHarness(shape: ActivationShape(batch: 1, channels: 2, height: 4, width: 4))
        XCTAssertThrowsError(try conv.forwardEvaluation(h.activation, normalizedBy: BatchNorm2d(name: "bn", numFeatures: 4), relu: true))
    }

    func testResidualSumWithReLU() throws {
        let shape = ActivationShape(batch: 2, channels: 3, height: 5, width: 5)
        let a = LayerHarness(shape: shape), b = LayerHarness(shape: shape) { rng, _ in rng.uniform(bound: 2) - 0.5 }
        let first = Addition(), second = Addition()
        let plain = Array(try first.forward(a.activation, b.activation).buffer)
        let folded = Array(try second.forward(a.activation, b.activation, relu: true).buffer)
        XCTAssertTrue(plain.contains { $0 < 0 })
        XCTAssertEqual(folded, plain.map { max($0, 0) })
    }
}
