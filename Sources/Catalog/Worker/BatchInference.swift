import AudioIO
import Features
import Foundation
import NeuralNet
import Tagger

/// The model side of a worker batch, the same computation as `Predictor` but across tracks:
/// features (`TrackFeatures`: the chunks' audio decoded, their log-mel, normalised) may run
/// on several threads at once; the network then sees the chunks of all the batch's tracks together,
/// `forwardBatchSize` at a time, so small tracks fill one forward pass instead of many.
///
/// Per track, the result is `TrackAggregate`'s, exactly as `Predictor`'s.
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

    /// The chunks of a library file: opened read-only by descriptor, refused unless it is a
    /// regular file inside `libraryRoot` (`ReadOnlyFile(path:confinedTo:)`).
    func features(path: String, libraryRoot: String) throws -> TrackChunks {
        try trackFeatures.chunks(file: ReadOnlyFile(path: path, confinedTo: libraryRoot))
    }

    /// (probabilities in label order, embedding) per track, in the order given.
    func predict(_ tracks: [ChunkBatch]) throws -> [(probabilities: [Float], embedding: [Float])] {
        var aggregates = [TrackAggregate](repeating: TrackAggregate(labels: bundle.labels.count,
                                                                    embeddingDimension: bundle.network.config.embeddingDim),
                                          count: tracks.count)
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
                    for i in 0..<n { aggregates[owners[start + i]].add(logits: logits, embeddings: vectors, row: i) }
                }
            }
            start += n
        }
        return aggregates.map { $0.finished() }
    }
}
