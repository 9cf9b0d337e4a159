/// How a track's spectrogram is cut into fixed-length CNN inputs.
/// Defaults: 128 frames (≈ 2.97 s at hop 512, 22050 Hz), hop 128 (no overlap), all chunks.
public struct ChunkingConfig: Codable, Sendable, Equatable {
    /// Frames per chunk.
    public var frames: Int
    /// Frames between the starts of consecutive chunks.
    public var hop: Int
    /// At most this many chunks per track, sampled evenly (see `Chunker.chunkStarts`); nil = all.
    public var maxChunks: Int?

    public init(frames: Int = 128, hop: Int = 128, maxChunks: Int? = nil) {
        self.frames = frames
        self.hop = hop
        self.maxChunks = maxChunks
    }

    enum CodingKeys: String, CodingKey {
        case frames, hop, maxChunks = "max_chunks"
    }

    func validate() throws(FeatureError) {
        guard frames > 0 else { throw .invalidConfig(name: "chunk frames", reason: "must be positive, got \(frames)") }
        guard hop > 0 else { throw .invalidConfig(name: "chunk hop", reason: "must be positive, got \(hop)") }
        if let m = maxChunks, m <= 0 { throw .invalidConfig(name: "max_chunks", reason: "must be positive or null, got \(m)") }
    }
}

/// Cuts spectrograms into chunks of `config.frames` frames.
///
/// Rules:
/// - Chunk i starts at frame `i * hop`; only whole chunks are kept, so a last partial chunk
///   is dropped (`1 + (frames - chunk) / hop` chunks).
/// - A track shorter than one chunk (but not empty) gives exactly one chunk: the track at
///   the start, padded on the right with the spectrogram's minimum value (for a dB
///   spectrogram that is its silence floor, `max - top_db` by default), never with 0
///   (0 dB would be the loudest possible value).
/// - An empty spectrogram gives no chunks.
/// - With `maxChunks = N` and more than N chunks, N of them are kept, evenly spaced over the
///   track: chunk `round(i (C - 1) / (N - 1))` for i in 0..<N (C chunks in all; the middle
///   one when N = 1), so the first and last are always included.
public enum Chunker {
    /// Chunks as separate spectrograms, in track order.
    public static func chunks(of spectrogram: Spectrogram, config: ChunkingConfig = ChunkingConfig()) throws(FeatureError) -> [Spectrogram] {
        let batch = try self.batch(of: spectrogram, config: config)
        let size = batch.nMels * batch.frames
        return (0..<batch.count).map { i in
            Spectrogram(nMels: batch.nMels, frames: batch.frames, values: Array(batch.values[(i * size)..<((i + 1) * size)]))
        }
    }

    /// Chunks as one flat batch `[chunk][mel][frame]`, the layout of a CNN input
    /// `(N, 1, n_mels, frames)`.
    public static func batch(of spectrogram: Spectrogram, config: ChunkingConfig = ChunkingConfig()) throws(FeatureError) -> ChunkBatch {
        try config.validate()
        let nMels = spectrogram.nMels, total = spectrogram.frames, length = config.frames
        guard spectrogram.values.count == nMels * total else {
            throw .shapeMismatch("spectrogram has \(spectrogram.values.count) values, not \(nMels)x\(total)")
        }
        let starts = chunkStarts(totalFrames: total, config: config)
        // Only a track shorter than one chunk needs padding; its pad value is the minimum.
        let padValue = total < length ? (spectrogram.values.min() ?? 0) : 0
        var values = [Float](repeating: padValue, count: starts.count * nMels * length)
        spectrogram.values.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for (c, start) in starts.enumerated() {
                    let copied = min(length, total - start)
                    for m in 0..<nMels {
                        let from = src.baseAddress! + m * total + start
                        (dst.baseAddress! + (c * nMels + m) * length).update(from: from, count: copied)
                    }
                }
            }
        }
        return ChunkBatch(count: starts.count, nMels: nMels, frames: length, starts: starts, values: values)
    }

    /// First frame of each chunk kept for a track of `totalFrames` frames (rules above).
    public static func chunkStarts(totalFrames: Int, config: ChunkingConfig) -> [Int] {
        guard totalFrames > 0, config.frames > 0, config.hop > 0 else { return [] }
        guard totalFrames >= config.frames else { return [0] }
        let count = 1 + (totalFrames - config.frames) / config.hop
        var indices = Array(0..<count)
        if let n = config.maxChunks, n > 0, n < count {
            if n == 1 {
                indices = [(count - 1) / 2]
            } else {
                indices = (0..<n).map { i in
                    Int((Double(i) * Double(count - 1) / Double(n - 1)).rounded(.toNearestOrEven))
                }
            }
        }
        return indices.map { $0 * config.hop }
    }
}

/// Chunks of one spectrogram in a single buffer `[chunk][mel][frame]`.
public struct ChunkBatch: Sendable, Equatable {
    public var count: Int
    public var nMels: Int
    /// Frames per chunk.
    public var frames: Int
    /// First frame of each chunk in the source spectrogram.
    public var starts: [Int]
    public var values: [Float]

    public init(count: Int, nMels: Int, frames: Int, starts: [Int], values: [Float]) {
        self.count = count; self.nMels = nMels; self.frames = frames; self.starts = starts; self.values = values
    }
}
