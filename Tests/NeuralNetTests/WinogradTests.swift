@testable import NeuralNet
import XCTest

/// Conv2d's Winograd paths against its im2col path on the same weights and data: evaluation's
/// forward pass by F(4×4, 3×3) and by F(2×2, 3×3), and training's forward pass, input gradient
/// (Winograd on the rotated kernels) and weight gradient by F(2×2, 3×3) agree to float rounding,
/// for sizes that are multiples of the tiles and sizes that are not, several channel counts and
/// batches.
final class WinogradTests: XCTestCase {
    func compare(inChannels C: Int, outChannels K: Int, height H: Int, width W: Int, batch B: Int, seed: UInt64,
                 file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: seed)
        let conv = Conv2d(name: "c", inChannels: C, outChannels: K, kernelSize: 3, stride: 1, padding: 1, bias: true, rng: &rng)
        let shape = ActivationShape(batch: B, channels: C, height: H, width: W)
        var input = (0..<shape.count).map { _ in rng.uniform(bound: 1) }
        let dy = (0..<(B * K * H * W)).map { _ in rng.uniform(bound: 1) }
        func forward(training: Bool) throws -> [Float] {
            try input.withUnsafeMutableBufferPointer { xb in
                Array(try conv.forward(Activation(data: xb.baseAddress!, shape: shape), training: training).buffer)
            }
        }
        var results: [[[Float]]] = []
        for winograd in [true, false] {
            conv.usesWinograd = winograd
            conv.weight.zeroGrad(); conv.bias?.zeroGrad()
            var d = dy
            let out = try forward(training: true)
            let dx = try d.withUnsafeMutableBufferPointer { db in
                Array(UnsafeBufferPointer(start: try conv.backward(db.baseAddress!), count: shape.count))
            }
            conv.allowsLargeWinogradTiles = false
            let smallTiles = try forward(training: false)
            conv.allowsLargeWinogradTiles = true
            let largeTiles = try forward(training: false)
            results.append([out, dx, conv.weight.grad.data, conv.bias!.grad.data, smallTiles, largeTiles])
        }
        let names = ["output", "input gradient", "weight gradient", "bias gradient", "evaluation F(2×2, 3×3)",
                     "evaluation with large tiles allowed"]
        for (name, (a, b)) in zip(names, zip(results[0], results[1])) {
            let scale = b.map(abs).max() ?? 0
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            let tolerance: Float = name == names.last ? 2e-5 : 1e-5
            XCTAssertEqual(a.count, b.count, name, file: file, line: line)
            XCTAssertGreaterThan(scale, 0, name, file: file, line: line)
            XCTAssertLessThanOrEqual(worst, tolerance * scale, "\(name): max difference \(worst) at scale \(scale)",
                                     file: file, line: line)
        }
    }

    func testEvenPlanes() throws {
        try compare(inChannels: 8, outChannels: 6, height: 8, width: 12, batch: 3, seed: 51)
    }

    func testOddPlanesAndSingleRows() throws {
        try compare(inChannels: 5, outChannels: 7, height: 7, width: 9, batch: 2, seed: 52)
        try compare(inChannels: 3, outChannels: 2, height: 1, width: 5, batch: 2, seed: 53)
        try compare(inChannels: 1, outChannels: 1, height: 3, width: 1, batch: 1, seed: 54)
    }

    func testWideLayerInGroups() throws {
        try compare(inChannels: 64, outChannels: 64, height: 8, width: 8, batch: 9, seed: 55)
    }

    /// Planes with a partial last row and column of 4×4 tiles, several row strips, and more than
    /// four tiles across (the SIMD lanes' remainder), at a channel count like the model's.
    func testLargeTileEdges() throws {
        try compare(inChannels: 3, outChannels: 4, height: 6, width: 7, batch: 2, seed: 56)
        try compare(inChannels: 4, outChannels: 5, height: 13, width: 22, batch: 2, seed: 57)
        try compare(inChannels: 128, outChannels: 16, height: 16, width: 20, batch: 3, seed: 58)
    }

    /// F(4×4, 3×3) where it saves multiplies, F(2×2, 3×3) on planes too small for it.
    func testTilingChoice() {
        XCTAssertEqual(WinogradTiling(height: 64, width: 64), .four)
        XCTAssertEqual(WinogradTiling(height: 8, width: 8), .four)
        XCTAssertEqual(WinogradTiling(height: 2, width: 2), .two)
        XCTAssertEqual(WinogradTiling(height: 1, width: 5), .two)
    }

    /// Evaluation keeps the transformed weights between calls, and makes them again after every
    /// change to the weights: in place (an optimiser step) or by assignment (a checkpoint load).
    func testEvaluationTransformFollowsTheWeights() throws {
        var rng = SeededGenerator(seed: 59)
        let conv = Conv2d(name: "c", inChannels: 6, outChannels: 5, kernelSize: 3, stride: 1, padding: 1, bias: false, rng: &rng)
        let shape = ActivationShape(batch: 2, channels: 6, height: 12, width: 12)
        var input = (0..<shape.count).map { _ in rng.uniform(bound: 1) }
        func evaluate() throws -> [Float] {
            try input.withUnsafeMutableBufferPointer { xb in
                Array(try conv.forward(Activation(data: xb.baseAddress!, shape: shape), training: false).buffer)
            }
        }
        func reference() throws -> [Float] {
            conv.usesWinograd = false
            defer { conv.usesWinograd = true }
            return try evaluate()
        }
        func assertMatchesReference(_ what: String) throws {
            let (out, expected) = (try evaluate(), try reference())
            let scale = expected.map(abs).max() ?? 0
            let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertEqual(out.count, expected.count, what)
            XCTAssertLessThanOrEqual(worst, 2e-5 * scale, "\(what): max difference \(worst) at scale \(scale)")
        }
        try assertMatchesReference("first evaluation")
        try assertMatchesReference("second evaluation, kept transform")
        let before = conv.weight.version
        conv.weight.value.data.withUnsafeMutableBufferPointer { w in
            for i in w.indices { w[i] = -2 * w[i] + 0.01 * Float(i % 7) }
        }
        XCTAssertNotEqual(conv.weight.version, before, "an in-place change counts a version")
        try assertMatchesReference("after an in-place change")
        conv.weight.value = Tensor(zeros: conv.weight.value.shape)
        XCTAssertEqual(try evaluate().map(abs).max(), 0, "zero weights after an assignment give zero outputs")
    }
}
