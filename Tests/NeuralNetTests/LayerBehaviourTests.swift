import NeuralNet
import XCTest

/// Forward values, PyTorch conventions and error handling of the layers.
final class LayerBehaviourTests: XCTestCase {
    /// The im2col + GEMM path against the convolution sum written out directly.
    func testConv2dMatchesDirectConvolution() throws {
        var rng = SeededGenerator(seed: 21)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: true, rng: &rng)
        let h = LayerHarness(shape: ActivationShape(batch: 2, channels: 2, height: 5, width: 6))
        let out = try conv.forward(h.activation, training: false)
        XCTAssertEqual(out.shape, ActivationShape(batch: 2, channels: 3, height: 3, width: 3))
        let w = conv.weight.value.data, b = conv.bias!.value.data
        for n in 0..<2 { for k in 0..<3 { for oh in 0..<3 { for ow in 0..<3 {
            var sum = Double(b[k])
            for c in 0..<2 { for i in 0..<3 { for j in 0..<3 {
                let ih = oh * 2 - 1 + i, iw = ow * 2 - 1 + j
                guard ih >= 0, ih < 5, iw >= 0, iw < 6 else { continue }
                sum += Double(w[((k * 2 + c) * 3 + i) * 3 + j]) * Double(h.input.pointer[((n * 2 + c) * 5 + ih) * 6 + iw])
            } } }
            XCTAssertEqual(Double(out.data[((n * 3 + k) * 3 + oh) * 3 + ow]), sum, accuracy: 1e-5)
        } } } }
    }

    /// A batch big enough to be split into several GEMM groups (the last one partial) gives
    /// the same outputs, input gradients and summed weight gradients as one sample at a time.
    func testConv2dBatchGroupsMatchSingleSamples() throws {
        var rng = SeededGenerator(seed: 23)
        let conv = Conv2d(name: "c", inChannels: 16, outChannels: 4, kernelSize: 3, stride: 1, padding: 1, bias: true, rng: &rng)
        let shape = ActivationShape(batch: 9, channels: 16, height: 32, width: 32)
        let h = LayerHarness(shape: shape)
        let dout = (0..<(9 * 4 * 32 * 32)).map { _ in rng.uniform(bound: 1) }
        let out = Array(try conv.forward(h.activation, training: true).buffer)
        var d = dout
        let dinp = Array(UnsafeBufferPointer(start: try d.withUnsafeMutableBufferPointer { try conv.backward($0.baseAddress!) },
                                             count: shape.count))
        let dW = conv.weight.grad.data, dB = conv.bias!.grad.data
        conv.weight.zeroGrad(); conv.bias!.zeroGrad()
        let sampleIn = shape.sampleSize, sampleOut = 4 * 32 * 32
        for b in 0..<9 {
            let one = Activation(data: h.input.pointer + b * sampleIn, shape: ActivationShape(batch: 1, channels: 16, height: 32, width: 32))
            let o = try conv.forward(one, training: true)
            for i in stride(from: 0, to: sampleOut, by: 37) { XCTAssertEqual(o.data[i], out[b * sampleOut + i], accuracy: 1e-5) }
            var dOne = Array(dout[(b * sampleOut)..<((b + 1) * sampleOut)])
            let g = try dOne.withUnsafeMutableBufferPointer { try conv.backward($0.baseAddress!) }
            for i in stride(from: 0, to: sampleIn, by: 41) { XCTAssertEqual(g[i], dinp[b * sampleIn + i], accuracy: 1e-4) }
        }
        for i in 0..<dW.count { XCTAssertEqual(conv.weight.grad.data[i], dW[i], accuracy: 1e-2 + 1e-4 * abs(dW[i])) }
        for i in 0..<dB.count { XCTAssertEqual(conv.bias!.grad.data[i], dB[i], accuracy: 1e-2 + 1e-4 * abs(dB[i])) }
    }

    func testDefaultInitialisationBounds() {
        var rng = SeededGenerator(seed: 22)
        let conv = Conv2d(name: "c", inChannels: 4, outChannels: 8, kernelSize: 3, bias: true, rng: &rng)
        let bound = 1 / Float(4 * 9).squareRoot()
        XCTAssertLessThanOrEqual(conv.weight.value.data.map(abs).max()!, bound)
        XCTAssertGreaterThan(conv.weight.value.data.map(abs).max()!, 0.8 * bound)
        XCTAssertLessThanOrEqual(conv.bias!.value.data.map(abs).max()!, bound)
        let bn = BatchNorm2d(name: "bn", numFeatures: 3)
        XCTAssertEqual(bn.weight.value.data, [1, 1, 1])
        XCTAssertEqual(bn.bias.value.data, [0, 0, 0])
        XCTAssertEqual(bn.runningVar.value.data, [1, 1, 1])
    }

    /// running = 0.9·running + 0.1·batch, with the unbiased variance for running_var.
    func testBatchNormRunningStatisticsFollowPyTorch() throws {
        let bn = BatchNorm2d(name: "bn", numFeatures: 2)
        let shape = ActivationShape(batch: 3, channels: 2, height: 2, width: 2)
        var expectedMean = [0.0, 0.0], expectedVar = [1.0, 1.0]
        for step in 0..<2 {
            let h = LayerHarness(shape: shape) { rng, _ in rng.uniform(bound: 2) + Float(step) }
            let out = try bn.forward(h.activation, training: true)
            for c in 0..<2 {
                var values: [Double] = []
                for b in 0..<3 { for p in 0..<4 { values.append(Double(h.input.pointer[(b * 2 + c) * 4 + p])) } }
                let mean = values.reduce(0, +) / 12
                let ss = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
                expectedMean[c] = 0.9 * expectedMean[c] + 0.1 * mean
                expectedVar[c] = 0.9 * expectedVar[c] + 0.1 * ss / 11
                // The output itself uses the biased variance.
                let y = (Double(h.input.pointer[c * 4]) - mean) / (ss / 12 + 1e-5).squareRoot()
                XCTAssertEqual(Double(out.data[c * 4]), y, accuracy: 1e-5)
            }
            XCTAssertEqual(bn.runningMean.value.data[0], Float(expectedMean[0]), accuracy: 1e-6)
            XCTAssertEqual(bn.runningMean.value.data[1], Float(expectedMean[1]), accuracy: 1e-6)
            XCTAssertEqual(bn.runningVar.value.data[0], Float(expectedVar[0]), accuracy: 1e-6)
            XCTAssertEqual(bn.runningVar.value.data[1], Float(expectedVar[1]), accuracy: 1e-6)
        }
        XCTAssertEqual(bn.numBatchesTracked.value.data, [2])
        XCTAssertEqual(bn.numBatchesTracked.value.shape, [])
        // Evaluation uses the running statistics and leaves them alone.
        let h = LayerHarness(shape: shape)
        let out = try bn.forward(h.activation, training: false)
        let y = (Double(h.input.pointer[0]) - expectedMean[0]) / (expectedVar[0] + 1e-5).squareRoot()
        XCTAssertEqual(Double(out.data[0]), y, accuracy: 1e-5)
        XCTAssertEqual(bn.numBatchesTracked.value.data, [2])
    }

    func testMaxPoolTieGoesToFirstMaximum() throws {
        let pool = MaxPool2d(kernelSize: 2)
        let h = LayerHarness(shape: ActivationShape(batch: 1, channels: 1, height: 2, width: 4)) { _, _ in 3 }
        let out = try pool.forward(h.activation, training: true)
        XCTAssertEqual(Array(out.buffer), [3, 3])
        var dout: [Float] = [1, 2]
        let dinp = try dout.withUnsafeMutableBufferPointer { try pool.backward($0.baseAddress!) }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: dinp, count: 8)), [1, 0, 2, 0, 0, 0, 0, 0])
    }

    /// Inference takes maxima separably without recording winners; the values must equal the
    /// training path's, NaN included, and backward must then refuse. An evaluation forward
    /// records them, so backward after it routes as after training.
    func testMaxPoolInferenceMatchesTraining() throws {
        for (kernel, stride, padding) in [(3, 2, 1), (2, 2, 0), (3, 1, 1)] {
            let pool = MaxPool2d(kernelSize: kernel, stride: stride, padding: padding)
            let h = LayerHarness(shape: ActivationShape(batch: 2, channels: 3, height: 9, width: 7)) { rng, i in
                i == 17 ? .nan : Float(Int(rng.uniform(bound: 3)))   // many ties
            }
            let trained = Array(try pool.forward(h.activation, training: true).buffer)
            var dout = [Float](repeating: 1, count: trained.count)
            let routedInTraining = Array(UnsafeBufferPointer(start: try dout.withUnsafeMutableBufferPointer { try pool.backward($0.baseAddress!) },
                                                             count: h.activation.shape.count))
            _ = try pool.forward(h.activation, training: false)
            let routedInEvaluation = Array(UnsafeBufferPointer(start: try dout.withUnsafeMutableBufferPointer { try pool.backward($0.baseAddress!) },
                                                               count: h.activation.shape.count))
            XCTAssertEqual(routedInEvaluation, routedInTraining)
            let evaluated = Array(try pool.forwardInference(h.activation).buffer)
            XCTAssertEqual(trained.count, evaluated.count)
            for (a, b) in zip(trained, evaluated) { XCTAssertTrue(a == b || (a.isNaN && b.isNaN), "\(a) vs \(b)") }
            XCTAssertTrue(evaluated.contains { $0.isNaN })
            XCTAssertThrowsError(try dout.withUnsafeMutableBufferPointer { try pool.backward($0.baseAddress!) })
        }
    }

    func testMaxPoolPaddingNeverWins() throws {
        let pool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
        let h = LayerHarness(shape: ActivationShape(batch: 1, channels: 1, height: 3, width: 3)) { _, i in -Float(i) - 1 }
        let out = try pool.forward(h.activation, training: false)
        XCTAssertEqual(out.shape, ActivationShape(batch: 1, channels: 1, height: 2, width: 2))
        XCTAssertEqual(Array(out.buffer), [-1, -2, -4, -5])
    }

    /// count_include_pad=True: a corner window of a 3×3 pool with padding 1 divides by 9.
    func testAvgPoolCountsPadding() throws {
        let pool = AvgPool2d(kernelSize: 3, stride: 2, padding: 1)
        let h = LayerHarness(shape: ActivationShape(batch: 1, channels: 1, height: 5, width: 5)) { _, _ in 1 }
        let out = try pool.forward(h.activation, training: false)
        XCTAssertEqual(out.shape, ActivationShape(batch: 1, channels: 1, height: 3, width: 3))
        let expected: [Float] = [4, 6, 4, 6, 9, 6, 4, 6, 4].map { $0 / 9 }
        for (got, want) in zip(out.buffer, expected) { XCTAssertEqual(got, want, accuracy: 1e-6) }
    }

    func testDropoutRateScalingAndEvaluation() throws {
        let dropout = Dropout(probability: 0.25, seed: 31)
        let h = LayerHarness(shape: ActivationShape(batch: 8, channels: 500)) { _, _ in 2 }
        let out = Array(try dropout.forward(h.activation, training: true).buffer)
        let zeros = out.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / 4000, 0.25, accuracy: 0.03)
        XCTAssertTrue(out.allSatisfy { $0 == 0 || abs($0 - 2 / 0.75) < 1e-6 })
        let again = Array(try dropout.forward(h.activation, training: true).buffer)
        XCTAssertFalse(again == out, "a new mask every training step")
        let eval = try dropout.forward(h.activation, training: false)
        XCTAssertTrue(eval.buffer.allSatisfy { $0 == 2 })
    }

    func testInPlaceReLUOverwritesItsInputAndGradient() throws {
        let relu = ReLU(inPlace: true)
        let h = LayerHarness(shape: ActivationShape(batch: 1, channels: 2, height: 1, width: 5)) { _, i in Float(i) - 4.5 }
        let out = try relu.forward(h.activation, training: true)
        XCTAssertEqual(out.data, h.input.pointer)
        XCTAssertEqual(Array(out.buffer), [0, 0, 0, 0, 0, 0.5, 1.5, 2.5, 3.5, 4.5])
        var dout: [Float] = (1...10).map(Float.init)
        try dout.withUnsafeMutableBufferPointer { d in
            let dinp = try relu.backward(d.baseAddress!)
            XCTAssertEqual(dinp, d.baseAddress!)
        }
        XCTAssertEqual(dout, [0, 0, 0, 0, 0, 6, 7, 8, 9, 10])
    }

    func testBuffersAreReusedAcrossCalls() throws {
        var rng = SeededGenerator(seed: 32)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1, rng: &rng)
        let h = LayerHarness(shape: ActivationShape(batch: 2, channels: 2, height: 4, width: 4))
        let first = try conv.forward(h.activation, training: true).data
        let second = try conv.forward(h.activation, training: true).data
        XCTAssertEqual(first, second)
    }

    func testWrongShapesThrowShapeError() throws {
        var rng = SeededGenerator(seed: 33)
        let conv = Conv2d(name: "c", inChannels: 3, outChannels: 2, kernelSize: 3, rng: &rng)
        let twoChannels = LayerHarness(shape: ActivationShape(batch: 1, channels: 2, height: 5, width: 5))
        XCTAssertThrowsError(try conv.forward(twoChannels.activation, training: false)) {
            XCTAssertTrue("\($0)".contains("expected 3 input channels"), "\($0)")
        }
        let tiny = LayerHarness(shape: ActivationShape(batch: 1, channels: 3, height: 2, width: 5))
        XCTAssertThrowsError(try conv.forward(tiny.activation, training: false)) {
            XCTAssertTrue("\($0)".contains("too small"), "\($0)")
        }
        let linear = Linear(name: "fc", inFeatures: 4, outFeatures: 2, rng: &rng)
        XCTAssertThrowsError(try linear.forward(twoChannels.activation, training: false))
        let bn = BatchNorm1d(name: "bn", numFeatures: 2)
        let single = LayerHarness(shape: ActivationShape(batch: 1, channels: 2))
        XCTAssertThrowsError(try bn.forward(single.activation, training: true)) {
            XCTAssertTrue("\($0)".contains("more than 1 value per channel"), "\($0)")
        }
        var dout: [Float] = [0, 0]
        XCTAssertThrowsError(try dout.withUnsafeMutableBufferPointer { try linear.backward($0.baseAddress!) }) {
            XCTAssertTrue("\($0)".contains("before forward"), "\($0)")
        }
        XCTAssertThrowsError(try MaxPool2d(kernelSize: 3).forward(single.activation, training: false))
    }
}
