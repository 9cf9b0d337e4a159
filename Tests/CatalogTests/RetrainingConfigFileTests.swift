@testable import Catalog
import Foundation
import Tagger
import XCTest

/// configs/retrain.yaml, the documented retraining settings, lists every key with its default;
/// `timbre retrain --config` reads YAML (and JSON, which is YAML) with unknown and repeated keys refused.
final class RetrainingConfigFileTests: XCTestCase {
    static let file = TestDatabase.repositoryRoot.appendingPathComponent("configs/retrain.yaml")

    /// Every field away from its default: loading the file over it must bring each back.
    static func sentinel() -> RetrainingConfig {
        var c = RetrainingConfig()
        c.minPositivesForNewTag += 1; c.autoTriggerCorrections += 1; c.minCorrectedTracks += 1
        c.replayPerCorrected += 1; c.maxReplay += 1; c.validationFraction /= 2; c.gateFraction /= 2
        c.significance /= 2; c.maxReplayDisagreement /= 2; c.correctionWeight += 1; c.replayWeightOnCorrectedLabels += 1
        c.refitOnAllCorrections.toggle(); c.seed += 1
        c.fineTune.epochs += 1; c.fineTune.learningRate /= 2; c.fineTune.weightDecay *= 2; c.fineTune.layers = .all
        c.fineTune.batchSize += 1; c.fineTune.chunksPerTrack += 1; c.fineTune.patience += 1; c.fineTune.specAugment.toggle()
        c.fineTune.gradClip = nil; c.fineTune.probeInit.toggle(); c.fineTune.newTagReplayWeight += 0.5; c.fineTune.newTagRows = .probe; c.fineTune.probeL2 = 2; c.fineTune.probeNormalise.toggle(); c.fineTune.seed += 1
        c.prediction.chunkHop += 1; c.prediction.maxChunks += 1; c.prediction.threshold /= 2; c.prediction.topK += 1
        return c
    }

    func testTheShippedFileListsEveryDefault() throws {
        let yaml = try String(contentsOf: Self.file, encoding: .utf8)
        XCTAssertEqual(try ConfigLayering.load(yaml: yaml, over: RetrainingConfig(), source: "retrain.yaml"), RetrainingConfig())
        let sentinel = Self.sentinel()
        XCTAssertNotEqual(sentinel, RetrainingConfig())
        XCTAssertEqual(try ConfigLayering.load(yaml: yaml, over: sentinel, source: "retrain.yaml"), RetrainingConfig(),
                       "every key of RetrainingConfig is in configs/retrain.yaml")
    }

    func testTheCommandReadsYAMLAndJSONAndRefusesBadKeys() throws {
        let binary = try WorkerTests.timbreBinary()
        let directory = try makeTemporaryDirectory("timbre-retrain-config")
        defer { try? FileManager.default.removeItem(at: directory) }
        // No catalog is reachable: the configuration is checked before the database is opened.
        for (name, text, expected) in [
            ("typo.yaml", "fine_tune:\n  epoch: 3\n", "fine_tune.epoch: unknown key"),
            ("twice.yaml", "max_replay: 3\nmax_replay: 4\n", "duplicated key(s): 'max_replay'"),
            ("bad.json", "{\"fine_tune\": {\"layers\": \"middle\"}}", "fine_tune.layers"),
        ] {
            let path = directory.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let errors = directory.appendingPathComponent(name + ".err").path
            let status = try waitForExit(spawn([binary.path, "retrain", "--config", path, "--database-url", "postgresql:///none?host=/nonexistent"],
                                                errors: errors))
            let message = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            XCTAssertNotEqual(status, 0, name)
            XCTAssertTrue(message.contains(expected), "\(name): \(message)")
        }
    }
}
