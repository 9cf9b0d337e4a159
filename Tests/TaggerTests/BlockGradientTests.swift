import NeuralNet
@testable import Tagger
import XCTest

/// Finite-difference checks of the two composite blocks on their own, input gradient included.
final class BlockGradientTests: XCTestCase {
    func testChannelAttention() throws {
        var rng = SeededGenerator(seed: 51)
        let block = ChannelAttention(name: "attention", channels: 6, reduction: 2, rng: &rng)
        try check(block, ActivationShape(batch: 2, channels: 6, height: 3, width: 4), training: true)
    }

    func testResidualBlockWithProjectionShortcut() throws {
        var rng = SeededGenerator(seed: 52)
        let block = ResidualBlock(name: "layers.1.0", inChannels: 3, outChannels: 4, stride: 2, useAttention: true,
                                  reduction: 2, rng: &rng, workspace: ConvWorkspace())
        try check(block, ActivationShape(batch: 3, channels: 3, height: 6, width: 6), training: true)
    }

    func testResidualBlockWithIdentityShortcutInEvaluation() throws {
        var rng = SeededGenerator(seed: 53)
        let block = ResidualBlock(name: "layers.0.1", inChannels: 4, outChannels: 4, stride: 1, useAttention: false,
                                  reduction: 16, rng: &rng, workspace: ConvWorkspace())
        try check(block, ActivationShape(batch: 2, channels: 4, height: 5, width: 5), training: false)
    }

    /// Loss Σ r·out; every parameter and the input are sampled.
    private func check(_ layer: any Layer, _ shape: ActivationShape, training: Bool,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: 5)
        let input = FloatStorage(capacity: shape.count)
        for i in 0..<shape.count { input.pointer[i] = rng.uniform(bound: 2) }
        let x = Activation(data: input.pointer, shape: shape)
        let outCount = try layer.forward(x, training: training).shape.count
        var projection = (0..<outCount).map { _ in rng.uniform(bound: 1) }
        let loss = { () throws -> Double in
            let out = try layer.forward(x, training: training)
            return (0..<outCount).reduce(0.0) { $0 + Double(projection[$1]) * Double(out.data[$1]) }
        }
        for p in layer.parameters { p.zeroGrad() }
        _ = try layer.forward(x, training: training)
        let dx = try projection.withUnsafeMutableBufferPointer { try layer.backward($0.baseAddress!) }
        let inputGradient = Array(UnsafeBufferPointer(start: dx, count: shape.count))
        let all = layer.parameters.flatMap(\.grad.data) + inputGradient
        let scale = (all.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(all.count)).squareRoot()
        let settings = GradientCheckSettings(eps: 1e-3, rtol: 2e-2, atol: 1e-2, samples: 12, allowedMissFraction: 0.1)
        try settings.run("input", analytic: inputGradient, scale: scale, perturb: { input.pointer[$0] += $1 },
                         loss: loss, rng: &rng, file: file, line: line)
        for p in layer.parameters {
            try settings.run(p.name, analytic: p.grad.data, scale: scale, perturb: { p.value.data[$0] += $1 },
                             loss: loss, rng: &rng, file: file, line: line)
        }
    }
}
