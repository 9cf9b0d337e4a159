import AudioIO
import Foundation
import NeuralNet
import Features
import XCTest
@testable import Tagger

/// End to end on a tiny labelled corpus: prepare → train a tiny model → evaluate → predict,
/// checking the files, the JSON shapes, that the loss falls and that --resume continues exactly.
final class TrainingPipelineTests: XCTestCase {
    static let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("timbre-pipeline-\(ProcessInfo.processInfo.processIdentifier)")
    static let labels = ["high", "low", "noise"]

    /// 30 short tracks of tones and noise whose tags say what is audible.
    override class func setUp() {
        let audio = root.appendingPathComponent("audio")
        try! FileManager.default.createDirectory(at: audio, withIntermediateDirectories: true)
        var csv = "path,tags\n"
        var rng = Xoshiro256StarStar(seed: 11)
        for i in 0..<30 {
            let sr = 22050, n = sr * (3 + i % 3)
            var tags: [String] = []
            var samples = [Float](repeating: 0, count: n)
            let hasLow = i % 2 == 0, hasHigh = i % 3 != 0, hasNoise = i % 5 == 0 || (!hasLow && !hasHigh)
            for k in 0..<n {
                let t = Float(k) / Float(sr)
                var x = Float(Int(rng.next() % 1000) - 500) / 500 * (hasNoise ? 0.25 : 0.005)
                if hasLow { x += 0.3 * sin(2 * .pi * 180 * t) }
                if hasHigh { x += 0.3 * sin(2 * .pi * 2500 * t) }
                samples[k] = x
            }
            if hasHigh { tags.append("high") }
            if hasLow { tags.append("low") }
            if hasNoise { tags.append("noise") }
            let name = "track\(i).\(i % 4 == 3 ? "flac" : "wav")"
            try! AudioWriter.write(samples, sampleRate: sr, to: audio.appendingPathComponent(name).path)
            csv += "\(name),\"\(tags.joined(separator: ";"))\"\n"
        }
        try! csv.write(to: root.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
    }

    override class func tearDown() { try? FileManager.default.removeItem(at: root) }

    func tinyConfig(name: String, epochs: Int) -> ExperimentConfig {
        var config = ExperimentConfig()
        config.experimentName = name
        config.outputDir = Self.root.appendingPathComponent("runs").path
        config.dataDir = Self.root.appendingPathComponent("prepared").path
        config.model = ArchitectureConfig(numGenres: 0, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1, 1], attentionReduction: 2)
        config.training.epochs = epochs
        config.training.batchSize = 8
        config.training.learningRate = 3e-3
        config.training.warmupEpochs = 0
        config.training.earlyStoppingPatience = 50
        config.augmentation.mixupProbability = 0.3
        return config
    }

    func prepare() throws -> ChunkCache {
        var options = PrepareOptions(audioDirectory: Self.root.appendingPathComponent("audio").path,
                                     outputDirectory: Self.root.appendingPathComponent("prepared").path,
                                     labels: .csv(path: Self.root.appendingPathComponent("labels.csv").path))
        options.spectrogram.nMels = 32
        options.chunking = .init(frames: 32, hop: 32)
        options.splits = [0.6, 0.2, 0.2]
        _ = try CorpusPreparer.run(options) { _, _, _ in }
        return try ChunkCache(directory: options.outputDirectory)
    }

    func testPrepareTrainEvaluatePredictAndResume() throws {
        let cache = try prepare()
        XCTAssertEqual(cache.index.labels, Self.labels)
        XCTAssertEqual(cache.index.tracks.count, 30)
        XCTAssertEqual(Set(cache.index.tracks.map(\.split)), ["train", "val", "test"])
        XCTAssertTrue(cache.index.failures.isEmpty)
        // Running prepare again skips everything.
        XCTAssertEqual(try prepare().index.tracks.count, 30)

        // Three epochs straight …
        let straight = try Trainer(config: tinyConfig(name: "straight", epochs: 3), cache: cache, observer: nil)
        try straight.run(resume: false)
        XCTAssertEqual(straight.history.count, 3)
        XCTAssertLessThan(straight.history[2].trainLoss, straight.history[0].trainLoss, "the training loss falls")
        let run = straight.runDirectory
        for file in ["best_model.safetensors", "config.yaml", "training_history.json", "training_curves.svg", "checkpoint.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), file)
        }
        let svg = try String(contentsOf: run.appendingPathComponent("training_curves.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("<svg") && svg.contains("validation") && svg.contains("PR-AUC macro"))
        let history = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("training_history.json"))) as? [[String: Any]]
        XCTAssertEqual(history?.count, 3)
        XCTAssertNotNil((history?.first?["validation"] as? [String: Any])?["roc_auc_macro"])

        // … equals two epochs, a stop, and a resumed third.
        let first = try Trainer(config: tinyConfig(name: "resumed", epochs: 3), cache: cache, observer: nil)
        try first.run(resume: false, epochLimit: 2)
        XCTAssertEqual(first.history.count, 2)
        let second = try Trainer(config: tinyConfig(name: "resumed", epochs: 3), cache: cache, observer: nil)
        try second.run(resume: true)
        XCTAssertEqual(second.history.map(\.trainLoss), straight.history.map(\.trainLoss))
        XCTAssertEqual(second.history.map(\.valLoss), straight.history.map(\.valLoss))

        // Test results and the bundle.
        let results = try straight.test()
        XCTAssertEqual(results.split, "test")
        // test_results.json, read back, holds what test() returned.
        let written = try JSONDecoder().decode(TestResults.self, from: Data(contentsOf: run.appendingPathComponent("test_results.json")))
        XCTAssertEqual(written.split, "test")
        XCTAssertEqual(written.metrics, results.metrics)
        XCTAssertEqual(written.metrics.samples, results.metrics.samples)
        XCTAssertGreaterThan(written.metrics.samples, 0)
        let bundle = try ModelBundle.read(from: straight.bestModelURL.path)
        XCTAssertEqual(bundle.labels, Self.labels)
        XCTAssertEqual(bundle.frontEnd.chunkFrames, 32)
        XCTAssertEqual(bundle.frontEnd.spectrogram.nMels, 32)

        // Evaluating the prepared test split again from the saved bundle gives the file's numbers.
        let again = try Evaluation.onPreparedData(bundle: bundle, cache: cache, split: "test")
        XCTAssertEqual(again, written.metrics)

        // Straight from audio with the CSV.
        let tracks = try LabelTable.read(csvAt: Self.root.appendingPathComponent("labels.csv").path,
                                         audioDirectory: Self.root.appendingPathComponent("audio").path)
        let fromAudio = try Evaluation.onAudio(bundle: bundle, config: PredictionConfig(),
                                               audioDirectory: Self.root.appendingPathComponent("audio").path,
                                               tracks: tracks) { _, _ in }
        XCTAssertEqual(fromAudio.metrics.samples, 30)
        XCTAssertTrue(fromAudio.failures.isEmpty)

        // Prediction: probabilities per tag, a unit-length embedding, the seed's JSON shape.
        let predictor = try Predictor(bundle: bundle)
        let prediction = try predictor.predict(file: Self.root.appendingPathComponent("audio/track0.wav").path)
        XCTAssertEqual(prediction.probabilities.count, 3)
        XCTAssertTrue(prediction.probabilities.allSatisfy { $0 > 0 && $0 < 1 })
        XCTAssertEqual(prediction.embedding.count, 8)
        XCTAssertEqual(prediction.embedding.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
        let report = PredictionReport(file: nil, labels: bundle.labels, probabilities: [0.9, 0.2, 0.6], threshold: 0.5, topK: 2)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        XCTAssertEqual(json?["type"] as? String, "multi-label")
        XCTAssertEqual((json?["predicted_genres"] as? [[String: Any]])?.map { $0["genre"] as? String }, ["high", "noise"])
        XCTAssertEqual((json?["top_2"] as? [[String: Any]])?.count, 2)
        XCTAssertEqual((json?["all_probabilities"] as? [String: Double])?.count, 3)
    }

    func testConfigProblemsAreReportedBeforeTraining() throws {
        let cache = try prepare()
        var config = tinyConfig(name: "bad", epochs: 1)
        config.device = "cuda"
        config.model.numGenres = 5
        XCTAssertThrowsError(try Trainer(config: config, cache: cache, observer: nil)) {
            XCTAssertTrue("\($0)".contains("num_genres is 5 but the prepared data has 3 tags"), "\($0)")
        }
        config.model.numGenres = 3
        XCTAssertThrowsError(try Trainer(config: config, cache: cache, observer: nil)) {
            XCTAssertTrue("\($0)".contains("device cuda is not available"), "\($0)")
        }
    }
}
