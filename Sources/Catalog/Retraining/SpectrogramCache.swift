import Features
import Foundation
import Tagger

/// The network input of library tracks, kept on disk for retraining: a track's normalised
/// chunks (as `TrackFeatures` computes them for tagging) in one file named by the track's
/// content hash, under a folder named by everything that shapes them (front end,
/// normalisation, chunk selection). Fine-tuned models keep their parent's front end and
/// normalisation, so every generation of a model line reuses the same files; a moved file
/// keeps its hash and its cache entry.
///
/// A file is `TMBC`, then UInt32 count, n_mels, frames (little-endian), count Int32 chunk
/// starts, and count·n_mels·frames Float16 values. It is written to a temporary name and
/// renamed into place, so a reader sees a whole file or none; a damaged file is recomputed.
public struct SpectrogramCache: Sendable {
    public let directory: URL
    let features: TrackFeatures

    public init(dataDirectory: URL, bundle: ModelBundle, prediction: PredictionConfig) throws {
        features = try TrackFeatures(bundle: bundle, config: prediction)
        struct Key: Encodable { let frontEnd: FrontEnd; let normalization: InputNormalization; let chunkHop: Int; let maxChunks: Int }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let key = try encoder.encode(Key(frontEnd: bundle.frontEnd, normalization: bundle.normalization,
                                         chunkHop: prediction.chunkHop, maxChunks: prediction.maxChunks))
        directory = dataDirectory.appendingPathComponent("cache/spectrograms")
            .appendingPathComponent(String(SHA256.hash([UInt8](key)).hexString.prefix(16)))
    }

    /// The chunks of the file at `path` whose content hash is `contentHash`: from the cache, or
    /// decoded now and stored.
    public func chunks(path: String, contentHash: [UInt8]) throws -> ChunkBatch {
        let file = directory.appendingPathComponent(contentHash.hexString + ".chunks")
        if let data = try? Data(contentsOf: file), let cached = Self.decode(data) { return cached }
        let batch = try features.chunks(path: path).chunks
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(contentHash.hexString).\(getpid()).\(UUID().uuidString.prefix(8)).tmp")
        try Self.encode(batch).write(to: temporary)
        if rename(temporary.path, file.path) != 0 { try? FileManager.default.removeItem(at: temporary) }
        return batch
    }

    static func encode(_ batch: ChunkBatch) -> Data {
        var out = Data("TMBC".utf8)
        func put(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt32(batch.count)); put(UInt32(batch.nMels)); put(UInt32(batch.frames))
        for start in batch.starts { put(UInt32(bitPattern: Int32(start))) }
        var halves = batch.values.map { Float16($0).bitPattern.littleEndian }
        halves.withUnsafeMutableBytes { out.append(contentsOf: $0) }
        return out
    }

    static func decode(_ data: Data) -> ChunkBatch? {
        let bytes = [UInt8](data)
        guard bytes.count >= 16, bytes[0..<4].elementsEqual("TMBC".utf8) else { return nil }
        func word(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        let count = Int(word(4)), nMels = Int(word(8)), frames = Int(word(12))
        let values = count * nMels * frames
        guard count > 0, nMels > 0, frames > 0, bytes.count == 16 + 4 * count + 2 * values else { return nil }
        let starts = (0..<count).map { Int(Int32(bitPattern: word(16 + 4 * $0))) }
        let base = 16 + 4 * count
        let floats = (0..<values).map { i in Float(Float16(bitPattern: UInt16(bytes[base + 2 * i]) | UInt16(bytes[base + 2 * i + 1]) << 8)) }
        return ChunkBatch(count: count, nMels: nMels, frames: frames, starts: starts, values: floats)
    }
}
