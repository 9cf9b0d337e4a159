import NeuralNet
import XCTest

/// Winograd's F(2×2, 3×3) path of Conv2d against its im2col path on the same weights and data:
/// the forward outputs, the input gradient (Winograd on the rotated kernels) and the weight
/// gradient agree to float rounding, for even and odd sizes, several channel counts and batches.
final class WinogradTests: XCTestCase {
    func compare(inChannels C: Int, outChannels K: Int, height H: Int, width W: Int, batch B: Int, seed: UInt64,
                 file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: seed)
        let conv = Conv2d(name: "c", inChannels: C, outChannels: K, kernelSize: 3, stride: 1, padding: 1, bias: true, rng: &rng)
        let shape = ActivationShape(batch: B, channels: C, height: H, width: W)
        let input = (0..<shape.count).map { _ in rng.uniform(bound: 1) }
        let dy = (0..<(B * K * H * W)).map { _ in rng.uniform(bound: 1) }
        var results: [[[Float]]] = []
        for winograd in [true, false] {
            conv.usesWinograd = winograd
            conv.weight.zeroGrad(); conv.bias?.zeroGrad()
            var x = input, d = dy
            let out = try x.withUnsafeMutableBufferPointer { xb in
                Array(try conv.forward(Activation(data: xb.baseAddress!, shape: shape), training: true).buffer)
            }
            let dx = try d.withUnsafeMutableBufferPointer { db in
                Array(UnsafeBufferPointer(start: try conv.backward(db.baseAddress!), count: shape.count))
            }
            results.append([out, dx, conv.weight.grad.data, conv.bias!.grad.data])
        }
        for (name, (a, b)) in zip(["output", "input gradient", "weight gradient", "bias gradient"], zip(results[0], results[1])) {
            let scale = b.map(abs).max() ?? 0
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            XCTAssertGreaterThan(scale, 0, name, file: file, line: line)
            XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(name): max difference \(worst) at scale \(scale)", file: file, line: line)
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
}
