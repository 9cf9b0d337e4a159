import AudioIO
import Features
import Foundation
import NeuralNet

/// One track's result: per-label probabilities (mean over its chunks) and its embedding
/// (the L2-normalised mean of its chunk embeddings).
public struct TrackPrediction: Sendable, Equatable {
    public var probabilities: [Float]
    public var embedding: [Float]
    public var chunkCount: Int
    /// Seconds of audio the prediction saw.
    public var duration: Double
}

/// Tags tracks with a model bundle: `TrackFeatures` (log-mel chunks every `chunk_hop` frames,
/// at most `max_chunks` spread evenly, only their audio decoded, normalised) → network (eval)
/// → sigmoid → mean. Not thread-safe (the network reuses its buffers): one per thread.
public final class Predictor {
    public let bundle: ModelBundle
    public let config: PredictionConfig
    public let features: TrackFeatures
    /// Chunks per forward pass.
    public var batchSize = 32

    public init(bundle: ModelBundle, config: PredictionConfig = PredictionConfig()) throws(FeatureError) {
        self.bundle = bundle
        self.config = config
        features = try TrackFeatures(bundle: bundle, config: config)
    }

    public var labels: [String] { bundle.labels }

    public func predict(file path: String) throws -> TrackPrediction {
        let track = try features.chunks(path: path)
        return try predict(chunks: track.chunks, duration: track.duration)
    }

    public func predict(bytes: [UInt8], name: String) throws -> TrackPrediction {
        let track = try features.chunks(bytes: bytes, name: name)
        return try predict(chunks: track.chunks, duration: track.duration)
    }

    /// Mono samples at the front end's sample rate.
    public func predict(samples: [Float]) throws -> TrackPrediction {
        try predict(chunks: chunks(samples: samples), duration: Double(samples.count) / Double(bundle.frontEnd.spectrogram.sampleRate))
    }

    /// The normalised chunks of a track, ready for the network.
    public func chunks(samples: [Float]) throws -> ChunkBatch {
        try features.chunks(samples: samples)
    }

    /// Runs normalised chunks through the network, `batchSize` at a time.
    public func predict(chunks: ChunkBatch, duration: Double) throws -> TrackPrediction {
        var aggregate = TrackAggregate(labels: bundle.labels.count, embeddingDimension: bundle.network.config.embeddingDim)
        try forEachBatch(of: chunks) { output, n in
            output.logits.data.withUnsafeBufferPointer { logits in
                output.embeddings.data.withUnsafeBufferPointer { vectors in
                    for i in 0..<n { aggregate.add(logits: logits, embeddings: vectors, row: i) }
                }
            }
        }
        let (probabilities, embedding) = aggregate.finished()
        return TrackPrediction(probabilities: probabilities, embedding: embedding, chunkCount: chunks.count, duration: duration)
    }

    /// Each chunk's own outputs (a stream reports every chunk, not only the track's mean).
    public func predictEach(chunks: ChunkBatch) throws -> [ChunkPrediction] {
        var result: [ChunkPrediction] = []
        let labels = bundle.labels.count, dim = bundle.network.config.embeddingDim
        try forEachBatch(of: chunks) { output, n in
            for i in 0..<n {
                let logits = Array(output.logits.data[(i * labels)..<((i + 1) * labels)])
                result.append(ChunkPrediction(logits: logits, probabilities: logits.map(sigmoid),
                                              embedding: Array(output.embeddings.data[(i * dim)..<((i + 1) * dim)])))
            }
        }
        return result
    }

    /// The network's eval outputs for the chunks, `batchSize` at a time: `body(output, rows)`.
    private func forEachBatch(of chunks: ChunkBatch, _ body: (ModelOutput, Int) throws -> Void) throws {
        let chunkSize = chunks.nMels * chunks.frames
        var start = 0
        while start < chunks.count {
            let n = min(batchSize, chunks.count - start)
            let input = try Tensor(shape: [n, 1, chunks.nMels, chunks.frames],
                                   data: Array(chunks.values[(start * chunkSize)..<((start + n) * chunkSize)]))
            try body(try bundle.network.forward(input, training: false), n)
            start += n
        }
    }
}

/// One chunk's outputs: sigmoid probabilities, logits and embedding.
public struct ChunkPrediction: Sendable {
    public var logits: [Float]
    public var probabilities: [Float]
    public var embedding: [Float]
}

@inline(__always) func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

public enum PredictionError: Error, CustomStringConvertible {
    case tooShort
    public var description: String {
        switch self {
        case .tooShort: return "the audio is empty or too short to make one spectrogram frame"
        }
    }
}

/// The seed's prediction JSON: `{"type":"multi-label","predicted_genres":[{"genre","probability"}],
/// "top_5":[…],"all_probabilities":{…}}` (the top list is named after k).
public struct PredictionReport: Encodable {
    public struct Entry: Encodable, Equatable {
        public var genre: String
        public var probability: Float
    }
    public var file: String?
    public var predictedGenres: [Entry]
    public var top: [Entry]
    public var allProbabilities: [String: Float]
    public var topK: Int

    public init(file: String?, labels: [String], probabilities: [Float], threshold: Float, topK: Int) {
        self.file = file
        let ranked = zip(labels, probabilities).map { Entry(genre: $0, probability: $1) }
            .sorted { $0.probability != $1.probability ? $0.probability > $1.probability : $0.genre < $1.genre }
        predictedGenres = ranked.filter { $0.probability >= threshold }
        top = Array(ranked.prefix(max(0, topK)))
        allProbabilities = Dictionary(uniqueKeysWithValues: zip(labels, probabilities))
        self.topK = topK
    }

    /// A key spelled at run time (`top_K` depends on k); callers that add fields use it too.
    public struct Key: CodingKey {
        public var stringValue: String
        public var intValue: Int? { nil }
        public init(_ s: String) { stringValue = s }
        public init?(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        if let file { try c.encode(file, forKey: Key("file")) }
        try c.encode("multi-label", forKey: Key("type"))
        try c.encode(predictedGenres, forKey: Key("predicted_genres"))
        try c.encode(top, forKey: Key("top_\(topK)"))
        try c.encode(allProbabilities, forKey: Key("all_probabilities"))
    }
}
