import NeuralNet

/// The seed's baseline: four plain blocks conv 3×3 (no bias) → BN → ReLU → max-pool 2 with
/// widths base·(1, 2, 4, 8), then global average pool → embedding (linear, BN1d, ReLU) →
/// dropout → classifier. No residuals, no attention.
public final class BaselineCNN: TaggingNetwork {
    public let config: ArchitectureConfig
    private let workspace = ConvWorkspace()
    private let input = NetworkInput()

    let features: [(conv: Conv2d, norm: BatchNorm2d, relu: ReLU, pool: MaxPool2d)]
    let pool = GlobalAvgPool()
    let embeddingLinear: Linear
    let embeddingNorm: BatchNorm1d
    let embeddingReLU = ReLU(inPlace: true)
    let dropout: Dropout
    let classifier: Linear

    public init(_ config: ArchitectureConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        let b = max(1, config.baseChannels), embeddingDim = max(1, config.embeddingDim)
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
        embeddingLinear = Linear(name: "embedding.0", inFeatures: 8 * b, outFeatures: embeddingDim, rng: &rng)
        embeddingNorm = BatchNorm1d(name: "embedding.1", numFeatures: embeddingDim)
        classifier = Linear(name: "classifier", inFeatures: embeddingDim, outFeatures: max(1, config.numGenres), rng: &rng)
        dropout = Dropout(probability: config.dropout, seed: rng.next())
    }

    public var stateEntries: [StateEntry] {
        features.flatMap { $0.conv.stateEntries + $0.norm.stateEntries }
            + embeddingLinear.stateEntries + embeddingNorm.stateEntries + classifier.stateEntries
    }

    // x is (B, inputChannels, H, W) with H, W ≥ 16; logits (B, numGenres), embeddings (B, embeddingDim)
    public func forward(_ x: Tensor, training: Bool) throws(ShapeError) -> ModelOutput {
        var a = try input.load(x, channels: features[0].conv.inChannels, training: training, model: "BaselineCNN")
        for f in features {
            a = try f.conv.forward(a, training: training)
            a = try f.norm.forward(a, training: training)
            a = try f.relu.forward(a, training: training)
            a = try f.pool.forward(a, training: training)
        }
        a = try pool.forward(a, training: training)
        a = try embeddingLinear.forward(a, training: training)
        a = try embeddingNorm.forward(a, training: training)
        let embeddings = try embeddingReLU.forward(a, training: training)
        a = try dropout.forward(embeddings, training: training)
        let logits = try classifier.forward(a, training: training)
        input.finish(training: training, batch: x.shape[0])
        return ModelOutput(logits: logits.tensor([logits.shape.batch, logits.shape.channels]),
                           embeddings: embeddings.tensor([embeddings.shape.batch, embeddings.shape.channels]))
    }

    // dLogits is (B, numGenres): the same list as forward, reversed
    public func backward(_ dLogits: Tensor) throws(ShapeError) {
        try input.withGradient(dLogits, numGenres: classifier.outFeatures, model: "BaselineCNN") { (dout) throws(ShapeError) in
            var d = try classifier.backward(dout)
            d = try dropout.backward(d)
            d = try embeddingReLU.backward(d)
            d = try embeddingNorm.backward(d)
            d = try embeddingLinear.backward(d)
            d = try pool.backward(d)
            for f in features.reversed() {
                d = try f.pool.backward(d)
                d = try f.relu.backward(d)
                d = try f.norm.backward(d)
                d = try f.conv.backward(d)
            }
        }
    }
}
