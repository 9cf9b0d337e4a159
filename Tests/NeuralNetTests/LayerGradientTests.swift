import NeuralNet
import XCTest

/// Finite-difference checks of every layer's backward against its forward.
final class LayerGradientTests: XCTestCase {
    func testConv2dWithStridePaddingAndBias() throws {
        var rng = SeededGenerator(seed: 1)
        let conv = Conv2d(name: "conv", inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 1,
                          bias: true, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 7, width: 6))
        try harness.checkGradients(of: conv, training: true)
    }

    func testConv2dOneByOneWithoutBias() throws {
        var rng = SeededGenerator(seed: 2)
        let conv = Conv2d(name: "shortcut.0", inChannels: 4, outChannels: 3, kernelSize: 1, stride: 2, padding: 0,
                          bias: false, rng: &rng)
        XCTAssertNil(conv.bias)
        let harness = LayerHarness(shape: ActivationShape(batch: 3, channels: 4, height: 5, width: 5))
        try harness.checkGradients(of: conv, training: true)
    }

    func testConv2dSevenBySevenSingleSample() throws {
        var rng = SeededGenerator(seed: 3)
        let conv = Conv2d(name: "stem.0", inChannels: 1, outChannels: 2, kernelSize: 7, stride: 2, padding: 3,
                          bias: false, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 1, channels: 1, height: 9, width: 8))
        try harness.checkGradients(of: conv, training: true)
    }

    func testBatchNorm2dTraining() throws {
        let bn = BatchNorm2d(name: "bn", numFeatures: 3)
        randomizeAffine(bn)
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 3, width: 2))
        try harness.checkGradients(of: bn, training: true)
    }

    func testBatchNorm1dTraining() throws {
        let bn = BatchNorm1d(name: "embedding.1", numFeatures: 5)
        randomizeAffine(bn)
        let harness = LayerHarness(shape: ActivationShape(batch: 6, channels: 5))
        try harness.checkGradients(of: bn, training: true)
    }

    func testBatchNormEvaluation() throws {
        let bn = BatchNorm2d(name: "bn", numFeatures: 3)
        randomizeAffine(bn)
        bn.runningMean.value.data = [0.5, -0.2, 0.1]
        bn.runningVar.value.data = [2, 0.5, 1.5]
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 2, width: 2))
        try harness.checkGradients(of: bn, training: false)
    }

    func testReLU() throws {
        var rng = SeededGenerator(seed: 4)
        let values = distinctValues(count: 2 * 3 * 4 * 4, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 4, width: 4)) { _, i in values[i] }
        try harness.checkGradients(of: ReLU(), training: true, check: GradientCheck(eps: 1e-2, samples: 96))
    }

    func testSigmoid() throws {
        let harness = LayerHarness(shape: ActivationShape(batch: 3, channels: 5)) { rng, _ in rng.uniform(bound: 4) }
        try harness.checkGradients(of: Sigmoid(), training: true)
    }

    func testMaxPool2dWithPadding() throws {
        var rng = SeededGenerator(seed: 5)
        let values = distinctValues(count: 2 * 2 * 7 * 6, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 2, height: 7, width: 6)) { _, i in values[i] }
        try harness.checkGradients(of: MaxPool2d(kernelSize: 3, stride: 2, padding: 1), training: true,
                                   check: GradientCheck(samples: 168))
    }

    func testMaxPool2dDefaultStride() throws {
        var rng = SeededGenerator(seed: 6)
        let values = distinctValues(count: 2 * 3 * 5 * 4, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 5, width: 4)) { _, i in values[i] }
        try harness.checkGradients(of: MaxPool2d(kernelSize: 2), training: true, check: GradientCheck(samples: 120))
    }

    func testAvgPool2dWithPadding() throws {
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 2, height: 6, width: 5))
        try harness.checkGradients(of: AvgPool2d(kernelSize: 3, stride: 2, padding: 1), training: true)
    }

    func testGlobalAvgPool() throws {
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 4, width: 3))
        try harness.checkGradients(of: GlobalAvgPool(), training: true)
    }

    func testLinear() throws {
        var rng = SeededGenerator(seed: 7)
        let linear = Linear(name: "classifier", inFeatures: 6, outFeatures: 4, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 3, channels: 6))
        try harness.checkGradients(of: linear, training: true)
    }

    func testLinearFlattensSpatialInput() throws {
        var rng = SeededGenerator(seed: 8)
        let linear = Linear(name: "fc", inFeatures: 12, outFeatures: 2, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 2, width: 2))
        try harness.checkGradients(of: Sequential([Flatten(), linear]), training: true)
    }

    func testDropoutWithFixedMask() throws {
        let dropout = Dropout(probability: 0.4, seed: 11)
        let harness = LayerHarness(shape: ActivationShape(batch: 4, channels: 8))
        // Reseeding before every forward keeps the mask fixed across the finite differences.
        try harness.checkGradients(of: dropout, training: true, check: GradientCheck(samples: 32),
                                   beforeForward: { dropout.rng = SeededGenerator(seed: 99) })
    }

    func testChannelScale() throws {
        let x = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 2, width: 3))
        let s = LayerHarness(shape: ActivationShape(batch: 2, channels: 3)) { rng, _ in rng.nextUnitFloat() + 0.1 }
        let layer = ChannelScale()
        var rng = SeededGenerator(seed: 12)
        let outCount = x.shape.count
        let projection = (0..<outCount).map { _ in rng.uniform(bound: 1) }
        let loss = { () throws -> Double in
            let out = try layer.forward(x.activation, scale: s.activation)
            return (0..<outCount).reduce(0.0) { $0 + Double(projection[$1]) * Double(out.data[$1]) }
        }
        _ = try loss()
        var dout = projection
        let grads = try dout.withUnsafeMutableBufferPointer { try layer.backward($0.baseAddress!) }
        let dx = Array(UnsafeBufferPointer(start: grads.input, count: outCount))
        let ds = Array(UnsafeBufferPointer(start: grads.scale, count: s.shape.count))
        try GradientCheck().check("input", analytic: dx, perturb: { x.input.pointer[$0] += $1 }, loss: loss, rng: &rng)
        try GradientCheck().check("scale", analytic: ds, perturb: { s.input.pointer[$0] += $1 }, loss: loss, rng: &rng)
    }

    private func randomizeAffine(_ bn: BatchNorm) {
        var rng = SeededGenerator(seed: 13)
        for i in 0..<bn.numFeatures {
            bn.weight.value.data[i] = 0.5 + rng.nextUnitFloat()
            bn.bias.value.data[i] = rng.uniform(bound: 0.5)
        }
    }
}
