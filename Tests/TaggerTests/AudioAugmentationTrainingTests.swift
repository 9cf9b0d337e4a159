import AudioIO
import Features
import Foundation
import NeuralNet
import XCTest
@testable import Tagger

/// `augmentation.audio`: `prepare` renders pitch-shifted, stretched, noisy variants of the
/// training tracks only, deterministically and resumably, and `train` uses them per example.
final class AudioAugmentationTrainingTests: XCTestCase {
    static let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("timbre-audioaug-\(ProcessInfo.processInfo.processIdentifier)")
    static var audio: String { root.appendingPathComponent("audio").path }
    static var labels: String { root.appendingPathComponent("labels.csv").path }

    /// 12 tracks of 1.5 s: tones and noise, tagged with what is audible.
    override class func setUp() {
        try! FileManager.default.createDirectory(atPath: audio, withIntermediateDirectories: true)
        var csv = "path,tags\n"
        var rng = Xoshiro256StarStar(seed: 5)
        for i in 0..<12 {
            let sr = 22050, n = sr * 3 / 2
            let hasLow = i % 2 == 0, hasHigh = i % 3 != 0, hasNoise = !hasLow && !hasHigh || i % 5 == 0
            var samples = [Float](repeating: 0, count: n)
            for k in 0..<n {
                let t = Float(k) / Float(sr)
                var x = Float(Int(rng.next() % 1000) - 500) / 500 * (hasNoise ? 0.2 : 0.002)
                if hasLow { x += 0.3 * sin(2 * .pi * 220 * t) }
                if hasHigh { x += 0.3 * sin(2 * .pi * 3000 * t) }
                samples[k] = x
            }
            let tags = [hasHigh ? "high" : nil, hasLow ? "low" : nil, hasNoise ? "noise" : nil].compactMap { $0 }
            try! AudioWriter.write(samples, sampleRate: sr, to: audio + "/track\(i).wav")
            csv += "track\(i).wav,\"\(tags.joined(separator: ";"))\"\n"
        }
        try! csv.write(toFile: labels, atomically: true, encoding: .utf8)
    }

    override class func tearDown() { try? FileManager.default.removeItem(at: root) }

    func options(_ name: String, variants: Int = 2, threads: Int = 2) -> PrepareOptions {
        var options = PrepareOptions(audioDirectory: Self.audio, outputDirectory: Self.root.appendingPathComponent(name).path,
                                     labels: .csv(path: Self.labels))
        options.spectrogram.nMels = 16
        options.chunking = .init(frames: 16, hop: 16)
        options.splits = [0.6, 0.2, 0.2]
        options.threads = threads
        options.audioAugmentation.enabled = true
        options.audioAugmentation.variants = variants
        return options
    }

    @discardableResult
    func prepare(_ options: PrepareOptions) throws -> (PrepareSummary, ChunkCache) {
        let summary = try CorpusPreparer.run(options) { _, _, _ in }
        return (summary, try ChunkCache(directory: options.outputDirectory))
    }

    func chunk(_ cache: ChunkCache, variant: CachedVariant? = nil, track: CachedTrack? = nil, _ c: Int) -> [Float] {
        var out = [Float](repeating: 0, count: cache.chunkSize)
        out.withUnsafeMutableBufferPointer {
            if let variant { cache.read(variant: variant, chunk: c, into: $0.baseAddress!) }
            else { cache.read(track: track!, chunk: c, into: $0.baseAddress!) }
        }
        return out
    }

    func sorted(_ variants: [CachedVariant]?) -> [CachedVariant] {
        (variants ?? []).sorted { ($0.path, $0.number) < ($1.path, $1.number) }
    }

    // MARK: config

    func testConfigDefaultsParsingAndBadValues() throws {
        let defaults = ExperimentConfig().augmentation.audio
        XCTAssertFalse(defaults.enabled)
        XCTAssertEqual(defaults.variants, 2)
        XCTAssertEqual(defaults.probability, 0.5)
        XCTAssertEqual(defaults.pitchShiftSemitones, 2)
        XCTAssertEqual(defaults.timeStretch, [0.95, 1.05])
        XCTAssertEqual(defaults.noiseSnrDb, [20, 40])
        XCTAssertEqual(defaults.problems, [])

        let yaml = """
        augmentation:
          mixup_alpha: 0.1
          audio:
            enabled: true
            variants: 3
            probability: 0.25
            pitch_shift_semitones: 1
            time_stretch: [1, 1]
            noise_snr_db: null
        """
        let config = try ConfigLayering.load(yaml: yaml, over: ExperimentConfig(), source: "x.yaml")
        let audio = config.augmentation.audio
        XCTAssertEqual([audio.enabled ? 1 : 0, audio.variants], [1, 3])
        XCTAssertEqual(audio.probability, 0.25)
        XCTAssertEqual(audio.pitchShiftSemitones, 1)
        XCTAssertEqual(audio.timeStretch, [1, 1])
        XCTAssertNil(audio.noiseSnrDb)
        XCTAssertEqual(config.augmentation.mixupAlpha, 0.1)
        XCTAssertTrue(config.augmentation.specAugment, "keys left out keep their defaults")
        // The run's config.yaml loads back to the same value (null noise included).
        XCTAssertEqual(try ConfigLayering.load(yaml: try ConfigLayering.yaml(config, over: ExperimentConfig()),
                                               over: ExperimentConfig(), source: "run"), config)

        XCTAssertThrowsError(try ConfigLayering.load(yaml: "augmentation:\n  audio:\n    pitch_shift: 2\n", over: ExperimentConfig(), source: "x")) {
            XCTAssertTrue("\($0)".contains("augmentation.audio.pitch_shift: unknown key"), "\($0)")
        }
        XCTAssertThrowsError(try ConfigLayering.load(yaml: "augmentation:\n  audio:\n    variants: many\n", over: ExperimentConfig(), source: "x")) {
            XCTAssertTrue("\($0)".contains("variants"), "\($0)")
        }

        var bad = ExperimentConfig()
        bad.augmentation.audio.variants = 0
        bad.augmentation.audio.probability = 1.5
        bad.augmentation.audio.pitchShiftSemitones = -1
        bad.augmentation.audio.timeStretch = [1.1, 0.9]
        bad.augmentation.audio.noiseSnrDb = [30]
        let problems = bad.problems
        for key in ["variants", "probability", "pitch_shift_semitones", "time_stretch", "noise_snr_db"] {
            XCTAssertTrue(problems.contains { $0.hasPrefix("augmentation.audio.\(key) ") }, "\(key): \(problems)")
        }
        var nan = AudioAugmentationConfig()
        nan.probability = .nan
        nan.timeStretch = [0.9]
        XCTAssertEqual(nan.problems.count, 2)
        // prepare refuses bad values before decoding anything.
        var options = self.options("refused")
        options.audioAugmentation = bad.augmentation.audio
        options.audioAugmentation.enabled = true
        XCTAssertThrowsError(try CorpusPreparer.run(options) { _, _, _ in XCTFail("decoded before checking") }) {
            XCTAssertTrue("\($0)".contains("augmentation.audio.variants"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: options.outputDirectory))
    }

    /// The shipped experiment configs leave audio augmentation off at its defaults.
    func testShippedConfigsLeaveItOff() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs")
        for name in ["baseline_8genres.yaml", "cnn_lstm.yaml", "default.yaml", "multilabel_50genres.yaml"] {
            XCTAssertEqual(try ExperimentConfig.load(configs.appendingPathComponent(name).path).augmentation.audio,
                           AudioAugmentationConfig(), name)
        }
    }

    // MARK: prepare

    func testVariantsOnlyForTrainingTracksDeterministicAndResumable() throws {
        let (summary, cache) = try prepare(options("a"))
        let train = cache.index.tracks.filter { $0.split == "train" }
        XCTAssertGreaterThanOrEqual(train.count, 5)
        XCTAssertLessThan(train.count, cache.index.tracks.count, "some tracks are validation and test")
        XCTAssertEqual(summary.variants.rendered, 2 * train.count)
        XCTAssertEqual(summary.variants.failed, [])
        let variants = sorted(cache.index.variants)
        // Exactly variants 1 and 2 of every training track, and none of the others.
        XCTAssertEqual(variants.map { "\($0.path)#\($0.number)" }, train.map(\.path).sorted().flatMap { ["\($0)#1", "\($0)#2"] })
        let byPath = Dictionary(uniqueKeysWithValues: cache.index.tracks.map { ($0.path, $0) })
        for v in variants {
            XCTAssertTrue(abs(v.semitones) <= 2 && v.rate >= 0.95 && v.rate <= 1.05, "\(v)")
            XCTAssertTrue(v.snrDB.map { $0 >= 20 && $0 <= 40 } ?? false, "\(v)")
            let original = byPath[v.path]!
            // 1.5 s = 65 frames = 4 chunks of 16; stretched, 62 to 69 frames = 3 or 4 chunks.
            XCTAssertEqual(Double(v.chunkCount), Double(original.chunkCount) / v.rate, accuracy: 1.0, "\(v)")
            XCTAssertNotEqual(chunk(cache, variant: v, 0), chunk(cache, track: original, 0), "a variant is not the original")
        }
        XCTAssertNotEqual(variants[0].semitones, variants[1].semitones, "each variant draws its own effects")
        XCTAssertEqual(cache.index.variantSettings, AudioVariantSettings(seed: 42, config: options("a").audioAugmentation))

        // Deterministic from the seed: another directory, one thread instead of two, the same variants.
        let (_, other) = try prepare(options("b", threads: 1))
        XCTAssertEqual(sorted(other.index.variants).map(\.semitones), variants.map(\.semitones))
        XCTAssertEqual(sorted(other.index.variants).map(\.rate), variants.map(\.rate))
        XCTAssertEqual(sorted(other.index.variants).map(\.snrDB), variants.map(\.snrDB))
        for (x, y) in zip(sorted(other.index.variants), variants) {
            XCTAssertEqual(chunk(other, variant: x, x.chunkCount - 1), chunk(cache, variant: y, y.chunkCount - 1))
        }
        let settings = AudioVariantSettings(seed: 42, config: AudioAugmentationConfig())
        let tone = (0..<8192).map { sin(Float($0) * 0.05) }
        let first = try AudioVariantRenderer.variant(of: tone, path: "x.wav", number: 1, settings: settings, sampleRate: 22050)
        var reseeded = settings
        reseeded.seed = 43
        let second = try AudioVariantRenderer.variant(of: tone, path: "x.wav", number: 1, settings: reseeded, sampleRate: 22050)
        XCTAssertNotEqual(first.variant.semitones, second.variant.semitones, "another seed, other effects")
        XCTAssertNotEqual(first.samples, second.samples)

        // Running again renders nothing.
        let (again, _) = try prepare(options("a"))
        XCTAssertEqual([again.variants.rendered, again.variants.skipped, again.skipped], [0, train.count, 12])

        // A run killed before its last shard was named in the index: the next one renders just
        // the missing variants, the same as before.
        let indexURL = Self.root.appendingPathComponent("a/index.json")
        var index = try JSONDecoder().decode(ChunkCacheIndex.self, from: Data(contentsOf: indexURL))
        let dropped = Set(index.variants!.suffix(3).map { "\($0.path)#\($0.number)" })
        index.variants!.removeLast(3)
        try JSONEncoder().encode(index).write(to: indexURL)
        let (resumed, resumedCache) = try prepare(options("a"))
        XCTAssertEqual(resumed.variants.rendered, 3)
        XCTAssertGreaterThanOrEqual(resumed.variants.skipped, train.count - 3)
        let now = sorted(resumedCache.index.variants)
        XCTAssertEqual(now.map(\.semitones), variants.map(\.semitones))
        for v in now where dropped.contains("\(v.path)#\(v.number)") {
            XCTAssertEqual(v.shard, cache.index.shardCount, "rendered again into a new shard")
            let before = variants.first { $0.path == v.path && $0.number == v.number }!
            XCTAssertEqual(chunk(resumedCache, variant: v, 1), chunk(cache, variant: before, 1))
        }

        // One more variant per track adds only those; other effects replace them all.
        let (more, moreCache) = try prepare(options("a", variants: 3))
        XCTAssertEqual(more.variants.rendered, train.count)
        XCTAssertEqual(moreCache.index.variants?.count, 3 * train.count)
        var changed = options("a")
        changed.audioAugmentation.noiseSnrDb = nil
        let (replaced, replacedCache) = try prepare(changed)
        XCTAssertEqual(replaced.variants.rendered, 2 * train.count)
        XCTAssertEqual(replacedCache.index.variants?.count, 2 * train.count)
        XCTAssertTrue(replacedCache.index.variants!.allSatisfy { $0.snrDB == nil })
    }

    /// A track that leaves the training split (the split is remade when files are added) loses its variants.
    func testFinishDropsVariantsOfTracksNotInTraining() throws {
        let dir = Self.root.appendingPathComponent("finish").path
        let writer = try ChunkCacheWriter(directory: dir, chunkShape: [2, 3], frontEnd: "A", shardCapacity: 3)
        try writer.append(path: "a", tags: ["x"], duration: 1, chunks: [Float](repeating: 1, count: 6))
        try writer.append(path: "b", tags: ["y"], duration: 1, chunks: [Float](repeating: 2, count: 6))
        try writer.finish(labels: ["x", "y"], splits: ["a": "train", "b": "train"])
        for path in ["a", "b"] {
            try writer.appendVariant(CachedVariant(path: path, number: 1, semitones: 1, rate: 1, snrDB: nil),
                                     chunks: [Float](repeating: 3, count: 12))
        }
        XCTAssertTrue(writer.containsVariant(path: "a", number: 1))
        try writer.finish(labels: ["x", "y"], splits: ["a": "train", "b": "val"])
        let cache = try ChunkCache(directory: dir)
        XCTAssertEqual(cache.index.variants?.map(\.path), ["a"])
        XCTAssertEqual(cache.index.variants?.first?.chunkCount, 2)
        XCTAssertEqual(chunk(cache, variant: cache.index.variants![0], 1), [Float](repeating: 3, count: 6))
        XCTAssertFalse(try ChunkCacheWriter(directory: dir, chunkShape: [2, 3], frontEnd: "A").containsVariant(path: "b", number: 1))
    }

    // MARK: train

    func testTrainingUsesVariantsOnlyWhenOn() throws {
        let options = self.options("t")
        let (_, cache) = try prepare(options)
        let data = TrainingData(cache: cache, split: "train", audioVariants: 2)
        XCTAssertEqual(data.variantCount, 2 * data.tracks.count)
        XCTAssertEqual(TrainingData(cache: cache, split: "val", audioVariants: 2).variantCount, 0, "never for validation")
        XCTAssertEqual(TrainingData(cache: cache, split: "train", audioVariants: 1).variantCount, data.tracks.count)
        XCTAssertEqual(TrainingData(cache: cache, split: "train").variantCount, 0)

        var rng = Xoshiro256StarStar(seed: 0)
        let items = data.items(perTrack: nil, using: &rng)
        let normalization = data.normalization()
        func batch(_ configure: (inout AugmentationConfig) -> Void) throws -> [Float] {
            var augmentation = AugmentationConfig()
            augmentation.specAugment = false
            augmentation.mixupAlpha = 0
            augmentation.audio.enabled = true
            augmentation.audio.probability = 1
            configure(&augmentation)
            var rng = Xoshiro256StarStar(seed: 7)
            var input = Tensor(zeros: [0]), target = Tensor(zeros: [0])
            try data.fill(batch: items[...], normalization: normalization, augmentation: augmentation, rng: &rng, input: &input, target: &target)
            return input.data
        }
        var plainRNG = Xoshiro256StarStar(seed: 7)
        var plain = Tensor(zeros: [0]), target = Tensor(zeros: [0])
        try data.fill(batch: items[...], normalization: normalization, augmentation: nil, rng: &plainRNG, input: &plain, target: &target)

        XCTAssertEqual(try batch { $0.audio.enabled = false }, plain.data, "off: the original chunks")
        XCTAssertEqual(try batch { $0.audio.probability = 0 }, plain.data, "probability 0: the original chunks")
        let augmented = try batch { _ in }
        XCTAssertEqual(try batch { _ in }, augmented, "deterministic from the generator")
        // Probability 1: every example is a chunk of one of its track's variants, at the same place.
        let size = cache.chunkSize
        for (i, item) in items.enumerated() {
            let row = Array(augmented[(i * size)..<((i + 1) * size)])
            XCTAssertNotEqual(row, Array(plain.data[(i * size)..<((i + 1) * size)]), "example \(i)")
            let length = cache.index.tracks[data.tracks[item.track]].chunkCount
            let matches = data.variants[item.track].contains { v in
                var expected = chunk(cache, variant: v, min(v.chunkCount - 1, item.chunk * v.chunkCount / length))
                expected.withUnsafeMutableBufferPointer { normalization.apply($0) }
                return expected == row
            }
            XCTAssertTrue(matches, "example \(i) is a variant's chunk")
        }
        // Half: some examples of each kind.
        let half = try batch { $0.audio.probability = 0.5 }
        let same = items.indices.filter { i in half[(i * size)..<((i + 1) * size)] == plain.data[(i * size)..<((i + 1) * size)] }.count
        XCTAssertTrue(same > 0 && same < items.count, "\(same) of \(items.count) original")

        // The trainer: refuses audio augmentation without matching variants, trains with them.
        var config = ExperimentConfig()
        config.experimentName = "audioaug"
        config.outputDir = Self.root.appendingPathComponent("runs").path
        config.dataDir = options.outputDirectory
        config.model = ArchitectureConfig(numGenres: 0, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1], attentionReduction: 2)
        config.training.epochs = 1
        config.training.batchSize = 4
        config.training.warmupEpochs = 0
        config.training.earlyStoppingMetric = "val_loss"  // 2 or 3 validation tracks may leave a tag without positives
        config.augmentation.audio.enabled = true
        var stretched = config
        stretched.augmentation.audio.timeStretch = [0.9, 1.1]
        XCTAssertThrowsError(try Trainer(config: stretched, cache: cache, observer: nil)) {
            XCTAssertTrue("\($0)".contains("were rendered with"), "\($0)")
        }
        let (_, bare) = try prepare({ var o = self.options("bare"); o.audioAugmentation.enabled = false; return o }())
        XCTAssertNil(bare.index.variants)
        XCTAssertThrowsError(try Trainer(config: config, cache: bare, observer: nil)) {
            XCTAssertTrue("\($0)".contains("no audio variants"), "\($0)")
        }
        let trainer = try Trainer(config: config, cache: cache, observer: nil)
        try trainer.run(resume: false)
        XCTAssertEqual(trainer.history.count, 1)
        XCTAssertTrue(trainer.history[0].trainLoss.isFinite)
        let written = try ExperimentConfig.load(trainer.runDirectory.appendingPathComponent("config.yaml").path)
        XCTAssertEqual(written.augmentation.audio, config.augmentation.audio)
    }
}
