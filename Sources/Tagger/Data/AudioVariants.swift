import AudioIO
import Dispatch
import Features
import Foundation

/// One augmented copy of a training track's chunks in the cache (`augmentation.audio`): the
/// track's audio pitch-shifted, then time-stretched, then with white noise added, and cut into
/// chunks as the original was. A stretched variant has more or fewer chunks than the original.
public struct CachedVariant: Codable, Sendable, Equatable {
    /// The original track's path.
    public var path: String
    /// 1...variants.
    public var number: Int
    public var semitones: Double
    public var rate: Double
    /// nil: no noise.
    public var snrDB: Double?
    public var shard = 0
    public var firstChunk = 0
    public var chunkCount = 0

    public init(path: String, number: Int, semitones: Double, rate: Double, snrDB: Double?) {
        self.path = path; self.number = number; self.semitones = semitones; self.rate = rate; self.snrDB = snrDB
    }

    enum CodingKeys: String, CodingKey {
        case path, number, semitones, rate, snrDB = "snr_db", shard, firstChunk = "first_chunk", chunkCount = "chunk_count"
    }

    static func key(path: String, number: Int) -> String { "\(number)|\(path)" }
    var key: String { Self.key(path: path, number: number) }
}

/// The settings a cache's variants were rendered with: the ranges of `augmentation.audio` and
/// the seed (`prepare --seed`). Their count is not part of it: asking for more variants adds them.
public struct AudioVariantSettings: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var pitchShiftSemitones: Double
    public var timeStretch: [Double]
    public var noiseSnrDb: [Double]?

    public init(seed: UInt64, config: AudioAugmentationConfig) {
        self.seed = seed
        pitchShiftSemitones = config.pitchShiftSemitones
        timeStretch = config.timeStretch
        noiseSnrDb = config.noiseSnrDb
    }

    /// Whether `config` asks for the effects these variants have.
    public func sameEffects(as config: AudioAugmentationConfig) -> Bool {
        pitchShiftSemitones == config.pitchShiftSemitones && timeStretch == config.timeStretch && noiseSnrDb == config.noiseSnrDb
    }

    var summary: String {
        let noise = noiseSnrDb.map { "noise \($0.map { "\($0)" }.joined(separator: "...")) dB SNR" } ?? "no noise"
        return "pitch ±\(pitchShiftSemitones) semitones, stretch \(timeStretch.map { "\($0)" }.joined(separator: "...")), \(noise)"
    }

    enum CodingKeys: String, CodingKey {
        case seed, pitchShiftSemitones = "pitch_shift_semitones", timeStretch = "time_stretch", noiseSnrDb = "noise_snr_db"
    }
}

/// What the variant phase of `prepare` did.
public struct VariantSummary: Sendable, Equatable {
    /// Variants written in this run.
    public var rendered = 0
    /// Training tracks whose variants were all there already.
    public var skipped = 0
    /// Tracks whose variants could not be made (not recorded: the next run tries again).
    public var failed: [FailedTrack] = []
}

/// The second phase of `timbre prepare` with `augmentation.audio.enabled`: once the split is
/// made, decodes each training track again and appends its missing variants to the cache.
/// Resumable like the first phase: a variant is done once a flushed shard and the index name
/// it, and a run renders only the (track, number) pairs the index lacks. Each variant's effects
/// come from a generator seeded by (seed, path, number) alone, so the result does not depend on
/// threads, order or how often the run was interrupted. Validation and test tracks never get
/// variants, and a track that leaves the training split loses its variants (`ChunkCacheWriter.finish`).
public enum AudioVariantRenderer {
    static func render(_ options: PrepareOptions, writer: ChunkCacheWriter, spectrogram: LogMelSpectrogram,
                       progress: @escaping @Sendable (_ done: Int, _ total: Int, _ failed: Int) -> Void) throws -> VariantSummary {
        let config = options.audioAugmentation
        try check(config)
        try writer.useVariantSettings(AudioVariantSettings(seed: options.seed, config: config))
        let training = writer.index.tracks.filter { $0.split == "train" }.sorted { $0.path < $1.path }
        let todo: [(path: String, numbers: [Int])] = training.compactMap { track in
            let missing = (1...config.variants).filter { !writer.containsVariant(path: track.path, number: $0) }
            return missing.isEmpty ? nil : (track.path, missing)
        }
        var summary = VariantSummary(skipped: training.count - todo.count)
        guard !todo.isEmpty else { return summary }
        let settings = AudioVariantSettings(seed: options.seed, config: config)
        let shared = VariantState(writer: writer)
        let workers = max(1, min(options.threads, todo.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let item = shared.next(from: todo) {
                let path = (options.audioDirectory as NSString).appendingPathComponent(item.path)
                do {
                    var decode = DecodeOptions()
                    decode.targetSampleRate = options.spectrogram.sampleRate
                    let audio = try AudioDecoder.decode(path: path, options: decode)
                    for number in item.numbers {
                        let (samples, entry) = try AudioVariantRenderer.variant(of: audio.samples, path: item.path, number: number,
                                                            settings: settings, sampleRate: options.spectrogram.sampleRate)
                        let batch = try Chunker.batch(of: try spectrogram.logMel(samples), config: options.chunking)
                        guard batch.count > 0 else { throw PrepareError.tooShort }
                        try shared.append(entry, chunks: batch.values)
                    }
                    shared.finished()
                } catch {
                    shared.fail(path: item.path, error: "\(error)")
                }
                let (done, failed) = shared.counts
                progress(done, todo.count, failed)
            }
        }
        if let error = shared.writeError { throw error }
        try writer.flush()
        summary.rendered = shared.rendered
        summary.failed = shared.failures
        return summary
    }

    static func check(_ config: AudioAugmentationConfig) throws(ConfigError) {
        let problems = config.problems
        guard problems.isEmpty else { throw ConfigError(source: "augmentation.audio", problems: problems) }
    }

    /// Variant `number` of a track's audio: pitch shift, time stretch, then noise, each drawn
    /// from its range by a generator seeded from (seed, path, number).
    public static func variant(of audio: [Float], path: String, number: Int, settings: AudioVariantSettings,
                              sampleRate: Int) throws(FeatureError) -> (samples: [Float], variant: CachedVariant) {
        var config = AudioAugmentationConfig()
        config.pitchShiftSemitones = settings.pitchShiftSemitones
        config.timeStretch = settings.timeStretch
        config.noiseSnrDb = settings.noiseSnrDb
        if let problem = config.problems.first { throw .invalidParameter(name: "settings", reason: problem) }
        var rng = Xoshiro256StarStar(seed: variantSeed(settings.seed, path: path, number: number))
        let p = settings.pitchShiftSemitones
        let semitones = Double.random(in: -p...p, using: &rng)
        let rate = Double.random(in: settings.timeStretch[0]...settings.timeStretch[1], using: &rng)
        let snr = settings.noiseSnrDb.map { Double.random(in: $0[0]...$0[1], using: &rng) }
        let augmentation = AudioAugmentation(sampleRate: sampleRate)
        var y = audio
        if semitones != 0 { y = try augmentation.pitchShift(y, semitones: semitones) }
        if rate != 1 { y = try augmentation.timeStretch(y, rate: rate) }
        if let snr { y = try augmentation.addNoise(y, snrDB: Float(snr), using: &rng) }
        return (y, CachedVariant(path: path, number: number, semitones: semitones, rate: rate, snrDB: snr))
    }

    /// A seed from (seed, path, number) that is the same in every process (Swift's `Hasher` is
    /// not): FNV-1a over the path's UTF-8, mixed with the others (SplitMix spreads it further).
    static func variantSeed(_ seed: UInt64, path: String, number: Int) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return seed &+ hash &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(number) &* 0xBF58_476D_1CE4_E5B9
    }
}

/// The state the rendering threads share, behind one lock.
private final class VariantState: @unchecked Sendable {
    private let lock = NSLock()
    private let writer: ChunkCacheWriter
    private var cursor = 0
    private var done = 0
    private(set) var rendered = 0
    private(set) var failures: [FailedTrack] = []
    private(set) var writeError: Error?

    init(writer: ChunkCacheWriter) { self.writer = writer }

    func next(from list: [(path: String, numbers: [Int])]) -> (path: String, numbers: [Int])? {
        lock.lock(); defer { lock.unlock() }
        guard cursor < list.count, writeError == nil else { return nil }
        cursor += 1
        return list[cursor - 1]
    }

    func append(_ variant: CachedVariant, chunks: [Float]) throws {
        lock.lock(); defer { lock.unlock() }
        do { try writer.appendVariant(variant, chunks: chunks) } catch {
            writeError = error  // a disk problem stops the run; a bad file does not
            throw error
        }
        rendered += 1
    }

    func finished() {
        lock.lock(); defer { lock.unlock() }
        done += 1
    }

    func fail(path: String, error: String) {
        lock.lock(); defer { lock.unlock() }
        if writeError == nil { failures.append(FailedTrack(path: path, error: error)) }
        done += 1
    }

    var counts: (Int, Int) { lock.lock(); defer { lock.unlock() }; return (done, failures.count) }
}
