import DemoCorpus
import Foundation
import XCTest
@testable import Tagger

/// The README's path on a real (tiny) demo corpus: demo-corpus → prepare → train 2 epochs of a
/// tiny model → evaluate on the test split and from audio → predict, with the seed's JSON shape.
final class DemoCorpusPipelineTests: XCTestCase {
    func testDemoCorpusToPrediction() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-demo-pipeline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let corpus = root.appendingPathComponent("corpus").path
        let summary = try DemoCorpus.generate(DemoCorpusOptions(
            outputDirectory: corpus, trackCount: 24, seed: 5, durationRange: 4...6))
        XCTAssertEqual(summary.rendered, 24)

        var options = PrepareOptions(audioDirectory: corpus, outputDirectory: root.appendingPathComponent("prepared").path,
                                     labels: .csv(path: summary.labelsPath))
        options.spectrogram.nMels = 48
        options.chunking = .init(frames: 64, hop: 32)
        let prepared = try CorpusPreparer.run(options) { _, _, _ in }
        XCTAssertEqual(prepared.prepared, 24)
        XCTAssertTrue(prepared.failed.isEmpty)
        XCTAssertTrue(Set(prepared.labels).isSubset(of: Set(DemoCorpus.tags)))
        let cache = try ChunkCache(directory: options.outputDirectory)

        var config = ExperimentConfig()
        config.experimentName = "demo"
        config.outputDir = root.appendingPathComponent("runs").path
        config.model = ArchitectureConfig(numGenres: 0, baseChannels: 4, embeddingDim: 16, dropout: 0.1, blocks: [1, 1], attentionReduction: 2)
        config.training.epochs = 2
        config.training.batchSize = 8
        config.training.learningRate = 3e-3
        config.training.warmupEpochs = 0
        let trainer = try Trainer(config: config, cache: cache, observer: nil)
        try trainer.run(resume: false)
        XCTAssertEqual(trainer.history.count, 2)
        XCTAssertLessThan(trainer.history[1].trainLoss, trainer.history[0].trainLoss, "the training loss falls")
        let results = try trainer.test()
        XCTAssertEqual(results.metrics.perLabel.map(\.label), prepared.labels)

        let bundle = try ModelBundle.read(from: trainer.bestModelURL.path)
        let tracks = try LabelTable.read(csvAt: summary.labelsPath, audioDirectory: corpus)
        let fromAudio = try Evaluation.onAudio(bundle: bundle, config: PredictionConfig(), audioDirectory: corpus, tracks: tracks) { _, _ in }
        XCTAssertEqual(fromAudio.metrics.samples, 24)
        XCTAssertNotNil(fromAudio.metrics.rocAucMacro)

        let predictor = try Predictor(bundle: bundle)
        let file = (corpus as NSString).appendingPathComponent(tracks[0].path)
        let prediction = try predictor.predict(file: file)
        let report = PredictionReport(file: file, labels: bundle.labels, probabilities: prediction.probabilities, threshold: 0.5, topK: 5)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any]
        XCTAssertEqual(json?["type"] as? String, "multi-label")
        XCTAssertEqual((json?["top_5"] as? [[String: Any]])?.count, 5)
        XCTAssertEqual((json?["all_probabilities"] as? [String: Double])?.count, bundle.labels.count)
        XCTAssertNotNil(json?["predicted_genres"] as? [[String: Any]])
    }
}
