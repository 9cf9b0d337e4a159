import Features
import Foundation
import NeuralNet
import Tagger

/// The model side of a worker batch, the same computation as `Predictor` but across tracks:
/// features (`TrackFeatures`: the chunks' audio decoded, their log-mel, normalised) may run
/// on several threads at once; the network then sees the chunks of all the batch's tracks together,
/// `forwardBatchSize` at a time, so small tracks fill one forward pass instead of many.
///
/// Per track: probabilities = mean over its chunks of sigmoid(logits); embedding = the
/// L2-normalised mean of its chunk embeddings (as `Predictor.predict(chunks:duration:)`).
final class BatchInference: @unchecked Sendable {
    // `features` reads only the Sendable `TrackFeatures` and value types, so it is safe from any
    // thread; `predict` uses the network, which reuses buffers: one caller at a time.
    let bundle: ModelBundle
    let config: PredictionConfig
    let trackFeatures: TrackFeatures
    var forwardBatchSize = 64

    init(bundle: ModelBundle, config: PredictionConfig) throws {
        self.bundle = bundle
        self.config = config
        trackFeatures = try TrackFeatures(bundle: bundle, config: config)
    }

    func features(path: String) throws -> TrackChunks { try trackFeatures.chunks(path: path) }

    /// (probabilities in label order, embedding) per track, in the order given.
    func predict(_ tracks: [ChunkBatch]) throws -> [(probabilities: [Float], embedding: [Float])] {
        let labels = bundle.labels.count
        let dim = bundle.network.config.embeddingDim
        var probabilities = [[Float]](repeating: [Float](repeating: 0, count: labels), count: tracks.count)
        var embeddings = [[Float]](repeating: [Float](repeating: 0, count: dim), count: tracks.count)
        // (track, chunk) pairs in order; a forward pass takes the next `forwardBatchSize`.
        var owners: [Int] = []
        for (track, batch) in tracks.enumerated() { owners += repeatElement(track, count: batch.count) }
        var chunkInTrack = [Int](repeating: 0, count: tracks.count)
        guard let first = tracks.first else { return [] }
        let chunkSize = first.nMels * first.frames
        var input = [Float]()
        input.reserveCapacity(forwardBatchSize * chunkSize)
        var start = 0
        while start < owners.count {
            let n = min(max(1, forwardBatchSize), owners.count - start)
            input.removeAll(keepingCapacity: true)
            for k in start..<(start + n) {
                let track = owners[k]
                let chunk = chunkInTrack[track]
                chunkInTrack[track] += 1
                input.append(contentsOf: tracks[track].values[(chunk * chunkSize)..<((chunk + 1) * chunkSize)])
            }
            let output = try bundle.network.forward(Tensor(shape: [n, 1, first.nMels, first.frames], data: input), training: false)
            output.logits.data.withUnsafeBufferPointer { logits in
                output.embeddings.data.withUnsafeBufferPointer { vectors in
                    for i in 0..<n {
                        let track = owners[start + i]
                        for j in 0..<labels { probabilities[track][j] += 1 / (1 + exp(-logits[i * labels + j])) }
                        for j in 0..<dim { embeddings[track][j] += vectors[i * dim + j] }
                    }
                }
            }
            start += n
        }
        for track in tracks.indices {
            let inverse = 1 / Float(tracks[track].count)
            for j in 0..<labels { probabilities[track][j] *= inverse }
            let norm = embeddings[track].reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { for j in 0..<dim { embeddings[track][j] /= norm } }
        }
        return Array(zip(probabilities, embeddings)).map { ($0.0, $0.1) }
    }
}
