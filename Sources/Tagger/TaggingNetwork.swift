import NeuralNet

/// A multi-label CNN over log-mel chunks (B, inputChannels, n_mels, frames) with PyTorch
/// state_dict names, so checkpoints move between this engine and the reference.
public protocol TaggingNetwork: AnyObject {
    var config: ArchitectureConfig { get }
    /// Parameters and buffers in `state_dict` order.
    var stateEntries: [StateEntry] { get }
    /// Trainable parameters in `named_parameters` order.
    var parameters: [Parameter] { get }
    /// Parameters and buffers in `state_dict` order; `num_batches_tracked` is a 0-dimensional
    /// (one-element) tensor, as in PyTorch.
    func stateDict() -> [(name: String, tensor: Tensor)]
    /// Replaces every parameter and buffer; throws, changing nothing, unless the names and
    /// shapes match exactly.
    func loadStateDict(_ entries: [String: Tensor]) throws(CheckpointError)
    func forward(_ x: Tensor, training: Bool) throws(ShapeError) -> ModelOutput
    /// The gradient of the logits of the last `forward(training: true)`; accumulates into the
    /// parameters' `grad`.
    func backward(_ dLogits: Tensor) throws(ShapeError)
    /// As `backward(_:)`, with `dEmbeddings` ((B, embeddingDim)) added to the gradient of the
    /// embeddings (`ModelOutput.embeddings`) — a loss on them, such as `RelationalDistillation`.
    func backward(_ dLogits: Tensor, dEmbeddings: Tensor) throws(ShapeError)
    func zeroGrad()

    /// The convolutional stages in forward order, by module path (`stem`, `layers.0`, … or
    /// `features.0`, …): the feature maps a tap can read. The last is the last convolutional stage.
    var stageNames: [String] { get }
    /// An evaluation forward (running statistics, no dropout, nothing fused) that keeps what
    /// backward needs, with a copy of the output of stage `stage` (an index into `stageNames`),
    /// (B, C, H', W').
    func forward(_ x: Tensor, tappingStage stage: Int) throws(ShapeError) -> TappedOutput
    /// The gradient of the logits of the last `forward(_:tappingStage:)` with respect to the
    /// tapped stage's output, (B, C, H', W'): backward through the head and the stages after the
    /// tap only. Accumulates into those layers' parameter gradients, as `backward` does.
    func backwardToTap(_ dLogits: Tensor) throws(ShapeError) -> Tensor
}

/// What `forward(_:tappingStage:)` gives: the network's output and one stage's activation.
public struct TappedOutput: Sendable {
    public var output: ModelOutput
    /// Index into `stageNames`.
    public var stage: Int
    /// The stage's output, (B, C, H', W').
    public var activation: Tensor
}

extension TaggingNetwork {
    public var parameters: [Parameter] {
        stateEntries.compactMap { if case .parameter(let p) = $0 { p } else { nil } }
    }

    /// The number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    public func stateDict() -> [(name: String, tensor: Tensor)] {
        stateEntries.map { ($0.name, $0.tensor) }
    }

    public func loadStateDict(_ entries: [String: Tensor]) throws(CheckpointError) {
        var error = CheckpointError()
        let own = stateEntries
        let ownNames = Set(own.map(\.name))
        var accepted: [(StateEntry, Tensor)] = []
        for entry in own {
            guard let given = entries[entry.name] else {
                error.missing.append(entry.name)
                continue
            }
            let expected = entry.tensor.shape
            // A scalar buffer may arrive as shape [] (PyTorch) or [1].
            let scalarMatch = expected.reduce(1, *) == 1 && given.count == 1 && expected.count <= 1 && given.rank <= 1
            guard given.shape == expected || scalarMatch, let reshaped = try? given.reshaped(expected) else {
                error.wrongShape.append((entry.name, expected, given.shape))
                continue
            }
            accepted.append((entry, reshaped))
        }
        error.unexpected = entries.keys.filter { !ownNames.contains($0) }.sorted()
        guard error.isEmpty else { throw error }
        for (entry, tensor) in accepted { entry.assign(tensor) }
    }

    public func zeroGrad() {
        for p in parameters { p.zeroGrad() }
    }
}

/// The network a configuration describes, initialised as PyTorch does from `seed`.
/// Call `config.validate()` first for configurations from users: invalid sizes are clamped to 1.
public func makeNetwork(_ config: ArchitectureConfig, seed: UInt64) -> any TaggingNetwork {
    switch config.kind {
    case .resnetSE: MultiLabelAudioCNN(config, seed: seed)
    case .baseline: BaselineCNN(config, seed: seed)
    case .cnnLSTM: CNNLSTMNetwork(config, seed: seed)
    case .musicnn: MusicnnNetwork(config, seed: seed)
    }
}
