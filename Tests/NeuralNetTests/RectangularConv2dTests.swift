import NeuralNet
import XCTest

/// `RectangularConv2d` (the inference convolution with non-square kernels and TensorFlow padding)
/// against a direct six-loop convolution in double, TensorFlow's 'same' placement of the extra
/// padding, and the square-kernel `Conv2d`.
final class RectangularConv2dTests: XCTestCase {
    private func randomValues(_ shape: ActivationShape, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<shape.count).map { _ in rng.uniform(bound: 1) }
    }

    /// y[b,k,i,j] = bias[k] + Σ_c Σ_u Σ_v w[k,c,u,v] · x[b,c,i−top+u,j−left+v] (0 outside).
    private func direct(_ conv: RectangularConv2d, _ x: [Float], _ s: ActivationShape) -> (values: [Double], height: Int, width: Int) {
        let (kh, kw) = (conv.kernelHeight, conv.kernelWidth)
        let p = conv.padding.pads(kernelHeight: kh, kernelWidth: kw)
        let (oh, ow) = conv.outputSize(height: s.height, width: s.width)
        let K = conv.outChannels, C = s.channels, w = conv.weight.value.data
        var y = [Double](repeating: 0, count: s.batch * K * oh * ow)
        for b in 0..<s.batch {
            for k in 0..<K {
                for i in 0..<oh {
                    for j in 0..<ow {
                        var sum = Double(conv.bias?.value.data[k] ?? 0)
                        for c in 0..<C {
                            for u in 0..<kh {
                                for v in 0..<kw {
                                    let r = i - p.top + u, q = j - p.left + v
                                    guard (0..<s.height).contains(r), (0..<s.width).contains(q) else { continue }
                                    sum += Double(w[((k * C + c) * kh + u) * kw + v]) * Double(x[((b * C + c) * s.height + r) * s.width + q])
                                }
                            }
                        }
                        y[((b * K + k) * oh + i) * ow + j] = sum
                    }
                }
            }
        }
        return (y, oh, ow)
    }

    func testMatchesDirectConvolutionForEveryPadding() throws {
        let shape = ActivationShape(batch: 3, channels: 2, height: 9, width: 7)
        let cases: [(Int, Int, ConvPadding)] = [
            (3, 5, .valid), (4, 2, .same), (5, 1, .same), (7, 7, .same), (2, 3, .explicit(top: 3, bottom: 1, left: 0, right: 2)),
            (12, 1, .same),  // a kernel taller than the input
        ]
        for (index, (kh, kw, padding)) in cases.enumerated() {
            var rng = SeededGenerator(seed: UInt64(10 + index))
            let conv = RectangularConv2d(name: "c", inChannels: 2, outChannels: 4, kernelHeight: kh, kernelWidth: kw,
                                         padding: padding, rng: &rng)
            var storage = randomValues(shape, seed: UInt64(100 + index))
            let want = direct(conv, storage, shape)
            let got = try storage.withUnsafeMutableBufferPointer { (buffer) throws(ShapeError) -> [Float] in
                let out = try conv.forward(Activation(data: buffer.baseAddress!, shape: shape))
                XCTAssertEqual(out.shape, ActivationShape(batch: 3, channels: 4, height: want.height, width: want.width))
                return Array(out.buffer)
            }
            if case .same = padding { XCTAssertEqual([want.height, want.width], [9, 7], "'same' keeps the size") }
            for (a, e) in zip(got, want.values) {
                XCTAssertEqual(Double(a), e, accuracy: 1e-5, "kernel \(kh)×\(kw) \(padding)")
            }
        }
    }

    /// TensorFlow pads an even kernel's extra row and column at the bottom and right: a 2×2 box
    /// filter over [[1, 2], [3, 4]] with 'same' gives [[10, 6], [7, 4]] (not [[1, 3], [4, 10]]).
    func testSamePaddingPutsTheExtraRowAndColumnAfter() throws {
        var rng = SeededGenerator(seed: 1)
        let conv = RectangularConv2d(name: "box", inChannels: 1, outChannels: 1, kernelHeight: 2, kernelWidth: 2,
                                     padding: .same, bias: false, rng: &rng)
        conv.weight.value = try Tensor(shape: [1, 1, 2, 2], data: [1, 1, 1, 1])
        var x: [Float] = [1, 2, 3, 4]
        let out = try x.withUnsafeMutableBufferPointer { (b) throws(ShapeError) -> [Float] in
            Array(try conv.forward(Activation(data: b.baseAddress!, shape: ActivationShape(batch: 1, channels: 1, height: 2, width: 2))).buffer)
        }
        XCTAssertEqual(out, [10, 6, 7, 4])
        let pads = ConvPadding.same.pads(kernelHeight: 128, kernelWidth: 1)
        XCTAssertEqual([pads.top, pads.bottom, pads.left, pads.right], [63, 64, 0, 0])
    }

    /// bias → ReLU → ·scale + shift → max over the width, in that order.
    func testOutputMapAppliesReluThenAffineThenWidthMax() throws {
        var rng = SeededGenerator(seed: 3)
        let conv = RectangularConv2d(name: "c", inChannels: 1, outChannels: 2, kernelHeight: 1, kernelWidth: 1, rng: &rng)
        conv.weight.value = try Tensor(shape: [2, 1, 1, 1], data: [1, -1])
        conv.bias!.value = try Tensor(shape: [2], data: [0.5, 0])
        let scale: [Float] = [2, -1], shift: [Float] = [1, 3]
        var x: [Float] = [-2, 1, 3, -1]  // one row of width 4
        let out = try scale.withUnsafeBufferPointer { a in
            try shift.withUnsafeBufferPointer { c in
                try x.withUnsafeMutableBufferPointer { (b) throws(ShapeError) -> [Float] in
                    let map = ConvOutputMap(relu: true, scale: a.baseAddress, shift: c.baseAddress, maxOverWidth: true)
                    let y = try conv.forward(Activation(data: b.baseAddress!, shape: ActivationShape(batch: 1, channels: 1, height: 1, width: 4)), map: map)
                    XCTAssertEqual(y.shape, ActivationShape(batch: 1, channels: 2, height: 1, width: 1))
                    return Array(y.buffer)
                }
            }
        }
        // channel 0: relu(x + 0.5) = [0, 1.5, 3.5, 0] → ·2 + 1 → max 8
        // channel 1: relu(−x) = [2, 0, 0, 1] → ·(−1) + 3 = [1, 3, 3, 2] → max 3 (a max before the affine map would give 1)
        XCTAssertEqual(out, [8, 3])
    }

    /// A square kernel gives what the trainable Conv2d gives (its im2col and Winograd paths).
    func testSquareKernelMatchesConv2d() throws {
        for (k, pad) in [(3, 1), (5, 2), (3, 0)] {
            var rng = SeededGenerator(seed: 7)
            let reference = Conv2d(name: "c", inChannels: 3, outChannels: 5, kernelSize: k, padding: pad, rng: &rng)
            var rng2 = SeededGenerator(seed: 8)
            let conv = RectangularConv2d(name: "c", inChannels: 3, outChannels: 5, kernelHeight: k, kernelWidth: k,
                                         padding: .explicit(top: pad, bottom: pad, left: pad, right: pad), rng: &rng2)
            conv.weight.value = reference.weight.value
            conv.bias!.value = reference.bias!.value
            let shape = ActivationShape(batch: 2, channels: 3, height: 10, width: 8)
            var storage = randomValues(shape, seed: 9)
            let (want, got) = try storage.withUnsafeMutableBufferPointer { (b) throws(ShapeError) -> ([Float], [Float]) in
                let a = Activation(data: b.baseAddress!, shape: shape)
                return (Array(try reference.forward(a, training: false).buffer), Array(try conv.forward(a).buffer))
            }
            XCTAssertEqual(want.count, got.count)
            for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-5, "k \(k) padding \(pad)") }
        }
    }

    func testTooSmallInputIsAnError() {
        var rng = SeededGenerator(seed: 1)
        let conv = RectangularConv2d(name: "c", inChannels: 1, outChannels: 1, kernelHeight: 7, kernelWidth: 38, rng: &rng)
        XCTAssertThrowsError(try conv.checkInput(channels: 1, height: 187, width: 20))
        XCTAssertThrowsError(try conv.checkInput(channels: 2, height: 187, width: 96))
        XCTAssertNoThrow(try conv.checkInput(channels: 1, height: 7, width: 38))
    }
}
