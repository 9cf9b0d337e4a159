import NeuralNet
import Tagger
import XCTest

/// Finite-difference checks of whole networks in float32, through the engine's own forward: the
/// backward list must mirror the forward list. Coarse (a shared slack, one miss in five), as
/// float32 rounding allows; `DoubleReferenceGradientTests` checks the same networks per tensor.
final class NetworkGradientTests: XCTestCase {
    func testResNetSEOneBlockPerStage() throws {
        let config = ArchitectureConfig(numGenres: 5, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1, 1],
                                        attentionReduction: 2)
        try checkNetwork(MultiLabelAudioCNN(config, seed: 1), batch: 4, height: 16, width: 16)
    }

    func testResNetSEReferenceStagesWithoutAttention() throws {
        let config = ArchitectureConfig(numGenres: 3, baseChannels: 4, useAttention: false, embeddingDim: 6,
                                        dropout: 0, blocks: [2, 3, 2])
        try checkNetwork(MultiLabelAudioCNN(config, seed: 2), batch: 3, height: 32, width: 24)
    }

    func testResNetSEReferenceStagesWithAttention() throws {
        let config = ArchitectureConfig(numGenres: 4, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [2, 3, 2],
                                        attentionReduction: 4)
        try checkNetwork(MultiLabelAudioCNN(config, seed: 3), batch: 3, height: 32, width: 32)
    }

    func testBaseline() throws {
        let config = ArchitectureConfig(kind: .baseline, numGenres: 4, baseChannels: 2, embeddingDim: 8, dropout: 0)
        try checkNetwork(BaselineCNN(config, seed: 4), batch: 4, height: 16, width: 16)
    }

    func testCNNLSTMBidirectionalTwoLayers() throws {
        let config = ArchitectureConfig(kind: .cnnLSTM, numGenres: 3, baseChannels: 4, embeddingDim: 6, dropout: 0,
                                        blocks: [1, 1], attentionReduction: 2, lstmHidden: 3, lstmLayers: 2)
        // ε 1e-3: the recurrent weights' gradients are small beside the network's, and at 1e-4
        // float32 rounding of the loss is of their size; the LSTM is smooth, so a larger step is safe.
        try checkNetwork(CNNLSTMNetwork(config, seed: 5), batch: 3, height: 16, width: 32,
                         check: GradientCheckSettings(eps: 1e-3, rtol: 3e-2, atol: 2e-2, samples: 6, allowedMissFraction: 0.2))
    }

    /// Loss Σ r·logits in training mode; every parameter tensor is sampled.
    private func checkNetwork(_ net: any TaggingNetwork, batch: Int, height: Int, width: Int,
                              check: GradientCheckSettings = GradientCheckSettings(eps: 1e-4, rtol: 3e-2, atol: 2e-2, samples: 6, allowedMissFraction: 0.2),
                              file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: 77)
        let shape = [batch, net.config.inputChannels, height, width]
        let x = try Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.uniform(bound: 2) })
        let genres = net.config.numGenres
        let projection = (0..<batch * genres).map { _ in rng.uniform(bound: 1) }
        let loss = { () throws -> Double in
            let logits = try net.forward(x, training: true).logits.data
            return zip(projection, logits).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        net.zeroGrad()
        _ = try net.forward(x, training: true)
        try net.backward(Tensor(shape: [batch, genres], data: projection))
        // Training-mode BN over tiny batches makes the loss strongly curved and full of ReLU/max
        // kinks, so ε is small and one sampled coordinate in five may miss. The absolute slack is
        // relative to the whole network's gradient scale: biases feeding a BatchNorm have a true
        // gradient of zero and only see rounding noise.
        let all = net.parameters.flatMap(\.grad.data)
        let scale = (all.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(all.count)).squareRoot()
        var checked = 0
        for p in net.parameters {
            try check.run(p.name, analytic: p.grad.data, scale: scale, perturb: { p.value.data[$0] += $1 }, loss: loss,
                          rng: &rng, file: file, line: line)
            checked += 1
        }
        XCTAssertEqual(checked, net.parameters.count)
    }
}

/// Central differences (f(x+ε) − f(x−ε)) / 2ε against analytic gradients; error allowed:
/// rtol·|analytic| + atol·scale.
struct GradientCheckSettings {
    var eps: Float
    var rtol: Double
    var atol: Double
    var samples: Int
    var allowedMissFraction: Double

    func run(_ name: String, analytic: [Float], scale: Double, perturb: (Int, Float) -> Void, loss: () throws -> Double,
             rng: inout SeededGenerator, file: StaticString, line: UInt) rethrows {
        let n = analytic.count
        var coordinates = Array(0..<n)
        coordinates.shuffle(using: &rng)
        coordinates = Array(coordinates.prefix(samples))
        var misses: [String] = []
        for i in coordinates {
            perturb(i, eps)
            let plus = try loss()
            perturb(i, -2 * eps)
            let minus = try loss()
            perturb(i, eps)
            let numeric = (plus - minus) / Double(2 * eps), a = Double(analytic[i])
            if abs(numeric - a) > rtol * abs(a) + atol * scale {
                misses.append("[\(i)] analytic \(a) numeric \(numeric)")
            }
        }
        XCTAssertLessThanOrEqual(misses.count, Int(Double(coordinates.count) * allowedMissFraction),
                                 "\(name): \(misses.count)/\(coordinates.count) off (scale \(scale)): "
                                    + misses.prefix(4).joined(separator: ", "), file: file, line: line)
        XCTAssertGreaterThan(scale, 0, "zero gradient everywhere", file: file, line: line)
    }
}
