import NeuralNet

/// The head both tagging networks share, after their convolutional features: global average
/// pool → embedding (linear, BN1d, ReLU) → dropout → classifier, with the reference's
/// state_dict names `embedding.0`, `embedding.1` and `classifier`.
final class TaggingHead {
    let pool = GlobalAvgPool()
    let embeddingLinear: Linear
    let embeddingNorm: BatchNorm1d
    let embeddingReLU = ReLU(inPlace: true)
    let dropout: Dropout
    let classifier: Linear
    /// Added to the embeddings' gradient by the next `backward` (an embedding-level loss, such as
    /// `RelationalDistillation`), then cleared: (B, embeddingDim).
    var embeddingGradient: Tensor?

    /// - Parameter features: channels of the feature map the head pools.
    init(features: Int, config: ArchitectureConfig, rng: inout SeededGenerator) {
        let embeddingDim = max(1, config.embeddingDim)
        embeddingLinear = Linear(name: "embedding.0", inFeatures: features, outFeatures: embeddingDim, rng: &rng)
        embeddingNorm = BatchNorm1d(name: "embedding.1", numFeatures: embeddingDim)
        classifier = Linear(name: "classifier", inFeatures: embeddingDim, outFeatures: max(1, config.numGenres), rng: &rng)
        dropout = Dropout(probability: config.dropout, seed: rng.next())
    }

    var stateEntries: [StateEntry] {
        embeddingLinear.stateEntries + embeddingNorm.stateEntries + classifier.stateEntries
    }

    var numGenres: Int { classifier.outFeatures }

    // a is (B, C, H, W); logits (B, numGenres), embeddings (B, embeddingDim) before dropout
    func forward(_ a: Activation, training: Bool) throws(ShapeError) -> ModelOutput {
        var a = try pool.forward(a, training: training)
        a = try embeddingLinear.forward(a, training: training)
        a = try embeddingNorm.forward(a, training: training)
        let embeddings = try embeddingReLU.forward(a, training: training)
        a = try dropout.forward(embeddings, training: training)
        let logits = try classifier.forward(a, training: training)
        return ModelOutput(logits: logits.tensor([logits.shape.batch, logits.shape.channels]),
                           embeddings: embeddings.tensor([embeddings.shape.batch, embeddings.shape.channels]))
    }

    func setEmbeddingGradient(_ g: Tensor, batch: Int, model: String) throws(ShapeError) {
        try g.checkShape([batch, embeddingLinear.outFeatures], "\(model).backward gradient of the embeddings")
        embeddingGradient = g
    }

    // dLogits is (B, numGenres); returns the gradient of the pooled feature map (B, C, H, W)
    func backward(_ dLogits: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        var d = try classifier.backward(dLogits)
        d = try dropout.backward(d)
        if let extra = embeddingGradient {
            embeddingGradient = nil
            extra.data.withUnsafeBufferPointer { for k in $0.indices { d[k] += $0[k] } }
        }
        d = try embeddingReLU.backward(d)
        d = try embeddingNorm.backward(d)
        d = try embeddingLinear.backward(d)
        return try pool.backward(d)
    }
}
