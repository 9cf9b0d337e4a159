import Foundation

/// The prepared corpus on disk (`timbre prepare --output-dir DIR`): log-mel chunks as
/// Float16 in append-only shard files, and `index.json` saying which chunks belong to
/// which track, its tags and its split. Float16 halves the size against Float32 at a
/// precision (≈ 3 decimal digits over ±65504) far finer than the dB values need.
///
/// Layout:
///   DIR/index.json            ChunkCacheIndex (rewritten atomically after every shard)
///   DIR/shards/NNNNN.f16      chunks, each `chunkShape` Float16 values, little-endian
/// Audio variants of training tracks (`augmentation.audio`, see `AudioVariantRenderer`) are
/// chunks in the same shards, listed under `variants`; a cache without them has no such key.
public struct ChunkCacheIndex: Codable, Sendable, Equatable {
    public static let currentVersion = 1
    public var version = ChunkCacheIndex.currentVersion
    /// (n_mels, frames) of every chunk.
    public var chunkShape: [Int]
    /// The audio front end that made the chunks, as JSON, so training and prediction agree.
    public var frontEnd: String
    /// The tag vocabulary, in model output order (set once the corpus is complete).
    public var labels: [String] = []
    public var tracks: [CachedTrack] = []
    public var failures: [FailedTrack] = []
    public var shardCount = 0
    /// Augmented copies of training tracks' chunks; nil when none were rendered.
    public var variants: [CachedVariant]?
    /// What the variants were rendered with; rendering with other settings replaces them.
    public var variantSettings: AudioVariantSettings?
    /// The soft (distillation) tags, after `labels` in a model's outputs; nil when the corpus
    /// was prepared without `--soft-labels`.
    public var softLabels: [String]?

    enum CodingKeys: String, CodingKey {
        case version, chunkShape = "chunk_shape", frontEnd = "front_end", labels, tracks, failures, shardCount = "shard_count"
        case variants, variantSettings = "variant_settings", softLabels = "soft_labels"
    }
}

public struct CachedTrack: Codable, Sendable, Equatable {
    public var path: String
    /// The hard tags; empty for a track whose hard tags are unknown (one only in `--soft-labels`).
    public var tags: [String]
    /// "train", "val" or "test"; empty until the split is made.
    public var split: String
    public var shard: Int
    /// Index of the track's first chunk within its shard.
    public var firstChunk: Int
    public var chunkCount: Int
    public var duration: Double
    /// Its known soft-tag values (see `SoftLabelTable`); nil when it has none.
    public var soft: [String: Float]?

    enum CodingKeys: String, CodingKey {
        case path, tags, split, shard, firstChunk = "first_chunk", chunkCount = "chunk_count", duration, soft
    }
}

public struct FailedTrack: Codable, Sendable, Equatable {
    public var path: String
    public var error: String
}

public enum ChunkCacheError: Error, CustomStringConvertible {
    case io(path: String, reason: String)
    case incompatible(path: String, reason: String)
    case badChunk(path: String, reason: String)

    public var description: String {
        switch self {
        case .io(let path, let reason): return "\(path): \(reason)"
        case .incompatible(let path, let reason):
            return "\(path): \(reason). Prepare into a new directory, or delete this one to start over."
        case .badChunk(let path, let reason): return "\(path): \(reason)"
        }
    }
}

/// Appends tracks to a cache directory, resuming where an earlier run stopped: tracks
/// already in the index (prepared or failed) are reported by `contains`, and a shard is
/// never rewritten once the index names it.
public final class ChunkCacheWriter {
    public private(set) var index: ChunkCacheIndex
    private let directory: URL
    private let shardCapacity: Int
    private var pending: [Float16] = []
    private var pendingTracks: [CachedTrack] = []
    private var known: Set<String>
    private var pendingVariants: [CachedVariant] = []
    private var knownVariants: Set<String>

    /// - Parameter shardCapacity: chunks per shard file (default 2048 = 64 MiB at 128×128).
    public init(directory: String, chunkShape: [Int], frontEnd: String, shardCapacity: Int = 2048) throws(ChunkCacheError) {
        self.directory = URL(fileURLWithPath: directory)
        self.shardCapacity = max(1, shardCapacity)
        let indexURL = self.directory.appendingPathComponent("index.json")
        if let data = try? Data(contentsOf: indexURL) {
            guard let existing = try? JSONDecoder().decode(ChunkCacheIndex.self, from: data) else {
                throw .incompatible(path: indexURL.path, reason: "index.json is not a Timbre chunk index")
            }
            guard existing.version == ChunkCacheIndex.currentVersion else {
                throw .incompatible(path: indexURL.path, reason: "cache version \(existing.version), this Timbre writes \(ChunkCacheIndex.currentVersion)")
            }
            guard existing.chunkShape == chunkShape, existing.frontEnd == frontEnd else {
                throw .incompatible(path: indexURL.path, reason: "was prepared with another audio front end or chunk shape")
            }
            index = existing
        } else {
            index = ChunkCacheIndex(chunkShape: chunkShape, frontEnd: frontEnd)
        }
        known = Set(index.tracks.map(\.path) + index.failures.map(\.path))
        knownVariants = Set((index.variants ?? []).map(\.key))
        do {
            try FileManager.default.createDirectory(at: self.directory.appendingPathComponent("shards"), withIntermediateDirectories: true)
        } catch {
            throw .io(path: directory, reason: "cannot create the cache directory: \(error.localizedDescription)")
        }
    }

    public func contains(_ path: String) -> Bool { known.contains(path) }

    var chunkSize: Int { index.chunkShape.reduce(1, *) }

    /// Adds a track's chunks (`chunks.count` a multiple of the chunk size, at least one chunk).
    public func append(path: String, tags: [String], duration: Double, chunks: [Float]) throws(ChunkCacheError) {
        guard !chunks.isEmpty, chunks.count % chunkSize == 0 else {
            throw .badChunk(path: path, reason: "\(chunks.count) values are not whole chunks of \(index.chunkShape)")
        }
        pendingTracks.append(CachedTrack(path: path, tags: tags, split: "", shard: index.shardCount,
                                         firstChunk: pending.count / chunkSize, chunkCount: chunks.count / chunkSize,
                                         duration: duration))
        pending.reserveCapacity(pending.count + chunks.count)
        for x in chunks { pending.append(Float16(x)) }
        known.insert(path)
        if pending.count / chunkSize >= shardCapacity { try flush() }
    }

    public func containsVariant(path: String, number: Int) -> Bool {
        knownVariants.contains(CachedVariant.key(path: path, number: number))
    }

    /// Adds variant `variant.number` of track `variant.path` (its shard and chunk fields are set here).
    public func appendVariant(_ variant: CachedVariant, chunks: [Float]) throws(ChunkCacheError) {
        guard !chunks.isEmpty, chunks.count % chunkSize == 0 else {
            throw .badChunk(path: variant.path, reason: "\(chunks.count) values are not whole chunks of \(index.chunkShape)")
        }
        var entry = variant
        entry.shard = index.shardCount
        entry.firstChunk = pending.count / chunkSize
        entry.chunkCount = chunks.count / chunkSize
        pendingVariants.append(entry)
        pending.reserveCapacity(pending.count + chunks.count)
        for x in chunks { pending.append(Float16(x)) }
        knownVariants.insert(entry.key)
        if pending.count / chunkSize >= shardCapacity { try flush() }
    }

    /// Makes `settings` the variants' settings; variants rendered with others are dropped from
    /// the index (their shard bytes stay, unused), so they are rendered again.
    public func useVariantSettings(_ settings: AudioVariantSettings) throws(ChunkCacheError) {
        guard index.variantSettings != settings else { return }
        try flush()
        index.variants = nil
        knownVariants = []
        index.variantSettings = settings
        try writeIndex()
    }

    public func recordFailure(path: String, error: String) throws(ChunkCacheError) {
        index.failures.append(FailedTrack(path: path, error: error))
        known.insert(path)
        try writeIndex()
    }

    /// Writes the pending chunks as a new shard and the index that names it.
    public func flush() throws(ChunkCacheError) {
        guard !pending.isEmpty else { return try writeIndex() }
        let shardURL = directory.appendingPathComponent("shards").appendingPathComponent(ChunkCache.shardName(index.shardCount))
        let data = pending.withUnsafeBufferPointer { Data(buffer: $0) }  // little-endian on every platform Timbre runs on
        do { try data.write(to: shardURL, options: .atomic) } catch {
            throw .io(path: shardURL.path, reason: "cannot write shard: \(error.localizedDescription)")
        }
        index.tracks += pendingTracks
        if !pendingVariants.isEmpty { index.variants = (index.variants ?? []) + pendingVariants }
        index.shardCount += 1
        pending.removeAll(keepingCapacity: true)
        pendingTracks.removeAll()
        pendingVariants.removeAll()
        try writeIndex()
    }

    /// Sets the vocabulary, every track's split (by path) and its soft-tag values (from `soft`, so
    /// a rerun with another soft-label file replaces them), and saves the index.
    public func finish(labels: [String], splits: [String: String], soft: SoftLabelTable? = nil) throws(ChunkCacheError) {
        try flush()
        index.labels = labels
        index.softLabels = soft?.labels
        for i in index.tracks.indices {
            index.tracks[i].split = splits[index.tracks[i].path] ?? index.tracks[i].split
            index.tracks[i].soft = soft?.rows[index.tracks[i].path].flatMap { $0.isEmpty ? nil : $0 }
        }
        // Only training tracks keep variants (a track can change split when files are added).
        let training = Set(index.tracks.filter { $0.split == "train" }.map(\.path))
        if let variants = index.variants {
            index.variants = variants.filter { training.contains($0.path) }
            knownVariants = Set(index.variants!.map(\.key))
        }
        try writeIndex()
    }

    private func writeIndex() throws(ChunkCacheError) {
        let url = directory.appendingPathComponent("index.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try encoder.encode(index).write(to: url, options: .atomic) } catch {
            throw .io(path: url.path, reason: "cannot write the index: \(error.localizedDescription)")
        }
    }
}

/// Read access to a prepared cache; shards are memory-mapped, so opening is cheap and
/// memory is paged in as chunks are read.
public final class ChunkCache: @unchecked Sendable {  // immutable after init
    public let index: ChunkCacheIndex
    private let shards: [Data]
    public let chunkSize: Int

    static func shardName(_ i: Int) -> String { String(format: "%05d.f16", i) }

    public init(directory: String) throws(ChunkCacheError) {
        let dir = URL(fileURLWithPath: directory)
        let indexURL = dir.appendingPathComponent("index.json")
        guard let data = try? Data(contentsOf: indexURL) else {
            throw .io(path: indexURL.path, reason: "no prepared data here: run `timbre prepare --output-dir \(directory)` first")
        }
        guard let index = try? JSONDecoder().decode(ChunkCacheIndex.self, from: data),
              index.version == ChunkCacheIndex.currentVersion else {
            throw .incompatible(path: indexURL.path, reason: "not a chunk index this Timbre can read")
        }
        self.index = index
        chunkSize = index.chunkShape.reduce(1, *)
        var shards: [Data] = []
        for i in 0..<index.shardCount {
            let url = dir.appendingPathComponent("shards").appendingPathComponent(Self.shardName(i))
            guard let shard = try? Data(contentsOf: url, options: .alwaysMapped) else {
                throw .io(path: url.path, reason: "shard missing or unreadable")
            }
            shards.append(shard)
        }
        for track in index.tracks {
            guard track.shard < shards.count,
                  (track.firstChunk + track.chunkCount) * chunkSize * 2 <= shards[track.shard].count else {
                throw .badChunk(path: track.path, reason: "its chunks lie outside shard \(track.shard): the cache is damaged")
            }
        }
        for variant in index.variants ?? [] {
            guard variant.shard < shards.count, variant.chunkCount > 0,
                  (variant.firstChunk + variant.chunkCount) * chunkSize * 2 <= shards[variant.shard].count else {
                throw .badChunk(path: variant.path, reason: "its variant \(variant.number) lies outside shard \(variant.shard): the cache is damaged")
            }
        }
        self.shards = shards
    }

    /// Copies chunk `chunk` of `track` (as Float32) into `destination`, which holds `chunkSize` values.
    public func read(track: CachedTrack, chunk: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(chunk >= 0 && chunk < track.chunkCount, "chunk \(chunk) out of range")
        read(shard: track.shard, start: (track.firstChunk + chunk) * chunkSize, into: destination)
    }

    /// Copies chunk `chunk` of an audio variant, as `read(track:chunk:into:)`.
    public func read(variant: CachedVariant, chunk: Int, into destination: UnsafeMutablePointer<Float>) {
        precondition(chunk >= 0 && chunk < variant.chunkCount, "chunk \(chunk) out of range")
        read(shard: variant.shard, start: (variant.firstChunk + chunk) * chunkSize, into: destination)
    }

    private func read(shard: Int, start: Int, into destination: UnsafeMutablePointer<Float>) {
        shards[shard].withUnsafeBytes { raw in
            let halves = raw.bindMemory(to: Float16.self)
            for i in 0..<chunkSize { destination[i] = Float(halves[start + i]) }
        }
    }
}
