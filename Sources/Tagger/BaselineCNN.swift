import NeuralNet

/// The seed's baseline: four plain blocks conv 3×3 (no bias) → BN → ReLU → max-pool 2 with
/// widths base·(1, 2, 4, 8), then global average pool → embedding (linear, BN1d, ReLU) →
/// dropout → classifier. No residuals, no attention.
public final class BaselineCNN: TaggingNetwork {
    public let config: ArchitectureConfig
    private let workspace = ConvWorkspace()
    private let input = NetworkInput()

    let features: [(conv: Conv2d, norm: BatchNorm2d, relu: ReLU, pool: MaxPool2d)]
    let head: TaggingHead
    private let tap: StageTap

    public init(_ config: ArchitectureConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        let b = max(1, config.baseChannels)
        var features: [(conv: Conv2d, norm: BatchNorm2d, relu: ReLU, pool: MaxPool2d)] = []
        var inChannels = max(1, config.inputChannels)
        for (i, width) in [b, 2 * b, 4 * b, 8 * b].enumerated() {
            let conv = Conv2d(name: "features.\(i).0", inChannels: inChannels, outChannels: width, kernelSize: 3,
                              stride: 1, padding: 1, bias: false, rng: &rng, workspace: workspace)
            conv.computesInputGradient = i > 0
            features.append((conv, BatchNorm2d(name: "features.\(i).1", numFeatures: width), ReLU(inPlace: true),
                             MaxPool2d(kernelSize: 2)))
            inChannels = width
        }
        self.features = features
        head = TaggingHead(features: 8 * b, config: config, rng: &rng)
        tap = StageTap(features.enumerated().map { i, f -> (name: String, layers: [any Layer]) in ("features.\(i)", [f.conv, f.norm, f.relu, f.pool]) })
    }

    public var stateEntries: [StateEntry] {
        features.flatMap { $0.conv.stateEntries + $0.norm.stateEntries }
            + head.stateEntries
    }

    // x is (B, inputChannels, H, W) with H, W ≥ 16; logits (B, numGenres), embeddings (B, embeddingDim)
    public func forward(_ x: Tensor, training: Bool) throws(ShapeError) -> ModelOutput {
        tap.invalidate()
        var a = try input.load(x, channels: features[0].conv.inChannels, training: training, model: "BaselineCNN")
        for f in features {
            if training {
                a = try f.conv.forward(a, training: training)
                a = try f.norm.forward(a, training: training)
                a = try f.relu.forward(a, training: training)
            } else {
                a = try f.conv.forwardEvaluation(a, normalizedBy: f.norm, relu: true)
            }
            a = try training ? f.pool.forward(a, training: true) : f.pool.forwardInference(a)
        }
        let output = try head.forward(a, training: training)
        input.finish(training: training, batch: x.shape[0])
        return output
    }

    public func backward(_ dLogits: Tensor, dEmbeddings: Tensor) throws(ShapeError) {
        try head.setEmbeddingGradient(dEmbeddings, batch: dLogits.shape.first ?? 0, model: "BaselineCNN")
        defer { head.embeddingGradient = nil }
        try backward(dLogits)
    }

    // dLogits is (B, numGenres): the same list as forward, reversed
    public func backward(_ dLogits: Tensor) throws(ShapeError) {
        try input.withGradient(dLogits, numGenres: head.numGenres, model: "BaselineCNN") { (dout) throws(ShapeError) in
            var d = try head.backward(dout)
            for f in features.reversed() {
                d = try f.pool.backward(d)
                d = try f.relu.backward(d)
                d = try f.norm.backward(d)
                d = try f.conv.backward(d)
            }
        }
    }

    public var stageNames: [String] { tap.names }

    // x is (B, inputChannels, H, W): the evaluation forward through the stages as layers (no folding)
    public func forward(_ x: Tensor, tappingStage stage: Int) throws(ShapeError) -> TappedOutput {
        tap.invalidate()
        let a = try input.load(x, channels: features[0].conv.inChannels, training: false, model: "BaselineCNN")
        let output = try tap.forward(a, stage: stage, head: head, model: "BaselineCNN")
        input.finish(training: false, batch: x.shape[0])
        return output
    }

    public func backwardToTap(_ dLogits: Tensor) throws(ShapeError) -> Tensor {
        try tap.backward(dLogits, head: head, model: "BaselineCNN")
    }
}
