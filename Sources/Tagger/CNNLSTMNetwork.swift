import NeuralNet

/// The seed's CNN + LSTM: the ResNet-SE's stem and stages over a longer log-mel window, the mean
/// over frequency of the last feature map as a sequence of per-frame features (B, W', C), an
/// LSTM (bidirectional by default) over that sequence, its outputs averaged over time, then the
/// same embedding and classifier head as the other networks. state_dict names: `stem.*`,
/// `layers.*`, `lstm.weight_ih_l0`…, `embedding.*`, `classifier.*`
/// (tools/reference/model.py's `CNNLSTM`).
public final class CNNLSTMNetwork: TaggingNetwork {
    public let config: ArchitectureConfig
    private let input = NetworkInput()

    let features: ResNetSEFeatures
    let sequence = FrequencyMeanSequence()
    let lstm: LSTM
    let timePool = SequenceMeanPool()
    let head: TaggingHead
    private let tap: StageTap

    public init(_ config: ArchitectureConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        features = ResNetSEFeatures(config, rng: &rng)
        let hidden = min(8192, max(1, config.lstmHidden))
        lstm = LSTM(name: "lstm", inputSize: features.width, hiddenSize: hidden, numLayers: min(8, max(1, config.lstmLayers)),
                    bidirectional: config.bidirectional, rng: &rng)
        head = TaggingHead(features: lstm.directions * hidden, config: config, rng: &rng)
        tap = StageTap(features.namedStages, neck: [sequence, lstm, timePool])
    }

    public var stateEntries: [StateEntry] { features.stateEntries + lstm.stateEntries + head.stateEntries }

    // x is (B, inputChannels, H, W); logits (B, numGenres), embeddings (B, embeddingDim)
    public func forward(_ x: Tensor, training: Bool) throws(ShapeError) -> ModelOutput {
        tap.invalidate()
        var a = try input.load(x, channels: features.inputChannels, training: training, model: "CNNLSTMNetwork")
        a = try features.forward(a, training: training)
        a = try sequence.forward(a, training: training)
        a = try lstm.forward(a, training: training)
        a = try timePool.forward(a, training: training)
        let output = try head.forward(a, training: training)
        input.finish(training: training, batch: x.shape[0])
        return output
    }

    public func backward(_ dLogits: Tensor, dEmbeddings: Tensor) throws(ShapeError) {
        try head.setEmbeddingGradient(dEmbeddings, batch: dLogits.shape.first ?? 0, model: "CNNLSTMNetwork")
        defer { head.embeddingGradient = nil }
        try backward(dLogits)
    }

    public func backward(_ dLogits: Tensor) throws(ShapeError) {
        try input.withGradient(dLogits, numGenres: head.numGenres, model: "CNNLSTMNetwork") { (dout) throws(ShapeError) in
            var d = try head.backward(dout)
            d = try timePool.backward(d)
            d = try lstm.backward(d)
            d = try sequence.backward(d)
            try features.backward(d)
        }
    }

    public var stageNames: [String] { tap.names }

    // x is (B, inputChannels, H, W): the evaluation forward through the stages as layers (no folding)
    public func forward(_ x: Tensor, tappingStage stage: Int) throws(ShapeError) -> TappedOutput {
        tap.invalidate()
        let a = try input.load(x, channels: features.inputChannels, training: false, model: "CNNLSTMNetwork")
        let output = try tap.forward(a, stage: stage, head: head, model: "CNNLSTMNetwork")
        input.finish(training: false, batch: x.shape[0])
        return output
    }

    public func backwardToTap(_ dLogits: Tensor) throws(ShapeError) -> Tensor {
        try tap.backward(dLogits, head: head, model: "CNNLSTMNetwork")
    }
}
