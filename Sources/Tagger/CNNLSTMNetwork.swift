import NeuralNet

/// The seed's CNN + LSTM: the ResNet-SE's stem and stages over a longer log-mel window, the mean
/// over frequency of the last feature map as a sequence of per-frame features (B, W', C), an
/// LSTM (bidirectional by default) over that sequence, its outputs averaged over time, then the
/// same embedding and classifier head as the other networks. state_dict names: `stem.*`,
/// `layers.*`, `lstm.weight_ih_l0`…, `embedding.*`, `classifier.*`
/// (tools/reference/model.py's `CNNLSTM`).
public final class CNNLSTMNetwork: TaggingNetwork {
    public let config: ArchitectureConfig
    private let workspace = ConvWorkspace()
    private let input = NetworkInput()

    let stemConv: Conv2d
    let stemNorm: BatchNorm2d
    let stemReLU = ReLU(inPlace: true)
    let stemPool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
    let stages: [[ResidualBlock]]
    let sequence = FrequencyMeanSequence()
    let lstm: LSTM
    let timePool = SequenceMeanPool()
    let head: TaggingHead
    private let tap: StageTap

    public init(_ config: ArchitectureConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        let b = min(1024, max(1, config.baseChannels)), inputChannels = max(1, config.inputChannels)
        stemConv = Conv2d(name: "stem.0", inChannels: inputChannels, outChannels: b, kernelSize: 7, stride: 2,
                          padding: 3, bias: false, rng: &rng, workspace: workspace)
        stemConv.computesInputGradient = false
        stemNorm = BatchNorm2d(name: "stem.1", numFeatures: b)
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
        let hidden = min(8192, max(1, config.lstmHidden))
        lstm = LSTM(name: "lstm", inputSize: width, hiddenSize: hidden, numLayers: min(8, max(1, config.lstmLayers)),
                    bidirectional: config.bidirectional, rng: &rng)
        head = TaggingHead(features: lstm.directions * hidden, config: config, rng: &rng)
        var named: [(name: String, layers: [any Layer])] = [("stem", [stemConv, stemNorm, stemReLU, stemPool])]
        for (i, stage) in stages.enumerated() { named.append(("layers.\(i)", stage.map { $0 as any Layer })) }
        tap = StageTap(named, neck: [sequence, lstm, timePool])
    }

    public var stateEntries: [StateEntry] {
        stemConv.stateEntries + stemNorm.stateEntries + stages.flatMap { $0.flatMap(\.stateEntries) }
            + lstm.stateEntries + head.stateEntries
    }

    // x is (B, inputChannels, H, W); logits (B, numGenres), embeddings (B, embeddingDim)
    public func forward(_ x: Tensor, training: Bool) throws(ShapeError) -> ModelOutput {
        tap.invalidate()
        var a = try input.load(x, channels: stemConv.inChannels, training: training, model: "CNNLSTMNetwork")
        if training {
            a = try stemConv.forward(a, training: training)
            a = try stemNorm.forward(a, training: training)
            a = try stemReLU.forward(a, training: training)
        } else {
            a = try stemConv.forwardEvaluation(a, normalizedBy: stemNorm, relu: true)
        }
        a = try training ? stemPool.forward(a, training: true) : stemPool.forwardInference(a)
        for stage in stages {
            for block in stage { a = try training ? block.forward(a, training: true) : block.forwardInference(a) }
        }
        a = try sequence.forward(a, training: training)
        a = try lstm.forward(a, training: training)
        a = try timePool.forward(a, training: training)
        let output = try head.forward(a, training: training)
        input.finish(training: training, batch: x.shape[0])
        return output
    }

    public func backward(_ dLogits: Tensor) throws(ShapeError) {
        try input.withGradient(dLogits, numGenres: head.numGenres, model: "CNNLSTMNetwork") { (dout) throws(ShapeError) in
            var d = try head.backward(dout)
            d = try timePool.backward(d)
            d = try lstm.backward(d)
            d = try sequence.backward(d)
            for stage in stages.reversed() {
                for block in stage.reversed() { d = try block.backward(d) }
            }
            d = try stemPool.backward(d)
            d = try stemReLU.backward(d)
            d = try stemNorm.backward(d)
            _ = try stemConv.backward(d)
        }
    }

    public var stageNames: [String] { tap.names }

    // x is (B, inputChannels, H, W): the evaluation forward through the stages as layers (no folding)
    public func forward(_ x: Tensor, tappingStage stage: Int) throws(ShapeError) -> TappedOutput {
        tap.invalidate()
        let a = try input.load(x, channels: stemConv.inChannels, training: false, model: "CNNLSTMNetwork")
        let output = try tap.forward(a, stage: stage, head: head, model: "CNNLSTMNetwork")
        input.finish(training: false, batch: x.shape[0])
        return output
    }

    public func backwardToTap(_ dLogits: Tensor) throws(ShapeError) -> Tensor {
        try tap.backward(dLogits, head: head, model: "CNNLSTMNetwork")
    }
}
