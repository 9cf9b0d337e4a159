import NeuralNet

/// What a tagging network computes for a batch.
public struct ModelOutput: Sendable {
    /// (B, numGenres), before the sigmoid.
    public var logits: Tensor
    /// (B, embeddingDim): the output of the embedding block, before dropout.
    public var embeddings: Tensor

    public init(logits: Tensor, embeddings: Tensor) {
        self.logits = logits; self.embeddings = embeddings
    }
}
