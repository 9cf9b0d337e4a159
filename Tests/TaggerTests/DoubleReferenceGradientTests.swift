import NeuralNet
import Tagger
import XCTest

/// Per-tensor gradient checks of the ResNet-SE, the baseline and the CNN + LSTM in training mode, each relative to
/// that tensor's own gradient. Central differences of the float32 network cannot do this: its
/// rounding is larger than the whole directional derivative of the attention's tensors at any
/// step small enough to miss the ReLU and max-pool kinks. So the loss Σ r·logits is
/// differentiated in float64 through `DoubleReferenceNetwork`, a plain re-implementation of the
/// same forward (checked first against the network's own logits), at steps of 1e-5 of each
/// tensor's size, along the tensor's analytic gradient ĝ and two random directions, and compared
/// with the float32 engine's analytic gradient: every direction must agree to 0.1 % of its
/// tensor's ‖g‖ (measured: at most 3e-5). `NetworkGradientTests` keeps the coarser float32
/// differences of every network as a second opinion.
final class DoubleReferenceGradientTests: XCTestCase {
    func testOneBlockPerStage() throws {
        let config = ArchitectureConfig(numGenres: 5, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1, 1],
                                        attentionReduction: 2)
        XCTAssertEqual(try failures(config, seed: 1, batch: 4, height: 16, width: 16), [])
    }

    func testReferenceStagesWithAttention() throws {
        let config = ArchitectureConfig(numGenres: 4, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [2, 3, 2],
                                        attentionReduction: 4)
        XCTAssertEqual(try failures(config, seed: 3, batch: 3, height: 32, width: 32), [])
    }

    func testReferenceStagesWithoutAttention() throws {
        let config = ArchitectureConfig(numGenres: 3, baseChannels: 4, useAttention: false, embeddingDim: 6,
                                        dropout: 0, blocks: [2, 3, 2])
        XCTAssertEqual(try failures(config, seed: 2, batch: 3, height: 32, width: 24), [])
    }

    func testBaseline() throws {
        let config = ArchitectureConfig(kind: .baseline, numGenres: 4, baseChannels: 2, embeddingDim: 8, dropout: 0)
        XCTAssertEqual(try failures(config, seed: 4, batch: 4, height: 16, width: 16), [])
    }

    func testCNNLSTMBidirectionalTwoLayers() throws {
        let config = ArchitectureConfig(kind: .cnnLSTM, numGenres: 3, baseChannels: 4, embeddingDim: 6, dropout: 0,
                                        blocks: [1, 1], attentionReduction: 2, lstmHidden: 3, lstmLayers: 2)
        XCTAssertEqual(try failures(config, seed: 5, batch: 3, height: 16, width: 32), [])
    }

    /// The check is not vacuous: an attention tensor's gradient 1 % too large, or a convolution's
    /// off by 1 % of its size in a random direction, is caught, and nothing else is.
    func testCatchesAOnePercentError() throws {
        let config = ArchitectureConfig(numGenres: 4, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [2, 3, 2],
                                        attentionReduction: 4)
        let attention = "layers.2.1.attention.fc1.weight", conv = "layers.1.0.conv2.weight"
        var rng = SeededGenerator(seed: 11)
        let found = try failures(config, seed: 3, batch: 3, height: 32, width: 32) { name, gradient in
            if name == attention { return gradient.map { $0 * 1.01 } }
            guard name == conv else { return gradient }
            let noise = gradient.map { _ in rng.uniform(bound: 1) - 0.5 }
            let scale = Float(Self.norm(gradient.map(Double.init)) / Self.norm(noise.map(Double.init))) * 0.01
            return zip(gradient, noise).map { $0 + scale * $1 }
        }
        XCTAssertEqual(Set(found.map { $0.components(separatedBy: " ")[0] }), [attention, conv], found.joined(separator: "\n"))
    }

    static func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// One line per failed direction, "name along …"; `alter` may change a tensor's analytic
    /// gradient first (for the test of the check).
    private func failures(_ config: ArchitectureConfig, seed: UInt64, batch: Int, height: Int, width: Int,
                          alter: (String, [Float]) -> [Float] = { $1 }) throws -> [String] {
        let net: any TaggingNetwork
        switch config.kind {
        case .baseline: net = BaselineCNN(config, seed: seed)
        case .cnnLSTM: net = CNNLSTMNetwork(config, seed: seed)
        default: net = MultiLabelAudioCNN(config, seed: seed)
        }
        var rng = SeededGenerator(seed: 77 + seed)
        let shape = [batch, config.inputChannels, height, width]
        let x = try Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.uniform(bound: 2) })
        let projection = (0..<batch * config.numGenres).map { _ in rng.uniform(bound: 1) }
        net.zeroGrad()
        let logits = try net.forward(x, training: true).logits
        try net.backward(Tensor(shape: [batch, config.numGenres], data: projection))

        var reference = DoubleReferenceNetwork(config: config, parameters: net.parameters)
        let input = DoubleReferenceNetwork.Activation(batch: batch, channels: config.inputChannels, height: height, width: width,
                                              values: x.data.map(Double.init))
        // The same function first: the float64 logits against the network's own.
        let referenceLogits = reference.logits(input)
        let scale = logits.data.map { abs(Double($0)) }.max() ?? 0
        let worst = zip(referenceLogits, logits.data).map { abs($0 - Double($1)) }.max() ?? .infinity
        XCTAssertEqual(referenceLogits.count, logits.count)
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "the float64 forward must be the network's (scale \(scale))")
        let weights = projection.map(Double.init)
        func loss() -> Double { zip(weights, reference.logits(input)).reduce(0) { $0 + $1.0 * $1.1 } }

        let all = net.parameters.flatMap { $0.grad.data.map(Double.init) }
        let networkScale = Self.norm(all) / Double(all.count).squareRoot()
        var found: [String] = []
        for p in net.parameters {
            let g = alter(p.name, p.grad.data).map(Double.init), gNorm = Self.norm(g)
            let original = reference.parameters[p.name]!
            let n = original.count
            let h = 1e-5 * max(Self.norm(original), 1e-2 * Double(n).squareRoot())
            let random = (0..<2).map { _ in (0..<n).map { _ in Double(rng.uniform(bound: 1)) - 0.5 } }
            var numerics: [(kind: String, numeric: Double, analytic: Double)] = []
            for (kind, direction) in [("ĝ", gNorm > 0 ? g : random[0])] + random.map({ ("random", $0) }) {
                let u = direction.map { $0 / Self.norm(direction) }
                reference.parameters[p.name] = zip(original, u).map { $0 + h * $1 }
                let plus = loss()
                reference.parameters[p.name] = zip(original, u).map { $0 - h * $1 }
                let minus = loss()
                reference.parameters[p.name] = original
                numerics.append((kind, (plus - minus) / (2 * h), zip(g, u).reduce(0) { $0 + $1.0 * $1.1 }))
            }
            // A tensor whose exact gradient is zero (a bias right before a BatchNorm): its
            // float32 gradient must be rounding noise, far below the network's.
            if numerics.allSatisfy({ abs($0.numeric) <= 1e-9 * networkScale * Double(n).squareRoot() }) {
                if gNorm > 1e-4 * networkScale * Double(n).squareRoot() {
                    found.append("\(p.name) has no gradient in float64 but ‖g‖ \(gNorm) in the engine")
                }
                continue
            }
            for (kind, numeric, analytic) in numerics where abs(numeric - analytic) > 1e-3 * gNorm {
                found.append("\(p.name) along \(kind): float64 \(numeric), engine \(analytic), ‖g‖ \(gNorm)")
            }
        }
        return found
    }
}

/// The training-mode forward (BatchNorm on batch statistics) of MultiLabelAudioCNN, BaselineCNN or
/// CNNLSTMNetwork in float64, plain loops over the parameters by state_dict name. ResNet-SE: stem
/// conv 7×7/2 → BN → ReLU → max-pool 3/2 → residual blocks (conv 3×3 → BN → ReLU → conv 3×3 → BN
/// [→ squeeze-and-excitation] + shortcut → ReLU). Baseline: four conv 3×3 → BN → ReLU → max-pool 2.
/// CNN + LSTM: the ResNet-SE's stages, then `lstmFeatures`. All: global average pool (the LSTM's:
/// over time) → linear → BN1d → ReLU → classifier.
struct DoubleReferenceNetwork {
    struct Activation {
        var batch: Int, channels: Int, height: Int, width: Int
        var values: [Double]

        func at(_ b: Int, _ c: Int, _ y: Int, _ x: Int) -> Double { values[((b * channels + c) * height + y) * width + x] }
    }

    let config: ArchitectureConfig
    var parameters: [String: [Double]]

    init(config: ArchitectureConfig, parameters: [Parameter]) {
        self.config = config
        self.parameters = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value.data.map(Double.init)) })
    }

    func logits(_ input: Activation) -> [Double] {
        let pooled: [Double], width: Int
        switch config.kind {
        case .baseline:
            let a = baselineFeatures(input)
            (pooled, width) = (pool(a), a.channels)
        case .cnnLSTM:
            (pooled, width) = lstmFeatures(resNetFeatures(input))
        default:
            let a = resNetFeatures(input)
            (pooled, width) = (pool(a), a.channels)
        }
        let batch = input.batch
        var e = linear(pooled, "embedding.0", inputs: width)
        e = relu(norm(Activation(batch: batch, channels: e.count / batch, height: 1, width: 1, values: e), "embedding.1")).values
        return linear(e, "classifier", inputs: e.count / batch)
    }

    /// The CNN + LSTM's neck: the mean over frequency as a sequence over the frames (B, T, C),
    /// the LSTM's layers (both directions, PyTorch's gate order i, f, g, o, zero initial
    /// states), the mean over time; (B, D·H) and its width.
    private func lstmFeatures(_ a: Activation) -> (pooled: [Double], width: Int) {
        let T = a.width, directions = config.bidirectional ? 2 : 1, H = config.lstmHidden
        var features = a.channels
        var x = [Double](repeating: 0, count: a.batch * T * features)
        for b in 0..<a.batch {
            for c in 0..<a.channels {
                for t in 0..<T {
                    var sum = 0.0
                    for h in 0..<a.height { sum += a.at(b, c, h, t) }
                    x[(b * T + t) * features + c] = sum / Double(a.height)
                }
            }
        }
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        for layer in 0..<config.lstmLayers {
            var out = [Double](repeating: 0, count: a.batch * T * directions * H)
            for direction in 0..<directions {
                let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                let wih = parameters["lstm.weight_ih" + suffix]!, whh = parameters["lstm.weight_hh" + suffix]!
                let bih = parameters["lstm.bias_ih" + suffix]!, bhh = parameters["lstm.bias_hh" + suffix]!
                for b in 0..<a.batch {
                    var h = [Double](repeating: 0, count: H), cell = [Double](repeating: 0, count: H)
                    for step in 0..<T {
                        let t = direction == 1 ? T - 1 - step : step
                        var gate = [Double](repeating: 0, count: 4 * H)
                        for r in 0..<(4 * H) {
                            var sum = bih[r] + bhh[r]
                            for i in 0..<features { sum += wih[r * features + i] * x[(b * T + t) * features + i] }
                            for i in 0..<H { sum += whh[r * H + i] * h[i] }
                            gate[r] = sum
                        }
                        for j in 0..<H {
                            let i = sigmoid(gate[j]), f = sigmoid(gate[H + j]), g = tanh(gate[2 * H + j]), o = sigmoid(gate[3 * H + j])
                            cell[j] = f * cell[j] + i * g
                            h[j] = o * tanh(cell[j])
                            out[(b * T + t) * directions * H + direction * H + j] = h[j]
                        }
                    }
                }
            }
            x = out
            features = directions * H
        }
        var pooled = [Double](repeating: 0, count: a.batch * features)
        for b in 0..<a.batch {
            for t in 0..<T { for f in 0..<features { pooled[b * features + f] += x[(b * T + t) * features + f] / Double(T) } }
        }
        return (pooled, features)
    }

    private func baselineFeatures(_ input: Activation) -> Activation {
        var a = input
        for i in 0..<4 {
            a = conv(a, "features.\(i).0.weight", out: config.baseChannels << i, kernel: 3, stride: 1, padding: 1)
            a = maxPool(relu(norm(a, "features.\(i).1")), kernel: 2, stride: 2, padding: 0)
        }
        return a
    }

    private func resNetFeatures(_ input: Activation) -> Activation {
        let b = config.baseChannels
        var a = conv(input, "stem.0.weight", out: b, kernel: 7, stride: 2, padding: 3)
        a = relu(norm(a, "stem.1"))
        a = maxPool(a, kernel: 3, stride: 2, padding: 1)
        var channels = b
        for (i, count) in config.blocks.enumerated() {
            let width = b << i
            for j in 0..<count {
                let name = "layers.\(i).\(j)", stride = (i > 0 && j == 0) ? 2 : 1
                var out = relu(norm(conv(a, name + ".conv1.weight", out: width, kernel: 3, stride: stride, padding: 1), name + ".bn1"))
                out = norm(conv(out, name + ".conv2.weight", out: width, kernel: 3, stride: 1, padding: 1), name + ".bn2")
                if config.useAttention { out = attention(out, name + ".attention") }
                let skip = stride != 1 || channels != width
                    ? norm(conv(a, name + ".shortcut.0.weight", out: width, kernel: 1, stride: stride, padding: 0), name + ".shortcut.1")
                    : a
                out.values = zip(out.values, skip.values).map { max($0 + $1, 0) }
                a = out
                channels = width
            }
        }
        return a
    }

    private func conv(_ x: Activation, _ name: String, out K: Int, kernel k: Int, stride s: Int, padding p: Int) -> Activation {
        let w = parameters[name]!, C = x.channels
        let H = (x.height + 2 * p - k) / s + 1, W = (x.width + 2 * p - k) / s + 1
        var y = Activation(batch: x.batch, channels: K, height: H, width: W, values: Array(repeating: 0, count: x.batch * K * H * W))
        for b in 0..<x.batch {
            for o in 0..<K {
                for i in 0..<H {
                    for j in 0..<W {
                        var sum = 0.0
                        for c in 0..<C {
                            for u in 0..<k {
                                let r = i * s + u - p
                                guard r >= 0, r < x.height else { continue }
                                for v in 0..<k {
                                    let q = j * s + v - p
                                    guard q >= 0, q < x.width else { continue }
                                    sum += w[((o * C + c) * k + u) * k + v] * x.at(b, c, r, q)
                                }
                            }
                        }
                        y.values[((b * K + o) * H + i) * W + j] = sum
                    }
                }
            }
        }
        return y
    }

    /// BatchNorm on the batch's statistics (biased variance, eps 1e-5), per channel.
    private func norm(_ x: Activation, _ name: String) -> Activation {
        let gamma = parameters[name + ".weight"]!, beta = parameters[name + ".bias"]!
        let plane = x.height * x.width, n = Double(x.batch * plane)
        var y = x
        for c in 0..<x.channels {
            var mean = 0.0, variance = 0.0
            for b in 0..<x.batch { for i in 0..<plane { mean += x.values[(b * x.channels + c) * plane + i] } }
            mean /= n
            for b in 0..<x.batch {
                for i in 0..<plane { let d = x.values[(b * x.channels + c) * plane + i] - mean; variance += d * d }
            }
            let inv = 1 / (variance / n + 1e-5).squareRoot()
            for b in 0..<x.batch {
                for i in 0..<plane {
                    let index = (b * x.channels + c) * plane + i
                    y.values[index] = (x.values[index] - mean) * inv * gamma[c] + beta[c]
                }
            }
        }
        return y
    }

    private func relu(_ x: Activation) -> Activation {
        var y = x
        y.values = x.values.map { max($0, 0) }
        return y
    }

    /// Max-pool (padding never wins).
    private func maxPool(_ x: Activation, kernel k: Int, stride s: Int, padding p: Int) -> Activation {
        let H = (x.height + 2 * p - k) / s + 1, W = (x.width + 2 * p - k) / s + 1
        var y = Activation(batch: x.batch, channels: x.channels, height: H, width: W,
                           values: Array(repeating: 0, count: x.batch * x.channels * H * W))
        for b in 0..<x.batch {
            for c in 0..<x.channels {
                for i in 0..<H {
                    for j in 0..<W {
                        var best = -Double.infinity
                        for u in 0..<k {
                            for v in 0..<k {
                                let r = s * i + u - p, q = s * j + v - p
                                if r >= 0, r < x.height, q >= 0, q < x.width { best = max(best, x.at(b, c, r, q)) }
                            }
                        }
                        y.values[((b * x.channels + c) * H + i) * W + j] = best
                    }
                }
            }
        }
        return y
    }

    /// (B, C): the mean of every plane.
    private func pool(_ x: Activation) -> [Double] {
        let plane = x.height * x.width
        return (0..<(x.batch * x.channels)).map { bc in
            x.values[(bc * plane)..<((bc + 1) * plane)].reduce(0, +) / Double(plane)
        }
    }

    /// (B, inputs) → (B, outputs) with `name`.weight (outputs, inputs) and `name`.bias.
    private func linear(_ x: [Double], _ name: String, inputs: Int) -> [Double] {
        let w = parameters[name + ".weight"]!, bias = parameters[name + ".bias"]!
        let outputs = bias.count, batch = x.count / inputs
        var y = [Double](repeating: 0, count: batch * outputs)
        for b in 0..<batch {
            for o in 0..<outputs {
                var sum = bias[o]
                for i in 0..<inputs { sum += w[o * inputs + i] * x[b * inputs + i] }
                y[b * outputs + o] = sum
            }
        }
        return y
    }

    /// x · σ(fc2(relu(fc1(mean_hw(x))))) per channel.
    private func attention(_ x: Activation, _ name: String) -> Activation {
        let squeezed = pool(x)
        let hidden = linear(squeezed, name + ".fc1", inputs: x.channels).map { max($0, 0) }
        let gates = linear(hidden, name + ".fc2", inputs: hidden.count / x.batch).map { 1 / (1 + exp(-$0)) }
        var y = x
        let plane = x.height * x.width
        for bc in 0..<(x.batch * x.channels) {
            for i in 0..<plane { y.values[bc * plane + i] *= gates[bc] }
        }
        return y
    }
}
