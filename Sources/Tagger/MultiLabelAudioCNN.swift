import NeuralNet

/// The reference `MultiLabelAudioCNN`: a ResNet with squeeze-and-excitation over log-mel chunks.
/// stem (conv 7×7/2, BN, ReLU, max-pool 3/2) → stages of residual blocks (widths base·2ⁱ, the
/// first block of every stage after the first with stride 2) → global average pool →
/// embedding (linear, BN1d, ReLU) → dropout → classifier.
public final class MultiLabelAudioCNN: TaggingNetwork {
    public let config: ArchitectureConfig
    private let input = NetworkInput()

    let features: ResNetSEFeatures
    let head: TaggingHead
    private let tap: StageTap

    public init(_ config: ArchitectureConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        features = ResNetSEFeatures(config, rng: &rng)
        head = TaggingHead(features: features.width, config: config, rng: &rng)
        tap = StageTap(features.namedStages)
    }

    public var stateEntries: [StateEntry] { features.stateEntries + head.stateEntries }

    // x is (B, inputChannels, H, W); logits (B, numGenres), embeddings (B, embeddingDim)
    public func forward(_ x: Tensor, training: Bool) throws(ShapeError) -> ModelOutput {
        tap.invalidate()
        let a = try input.load(x, channels: features.inputChannels, training: training, model: "MultiLabelAudioCNN")
        let output = try head.forward(try features.forward(a, training: training), training: training)
        input.finish(training: training, batch: x.shape[0])
        return output
    }

    public func backward(_ dLogits: Tensor, dEmbeddings: Tensor) throws(ShapeError) {
        try head.setEmbeddingGradient(dEmbeddings, batch: dLogits.shape.first ?? 0, model: "MultiLabelAudioCNN")
        defer { head.embeddingGradient = nil }
        try backward(dLogits)
    }

    // dLogits is (B, numGenres): the same list as forward, reversed
    public func backward(_ dLogits: Tensor) throws(ShapeError) {
        try input.withGradient(dLogits, numGenres: head.numGenres, model: "MultiLabelAudioCNN") { (dout) throws(ShapeError) in
            try features.backward(try head.backward(dout))
        }
    }

    public var stageNames: [String] { tap.names }

    // x is (B, inputChannels, H, W): the evaluation forward through the stages as layers (no folding)
    public func forward(_ x: Tensor, tappingStage stage: Int) throws(ShapeError) -> TappedOutput {
        tap.invalidate()
        let a = try input.load(x, channels: features.inputChannels, training: false, model: "MultiLabelAudioCNN")
        let output = try tap.forward(a, stage: stage, head: head, model: "MultiLabelAudioCNN")
        input.finish(training: false, batch: x.shape[0])
        return output
    }

    public func backwardToTap(_ dLogits: Tensor) throws(ShapeError) -> Tensor {
        try tap.backward(dLogits, head: head, model: "MultiLabelAudioCNN")
    }
}
