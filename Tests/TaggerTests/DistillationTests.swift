import AudioIO
import Features
import Foundation
import NeuralNet
import XCTest
@testable import Tagger

/// Distillation: `prepare --soft-labels` adds a teacher's probabilities as soft targets (and
/// files with only those as tracks of unknown hard tags); `train` learns them as extra outputs
/// with the unknown targets masked; metrics stay on the hard tags.
final class DistillationTests: XCTestCase {
    static let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("timbre-distil-\(ProcessInfo.processInfo.processIdentifier)")
    static var audio: String { root.appendingPathComponent("audio").path }
    static var labels: String { root.appendingPathComponent("labels.csv").path }
    static var soft: String { root.appendingPathComponent("soft.csv").path }

    /// 16 tracks of 1.5 s with a low and/or a high tone; tracks 0–11 have hard labels, tracks
    /// 6–15 a teacher's "t:bright" (high tone) and "t:noisy" (never known for track 6).
    override class func setUp() {
        try! FileManager.default.createDirectory(atPath: audio, withIntermediateDirectories: true)
        var csv = "path,tags\n"
        var softCSV = "path,t:bright,t:noisy\n"
        for i in 0..<16 {
            let sr = 22050, n = sr * 3 / 2
            let hasLow = i % 2 == 0, hasHigh = i % 3 != 0
            let samples = (0..<n).map { k -> Float in
                let t = Float(k) / Float(sr)
                return (hasLow ? 0.3 * sin(2 * .pi * 220 * t) : 0) + (hasHigh ? 0.3 * sin(2 * .pi * 3000 * t) : 0.001 * sin(2 * .pi * 50 * t))
            }
            try! AudioWriter.write(samples, sampleRate: sr, to: audio + "/track\(i).wav")
            if i < 12 { csv += "track\(i).wav,\"\([hasHigh ? "high" : nil, hasLow ? "low" : "quiet"].compactMap { $0 }.joined(separator: ";"))\"\n" }
            if i >= 6 { softCSV += "track\(i).wav,\(hasHigh ? "0.9" : "0.1"),\(i == 6 ? "" : "0.2500")\n" }
        }
        try! csv.write(toFile: labels, atomically: true, encoding: .utf8)
        try! softCSV.write(toFile: soft, atomically: true, encoding: .utf8)
    }

    override class func tearDown() { try? FileManager.default.removeItem(at: root) }

    func write(_ text: String, _ name: String) -> String {
        let path = Self.root.appendingPathComponent(name).path
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func options(_ name: String, soft: [String] = [DistillationTests.soft]) -> PrepareOptions {
        var options = PrepareOptions(audioDirectory: Self.audio, outputDirectory: Self.root.appendingPathComponent(name).path,
                                     labels: .csv(path: Self.labels))
        options.spectrogram.nMels = 16
        options.chunking = .init(frames: 16, hop: 16)
        options.splits = [0.5, 0.25, 0.25]
        options.softLabels = soft
        return options
    }

    /// Two epochs of a tiny ResNet-SE on the prepared corpus in `data`, runs under root/runs.
    func tinyRun(_ name: String, data: String) -> ExperimentConfig {
        var config = ExperimentConfig()
        config.experimentName = name
        config.outputDir = Self.root.appendingPathComponent("runs").path
        config.dataDir = data
        config.model = ArchitectureConfig(numGenres: 0, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1], attentionReduction: 2)
        config.training.epochs = 2
        config.training.batchSize = 4
        config.training.warmupEpochs = 0
        config.training.learningRate = 0.01
        config.training.earlyStoppingMetric = "val_loss"
        return config
    }

    func testSoftLabelTableReadsValuesAndReportsEveryProblem() throws {
        let table = try SoftLabelTable.read(csvAt: Self.soft)
        XCTAssertEqual(table.labels, ["t:bright", "t:noisy"])
        XCTAssertEqual(table.rows.count, 10)
        XCTAssertEqual(table.rows["track7.wav"], ["t:bright": 0.9, "t:noisy": 0.25])
        XCTAssertEqual(table.rows["track6.wav"], ["t:bright": 0.1], "an empty cell is unknown, not 0")

        let bad = write("path,a,a\nx.wav,1.5,0\nx.wav,0,0\ny.wav,0\nz.wav,nan,-0.1\n", "bad.csv")
        XCTAssertThrowsError(try SoftLabelTable.read(csvAt: bad)) { error in
            let text = "\(error)"
            for expected in ["line 1: the tag a is a column twice", "line 2: a is 1.5, not a probability",
                             "line 3: x.wav is listed twice", "line 4: 2 columns, the header has 3",
                             "line 5: a is nan", "line 5: a is -0.1"] {
                XCTAssertTrue(text.contains(expected), "\(expected) in \(text)")
            }
        }
        XCTAssertThrowsError(try SoftLabelTable.read(csvAt: write("name,a\n", "header.csv"))) {
            XCTAssertTrue("\($0)".contains("the header must be path,<tag>"), "\($0)")
        }

        // What `timbre soft-labels` writes reads back (quoted paths, unknown values).
        let text = SoftLabelTable.csvText(labels: ["t:a", "t:b"], rows: [("dir/with, comma.wav", [0.5, nil]), ("b.wav", [0, 1])])
        let back = try SoftLabelTable.read(csvAt: write(text, "round.csv"))
        XCTAssertEqual(back.rows, ["dir/with, comma.wav": ["t:a": 0.5], "b.wav": ["t:a": 0, "t:b": 1]])

        // Two files: columns united, a value given twice is an error.
        let other = SoftLabelTable(labels: ["u:x", "t:bright"], rows: ["track7.wav": ["u:x": 1], "track8.wav": ["t:bright": 0.5]])
        XCTAssertThrowsError(try SoftLabelTable.merged([("a", table), ("b", other)])) {
            XCTAssertTrue("\($0)".contains("track8.wav gives t:bright again"), "\($0)")
        }
        let merged = try SoftLabelTable.merged([("a", table), ("b", SoftLabelTable(labels: ["u:x"], rows: ["track7.wav": ["u:x": 1]]))])
        XCTAssertEqual(merged.labels, ["t:bright", "t:noisy", "u:x"])
        XCTAssertEqual(merged.rows["track7.wav"], ["t:bright": 0.9, "t:noisy": 0.25, "u:x": 1])
    }

    func testPrepareAddsSoftValuesAndSoftOnlyTracks() throws {
        let options = options("prepared")
        let summary = try CorpusPreparer.run(options) { _, _, _ in }
        XCTAssertEqual(summary.prepared, 16, "12 labelled + 4 with soft labels only")
        XCTAssertEqual(summary.labels, ["high", "low", "quiet"], "soft tags are not hard tags")
        XCTAssertEqual(summary.softLabels, ["t:bright", "t:noisy"])
        let cache = try ChunkCache(directory: options.outputDirectory)
        XCTAssertEqual(cache.index.softLabels, ["t:bright", "t:noisy"])
        let byPath = Dictionary(uniqueKeysWithValues: cache.index.tracks.map { ($0.path, $0) })
        XCTAssertEqual(byPath["track13.wav"]?.tags, [], "hard tags unknown")
        XCTAssertEqual(byPath["track13.wav"]?.soft, ["t:bright": 0.9, "t:noisy": 0.25])
        XCTAssertNil(byPath["track2.wav"]?.soft)
        XCTAssertEqual(byPath["track9.wav"]?.tags, ["quiet"], "track 9: no high tone (9 % 3 == 0), no low (odd)")
        XCTAssertTrue(cache.index.tracks.allSatisfy { !$0.split.isEmpty })

        // Hard and soft data of one split: targets, masks; without soft tags the soft-only tracks drop out.
        let all = TrainingData(cache: cache, split: "all", softLabels: ["t:bright", "t:noisy"], softWeight: 0.5)
        XCTAssertEqual(all.labels, ["high", "low", "quiet", "t:bright", "t:noisy"])
        XCTAssertEqual(all.hardLabelCount, 3)
        XCTAssertEqual(all.tracks.count, 16)
        XCTAssertEqual(all.hardLabelledTracks.count, 12)
        func row(_ path: String) -> (target: [Float], mask: [Float]) {
            let i = all.tracks.firstIndex { cache.index.tracks[$0].path == path }!
            return (all.targets[i], all.masks![i])
        }
        XCTAssertEqual(row("track13.wav").target, [0, 0, 0, 0.9, 0.25])
        XCTAssertEqual(row("track13.wav").mask, [0, 0, 0, 0.5, 0.5])
        XCTAssertEqual(row("track6.wav").target, [0, 1, 0, 0.1, 0], "track 6: low, no high; t:noisy unknown")
        XCTAssertEqual(row("track6.wav").mask, [1, 1, 1, 0.5, 0], "t:noisy unknown for track 6")
        XCTAssertEqual(row("track1.wav").mask, [1, 1, 1, 0, 0])
        XCTAssertEqual(all.positiveWeights(cap: 20).suffix(2), [1, 1], "teacher probabilities are matched as they are")
        // Soft-only tracks may give more chunks an epoch than labelled ones.
        var draw = Xoshiro256StarStar(seed: 1)
        let picked = all.items(perTrack: 1, softOnlyPerTrack: 3, using: &draw)
        let softOnlyPositions = Set(all.tracks.indices.filter { cache.index.tracks[all.tracks[$0]].tags.isEmpty })
        for position in all.tracks.indices {
            let expected = min(softOnlyPositions.contains(position) ? 3 : 1, cache.index.tracks[all.tracks[position]].chunkCount)
            XCTAssertEqual(picked.filter { $0.track == position }.count, expected, "track \(position)")
        }
        let hardOnly = TrainingData(cache: cache, split: "all")
        XCTAssertEqual(hardOnly.tracks.count, 12)
        XCTAssertNil(hardOnly.masks)

        // Batches carry the masks, through mixup too: a soft-only track never teaches hard tags.
        let softOnly = all.tracks.indices.filter { cache.index.tracks[all.tracks[$0]].tags.isEmpty }
        var augmentation = AugmentationConfig()
        augmentation.mixupAlpha = 0.4
        augmentation.mixupProbability = 1
        var rng = Xoshiro256StarStar(seed: 3)
        var input = Tensor(zeros: [0]), target = Tensor(zeros: [0]), mask = Tensor(zeros: [0])
        let batch = softOnly.map { (track: $0, chunk: 0) } + [(track: all.hardLabelledTracks[0], chunk: 0)]
        try all.fill(batch: batch[...], normalization: InputNormalization(mean: 0, std: 1), augmentation: augmentation,
                     rng: &rng, input: &input, target: &target, mask: &mask)
        XCTAssertEqual(mask.shape, [5, 5])
        for i in 0..<4 { XCTAssertEqual(Array(mask.data[(i * 5)..<(i * 5 + 3)]), [0, 0, 0], "soft-only row \(i)") }

        // A soft tag may not also be a hard tag.
        let clash = write("path,high\ntrack0.wav,0.5\n", "clash.csv")
        XCTAssertThrowsError(try CorpusPreparer.run(self.options("clash", soft: [clash])) { _, _, _ in }) {
            XCTAssertTrue("\($0)".contains("the soft tag high is also a hard tag"), "\($0)")
        }
        let missing = write("path,t:x\nnot-there.wav,0.5\n", "missing.csv")
        XCTAssertThrowsError(try CorpusPreparer.run(self.options("missing", soft: [missing])) { _, _, _ in }) {
            XCTAssertTrue("\($0)".contains("not-there.wav is not a file under"), "\($0)")
        }
    }

    func testTrainingLearnsSoftTagsAsExtraOutputsAndScoresOnlyHardOnes() throws {
        let options = options("train")
        _ = try CorpusPreparer.run(options) { _, _, _ in }
        let cache = try ChunkCache(directory: options.outputDirectory)
        var config = tinyRun("distil", data: options.outputDirectory)
        let trainer = try Trainer(config: config, cache: cache, observer: nil)
        try trainer.run(resume: false)
        XCTAssertEqual(trainer.history.count, 2)
        XCTAssertTrue(trainer.history.allSatisfy { $0.trainLoss.isFinite && $0.valLoss.isFinite })
        XCTAssertEqual(trainer.history[0].validation.perLabel.map(\.label), ["high", "low", "quiet"], "metrics on hard tags only")
        let bundle = try ModelBundle.read(from: trainer.bestModelURL.path)
        XCTAssertEqual(bundle.labels, ["high", "low", "quiet", "t:bright", "t:noisy"])
        XCTAssertEqual(bundle.softLabels, ["t:bright", "t:noisy"])
        XCTAssertEqual(bundle.hardLabels, ["high", "low", "quiet"])
        let metrics = try Evaluation.onPreparedData(bundle: bundle, cache: cache, split: "all")
        XCTAssertEqual(metrics.perLabel.map(\.label), ["high", "low", "quiet"])
        XCTAssertEqual(metrics.samples, 12, "the soft-only tracks have no truth to score")
        let labelled = try LabelTable.read(csvAt: Self.labels, audioDirectory: Self.audio)
        let fromAudio = try Evaluation.onAudio(bundle: bundle, config: PredictionConfig(), audioDirectory: Self.audio,
                                               tracks: labelled, progress: { _, _ in })
        XCTAssertEqual(fromAudio.metrics.perLabel.map(\.label), ["high", "low", "quiet"])

        // A retraining appends a new tag after the teacher tags: they stay soft, and evaluation
        // reads every hard tag from its own column (the old ones score exactly as before).
        let grown = try bundle.growing(["new-tag"], seed: 3)
        XCTAssertEqual(grown.labels, ["high", "low", "quiet", "t:bright", "t:noisy", "new-tag"])
        XCTAssertEqual(grown.softLabels, ["t:bright", "t:noisy"])
        XCTAssertEqual(grown.hardLabels, ["high", "low", "quiet", "new-tag"])
        XCTAssertEqual(grown.hardLabelColumns, [0, 1, 2, 5])
        XCTAssertEqual(grown.trainingColumns, [0, 1, 2, 5, 3, 4])
        let grownMetrics = try Evaluation.onPreparedData(bundle: grown, cache: cache, split: "all")
        let grownAudio = try Evaluation.onAudio(bundle: grown, config: PredictionConfig(), audioDirectory: Self.audio,
                                                tracks: labelled, progress: { _, _ in }).metrics
        XCTAssertEqual(grownMetrics.perLabel.map(\.label), ["high", "low", "quiet", "new-tag"])
        XCTAssertEqual(grownAudio.perLabel.map(\.label), ["high", "low", "quiet", "new-tag"])
        for (old, new) in zip(metrics.perLabel, grownMetrics.perLabel) { XCTAssertEqual(old, new, "prepared: \(old.label)") }
        for (old, new) in zip(fromAudio.metrics.perLabel, grownAudio.perLabel) { XCTAssertEqual(old, new, "audio: \(old.label)") }
        var inconsistent = grown
        inconsistent.info[ModelBundle.softLabelsKey] = "[\"t:bright\", \"t:gone\"]"
        XCTAssertEqual(inconsistent.softLabels, [], "metadata naming a label the model lacks is not trusted")

        // Weight 0: the soft tags and the soft-only tracks are ignored.
        config.experimentName = "no-distil"
        config.training.distillationWeight = 0
        config.training.epochs = 1
        let plain = try Trainer(config: config, cache: cache, observer: nil)
        try plain.run(resume: false)
        XCTAssertEqual(try ModelBundle.read(from: plain.bestModelURL.path).labels, ["high", "low", "quiet"])
        XCTAssertEqual(try ModelBundle.read(from: plain.bestModelURL.path).softLabels, [])
        config.training.distillationWeight = -1
        config.training.softOnlyChunksPerTrack = 0
        XCTAssertTrue(config.problems.contains { $0.contains("distillation_weight") })
        XCTAssertTrue(config.problems.contains { $0.contains("soft_only_chunks_per_track") })
    }

    /// `train` with a teacher's embeddings: the relational term is part of the training loss
    /// (same seed, same batches: the first epoch's loss is higher by it), every epoch finite.
    func testTrainingWithRelationalDistillationAddsItsTermToTheLoss() throws {
        let options = options("relational", soft: [])
        _ = try CorpusPreparer.run(options) { _, _, _ in }
        let cache = try ChunkCache(directory: options.outputDirectory)
        var csv = "path,e0,e1\n"
        for i in 0..<12 { csv += "track\(i).wav,\(i % 2 == 0 ? "1,0" : "0,1")\n" }
        let teacherFile = write(csv, "teacher.csv")

        func firstEpochLoss(weight: Float) throws -> Double {
            var config = tinyRun("relational-\(weight)", data: options.outputDirectory)
            config.training.teacherEmbeddings = teacherFile
            config.training.relationalDistillationWeight = weight
            let trainer = try Trainer(config: config, cache: cache, observer: nil)
            try trainer.run(resume: false)
            XCTAssertTrue(trainer.history.allSatisfy { $0.trainLoss.isFinite && $0.valLoss.isFinite })
            return trainer.history[0].trainLoss
        }
        let without = try firstEpochLoss(weight: 0)
        let with = try firstEpochLoss(weight: 10)
        XCTAssertGreaterThan(with, without + 0.1, "the relational term (weight 10) is in the training loss: \(with) with, \(without) without")

        var config = ExperimentConfig()
        config.dataDir = options.outputDirectory
        config.training.relationalDistillationWeight = 1
        config.training.teacherEmbeddings = write("path,e0\nnot-in-corpus.wav,1\n", "stranger.csv")
        XCTAssertThrowsError(try Trainer(config: config, cache: cache, observer: nil)) {
            XCTAssertTrue("\($0)".contains("names 0 of the"), "\($0)")
        }
    }
}
