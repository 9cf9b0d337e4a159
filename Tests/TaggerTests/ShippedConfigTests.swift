import Foundation
import XCTest
@testable import Tagger

/// The configs in configs/ load, name only known keys, and describe buildable models.
final class ShippedConfigTests: XCTestCase {
    func testShippedConfigsLoad() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs")
        // retrain.yaml is the retraining settings (RetrainingConfigFileTests); the others are experiments.
        let all = try FileManager.default.contentsOfDirectory(atPath: configs.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertTrue(all.contains("retrain.yaml"))
        let names = all.filter { $0 != "retrain.yaml" }
        XCTAssertEqual(names, ["baseline_8genres.yaml", "cnn_lstm.yaml", "default.yaml", "multilabel_50genres.yaml"])
        for name in names {
            var config = try ExperimentConfig.load(configs.appendingPathComponent(name).path)
            XCTAssertEqual(config.problems, [], name)
            config.model.numGenres = 50
            XCTAssertEqual(config.model.problems, [], name)
        }
        let fifty = try ExperimentConfig.load(configs.appendingPathComponent("multilabel_50genres.yaml").path)
        XCTAssertEqual(fifty.model.baseChannels, 64)
        XCTAssertEqual(fifty.training.epochs, 100)
        let baseline = try ExperimentConfig.load(configs.appendingPathComponent("baseline_8genres.yaml").path)
        XCTAssertEqual(baseline.model.kind, .baseline)
        XCTAssertFalse(baseline.augmentation.specAugment)
        // The default model's experiment table (models/default/README.md).
        let table = configs.appendingPathComponent("experiments")
        let rows = try FileManager.default.contentsOfDirectory(atPath: table.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(rows, ["baseline-distil.yaml", "baseline.yaml", "resnet-noattn.yaml", "resnet-se-audioaug.yaml", "resnet-se-deep.yaml", "resnet-se-distil.yaml", "resnet-se-neighbours-light.yaml", "resnet-se-neighbours.yaml", "resnet-se-relational.yaml", "resnet-se.yaml"])
        for name in rows {
            var config = try ExperimentConfig.load(table.appendingPathComponent(name).path)
            XCTAssertEqual(config.problems, [], name)
            XCTAssertEqual(config.experimentName, "exp-" + name.replacingOccurrences(of: ".yaml", with: ""))
            config.model.numGenres = 27
            XCTAssertEqual(config.model.problems, [], name)
            XCTAssertEqual(config.augmentation.audio.enabled, name == "resnet-se-audioaug.yaml", name)
        }
        let lstm = try ExperimentConfig.load(configs.appendingPathComponent("cnn_lstm.yaml").path)
        XCTAssertEqual(lstm.model.kind, .cnnLSTM)
        XCTAssertEqual([lstm.model.lstmHidden, lstm.model.lstmLayers], [128, 1])
        XCTAssertTrue(lstm.model.bidirectional)
        XCTAssertEqual(lstm.chunking.frames, 430)
    }
}
