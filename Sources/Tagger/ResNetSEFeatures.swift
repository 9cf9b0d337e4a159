import NeuralNet

/// The convolutional part of the reference `MultiLabelAudioCNN`, which the CNN + LSTM reuses:
/// stem (conv 7×7/2, BN, ReLU, max-pool 3/2) → stages of residual blocks with squeeze-and-
/// excitation (widths base·2ⁱ, the first block of every stage after the first with stride 2).
/// state_dict names `stem.0`, `stem.1`, `layers.i.j.*`.
final class ResNetSEFeatures {
    private let workspace = ConvWorkspace()
    let stemConv: Conv2d
    let stemNorm: BatchNorm2d
    let stemReLU = ReLU(inPlace: true)
    let stemPool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
    let stages: [[ResidualBlock]]
    /// Channels of the last stage's output.
    let width: Int

    init(_ config: ArchitectureConfig, rng: inout SeededGenerator) {
        let b = min(1024, max(1, config.baseChannels)), inputChannels = max(1, config.inputChannels)
        stemConv = Conv2d(name: "stem.0", inChannels: inputChannels, outChannels: b, kernelSize: 7, stride: 2,
                          padding: 3, bias: false, rng: &rng, workspace: workspace)
        stemConv.computesInputGradient = false
        stemNorm = BatchNorm2d(name: "stem.1", numFeatures: b)
        // Clamped so that an unvalidated configuration cannot overflow the widths below.
        let blocks = config.blocks.isEmpty ? [1] : config.blocks.prefix(8).map { min(64, max(1, $0)) }
        var stages: [[ResidualBlock]] = []
        var inChannels = b, width = b
        for (i, count) in blocks.enumerated() {
            width = b << i
            var stage: [ResidualBlock] = []
            for j in 0..<count {
                stage.append(ResidualBlock(
                    name: "layers.\(i).\(j)", inChannels: j == 0 ? inChannels : width, outChannels: width,
                    stride: (i > 0 && j == 0) ? 2 : 1, useAttention: config.useAttention,
                    reduction: config.attentionReduction, rng: &rng, workspace: workspace))
            }
            stages.append(stage)
            inChannels = width
        }
        self.stages = stages
        self.width = width
    }

    var inputChannels: Int { stemConv.inChannels }

    var stateEntries: [StateEntry] {
        stemConv.stateEntries + stemNorm.stateEntries + stages.flatMap { $0.flatMap(\.stateEntries) }
    }

    /// `stem`, `layers.0`, …: the stages a `StageTap` names, over these same layer objects.
    var namedStages: [(name: String, layers: [any Layer])] {
        var named: [(name: String, layers: [any Layer])] = [("stem", [stemConv, stemNorm, stemReLU, stemPool])]
        for (i, stage) in stages.enumerated() { named.append(("layers.\(i)", stage.map { $0 as any Layer })) }
        return named
    }

    // a is (B, inputChannels, H, W); returns the last stage's (B, width, H', W')
    func forward(_ a: Activation, training: Bool) throws(ShapeError) -> Activation {
        var a = a
        if training {
            a = try stemConv.forward(a, training: training)
            a = try stemNorm.forward(a, training: training)
            a = try stemReLU.forward(a, training: training)
        } else {
            a = try stemConv.forwardEvaluation(a, normalizedBy: stemNorm, relu: true)
        }
        a = try training ? stemPool.forward(a, training: true) : stemPool.forwardInference(a)
        for stage in stages {
            // Inference folds the blocks' BatchNorms and ReLUs: the evaluation max-pool above
            // already rules out a backward.
            for block in stage { a = try training ? block.forward(a, training: true) : block.forwardInference(a) }
        }
        return a
    }

    // d is the gradient of the last stage's output: the same list as forward, reversed
    func backward(_ d: UnsafeMutablePointer<Float>) throws(ShapeError) {
        var d = d
        for stage in stages.reversed() {
            for block in stage.reversed() { d = try block.backward(d) }
        }
        d = try stemPool.backward(d)
        d = try stemReLU.backward(d)
        d = try stemNorm.backward(d)
        _ = try stemConv.backward(d)
    }
}
