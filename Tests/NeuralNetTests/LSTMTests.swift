import Foundation
import XCTest
@testable import NeuralNet

/// `LSTM` (and the two sequence layers around it in the CNN + LSTM network): finite differences,
/// and the PyTorch goldens of Tests/Fixtures/model/lstm.safetensors (outputs, input and weight
/// gradients, three AdamW steps) written by tools/golden/make_model_fixtures.py.
final class LSTMTests: XCTestCase {
    func testBidirectionalTwoLayerGradients() throws {
        var rng = SeededGenerator(seed: 3)
        let lstm = LSTM(name: "lstm", inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 2, channels: 5, height: 3))
        try harness.checkGradients(of: lstm, training: true, check: GradientCheck(eps: 1e-2, rtol: 1e-2, atol: 1e-2, samples: 30))
    }

    func testUnidirectionalGradientsOverALongerSequence() throws {
        var rng = SeededGenerator(seed: 4)
        let lstm = LSTM(name: "rnn", inputSize: 2, hiddenSize: 3, numLayers: 1, bidirectional: false, rng: &rng)
        let harness = LayerHarness(shape: ActivationShape(batch: 3, channels: 12, height: 2))
        try harness.checkGradients(of: lstm, training: true, check: GradientCheck(eps: 1e-2, rtol: 1e-2, atol: 1e-2, samples: 30))
    }

    func testSequenceLayersGradients() throws {
        let toSequence = FrequencyMeanSequence()
        try LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 4, width: 5))
            .checkGradients(of: toSequence, training: true)
        let pool = SequenceMeanPool()
        try LayerHarness(shape: ActivationShape(batch: 2, channels: 6, height: 3)).checkGradients(of: pool, training: true)
    }

    /// The layout the CNN + LSTM relies on: x.mean(dim=2).transpose(1, 2), then x.mean(dim=1).
    func testSequenceLayersLayout() throws {
        let shape = ActivationShape(batch: 1, channels: 2, height: 2, width: 3)  // (B, C, H, W)
        let x = FloatStorage(capacity: shape.count)
        for i in 0..<shape.count { x.pointer[i] = Float(i) }
        // The layers own their outputs: keep them alive while reading.
        let toSequence = FrequencyMeanSequence(), pool = SequenceMeanPool()
        let seq = try toSequence.forward(Activation(data: x.pointer, shape: shape))
        XCTAssertEqual(seq.shape, ActivationShape(batch: 1, channels: 3, height: 2))
        // channel 0 planes [0 1 2; 3 4 5] → means 1.5 2.5 3.5; channel 1: 7.5 8.5 9.5; (W, C) rows
        XCTAssertEqual(Array(seq.buffer), [1.5, 7.5, 2.5, 8.5, 3.5, 9.5])
        let pooled = try pool.forward(seq)
        XCTAssertEqual(pooled.shape, ActivationShape(batch: 1, channels: 2))
        XCTAssertEqual(Array(pooled.buffer), [2.5, 8.5])
    }

    /// The gates' vector e^x, σ and tanh against the C library's, over the whole float range
    /// they meet (and clamped beyond it).
    func testVectorExpSigmoidTanhMatchTheScalarOnes() {
        var worstExp: Float = 0, worstSigmoid: Float = 0, worstTanh: Float = 0
        var x: Float = -87
        while x < 88 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
            let e = VectorMath.exp(lanes), s = VectorMath.sigmoid(lanes), t = VectorMath.tanh(lanes)
            for k in 0..<8 {
                worstExp = max(worstExp, abs(e[k] - expf(lanes[k])) / expf(lanes[k]))
                worstSigmoid = max(worstSigmoid, abs(s[k] - 1 / (1 + expf(-lanes[k]))))
                worstTanh = max(worstTanh, abs(t[k] - tanhf(lanes[k])))
            }
            x += 0.0917
        }
        XCTAssertLessThan(worstExp, 4e-7, "exp: relative error")
        XCTAssertLessThan(worstSigmoid, 3e-7, "sigmoid: absolute error")
        XCTAssertLessThan(worstTanh, 5e-7, "tanh: absolute error")
        let extreme = VectorMath.sigmoid(SIMD8<Float>(-1000, -100, -50, 0, 50, 100, 1000, .infinity))
        XCTAssertEqual(Array((0..<8).map { extreme[$0] }).map { ($0 * 1e6).rounded() / 1e6 }, [0, 0, 0, 0.5, 1, 1, 1, 1])
        XCTAssertFalse((0..<8).contains { extreme[$0].isNaN })
    }

    func testStateDictNamesFollowPyTorch() {
        var rng = SeededGenerator(seed: 1)
        let lstm = LSTM(name: "lstm", inputSize: 4, hiddenSize: 2, numLayers: 2, bidirectional: true, rng: &rng)
        XCTAssertEqual(lstm.stateEntries.map(\.name), [
            "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
            "lstm.weight_ih_l0_reverse", "lstm.weight_hh_l0_reverse", "lstm.bias_ih_l0_reverse", "lstm.bias_hh_l0_reverse",
            "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1",
            "lstm.weight_ih_l1_reverse", "lstm.weight_hh_l1_reverse", "lstm.bias_ih_l1_reverse", "lstm.bias_hh_l1_reverse",
        ])
        XCTAssertEqual(lstm.parameters.map(\.value.shape)[8], [8, 4], "layer 1 reads both directions: 2·H inputs")
    }

    func testWrongInputWidthIsAShapeError() {
        var rng = SeededGenerator(seed: 1)
        let lstm = LSTM(name: "lstm", inputSize: 4, hiddenSize: 2, rng: &rng)
        let x = FloatStorage(capacity: 30)
        XCTAssertThrowsError(try lstm.forward(Activation(data: x.pointer, shape: ActivationShape(batch: 2, channels: 5, height: 3))))
        XCTAssertThrowsError(try lstm.backward(x.pointer), "backward before any forward")
    }

    struct Case: Decodable {
        var input_size: Int, hidden: Int, layers: Int, bidirectional: Bool, batch: Int, steps: Int, names: [String]
    }
    struct OptimizerSettings: Decodable { var lr: Float, betas: [Float], eps: Float, weight_decay: Float, steps: Int }

    func testMatchesPyTorchBidirectionalTwoLayers() throws { try runGolden(prefix: "", key: "main") }

    func testMatchesPyTorchUnidirectional() throws { try runGolden(prefix: "uni.", key: "uni") }

    private func runGolden(prefix: String, key: String) throws {
        let file = try ModelFixtures.load("lstm")
        let c: Case = try file.metadataJSON(key)
        let settings: OptimizerSettings = try file.metadataJSON("optimizer")
        func tensor(_ name: String) throws -> Tensor { try file.tensor(named: prefix + name) }
        var rng = SeededGenerator(seed: 0)
        let lstm = LSTM(name: "", inputSize: c.input_size, hiddenSize: c.hidden, numLayers: c.layers,
                        bidirectional: c.bidirectional, rng: &rng)
        // PyTorch's nn.LSTM on its own names its tensors without a module prefix.
        func plain(_ p: Parameter) -> String { String(p.name.drop { $0 == "." }) }
        XCTAssertEqual(lstm.parameters.map(plain), c.names, "parameter order")
        for p in lstm.parameters { p.value = try tensor("weights." + plain(p)) }

        let input = try tensor("input"), upstream = try tensor("upstream")
        let shape = ActivationShape(batch: c.batch, channels: c.steps, height: c.input_size)
        var x = input.data
        func forwardBackward() throws -> (output: Tensor, dinput: Tensor) {
            try x.withUnsafeMutableBufferPointer { xb in
                let out = try lstm.forward(Activation(data: xb.baseAddress!, shape: shape), training: true)
                let output = out.tensor([c.batch, c.steps, out.shape.height])
                var dy = upstream.data
                let dx = try dy.withUnsafeMutableBufferPointer { try lstm.backward($0.baseAddress!) }
                let dinput = try Tensor(shape: input.shape, data: Array(UnsafeBufferPointer(start: dx, count: shape.count)))
                return (output, dinput)
            }
        }
        for p in lstm.parameters { p.zeroGrad() }
        let (output, dinput) = try forwardBackward()
        assertClose(output, try tensor("output"), rel: 1e-5, "output")
        assertClose(dinput, try tensor("dinput"), rel: 1e-4, "input gradient")
        for p in lstm.parameters { assertClose(p.grad, try tensor("grad." + plain(p)), rel: 1e-4, "grad \(plain(p))") }

        let optimizer = AdamW(parameters: lstm.parameters, learningRate: settings.lr, betas: (settings.betas[0], settings.betas[1]),
                              eps: settings.eps, weightDecay: settings.weight_decay)
        optimizer.step()
        for _ in 1..<settings.steps {
            for p in lstm.parameters { p.zeroGrad() }
            _ = try forwardBackward()
            optimizer.step()
        }
        for p in lstm.parameters {
            assertClose(p.value, try tensor("step3." + plain(p)), rel: 1e-4, "after \(settings.steps) AdamW steps: \(plain(p))")
        }
    }
}
