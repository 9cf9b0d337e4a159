import Foundation

/// How a track's result is made from its chunks, in one place for every caller (`Predictor`
/// for one track, the catalog's batch inference across tracks): probabilities = mean over the
/// chunks of sigmoid(logit); embedding = the L2-normalised mean of the chunk embeddings.
public struct TrackAggregate: Sendable {
    public private(set) var probabilities: [Float]
    public private(set) var embedding: [Float]
    public private(set) var chunkCount = 0

    public init(labels: Int, embeddingDimension: Int) {
        probabilities = [Float](repeating: 0, count: labels)
        embedding = [Float](repeating: 0, count: embeddingDimension)
    }

    /// Adds one chunk: row `row` of a (chunks, labels) logits buffer and a (chunks, dim) embeddings buffer.
    public mutating func add(logits: UnsafeBufferPointer<Float>, embeddings: UnsafeBufferPointer<Float>, row: Int) {
        let labels = probabilities.count, dim = embedding.count
        for j in 0..<labels { probabilities[j] += sigmoid(logits[row * labels + j]) }
        for j in 0..<dim { embedding[j] += embeddings[row * dim + j] }
        chunkCount += 1
    }

    /// The mean probabilities and the unit-length mean embedding (unchanged when it is all zeros).
    public func finished() -> (probabilities: [Float], embedding: [Float]) {
        guard chunkCount > 0 else { return (probabilities, embedding) }
        let inverse = 1 / Float(chunkCount)
        let mean = probabilities.map { $0 * inverse }
        let norm = embedding.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return (mean, norm > 0 ? embedding.map { $0 / norm } : embedding)
    }
}
