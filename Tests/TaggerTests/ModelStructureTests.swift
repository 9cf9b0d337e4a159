import Foundation
import NeuralNet
import Tagger
import XCTest

/// State-dict names and order, parameter counts and checkpoint loading, against the reference
/// PyTorch module structure written out by hand.
final class ModelStructureTests: XCTestCase {
    private func batchNorm(_ prefix: String) -> [String] {
        ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map { "\(prefix).\($0)" }
    }

    private func block(_ prefix: String, attention: Bool, shortcut: Bool) -> [String] {
        ["\(prefix).conv1.weight"] + batchNorm("\(prefix).bn1") + ["\(prefix).conv2.weight"] + batchNorm("\(prefix).bn2")
            + (attention ? ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"].map { "\(prefix).attention.\($0)" } : [])
            + (shortcut ? ["\(prefix).shortcut.0.weight"] + batchNorm("\(prefix).shortcut.1") : [])
    }

    func testResNetSEStateDictNamesAndOrder() {
        let net = MultiLabelAudioCNN(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, blocks: [1, 2]), seed: 1)
        let expected = ["stem.0.weight"] + batchNorm("stem.1")
            + block("layers.0.0", attention: true, shortcut: false)
            + block("layers.1.0", attention: true, shortcut: true)
            + block("layers.1.1", attention: true, shortcut: false)
            + ["embedding.0.weight", "embedding.0.bias"] + batchNorm("embedding.1")
            + ["classifier.weight", "classifier.bias"]
        XCTAssertEqual(net.stateDict().map(\.name), expected)
        XCTAssertEqual(net.parameters.map(\.name), expected.filter { !$0.contains("running_") && !$0.contains("num_batches") })
        let shapes = Dictionary(uniqueKeysWithValues: net.stateDict().map { ($0.name, $0.tensor.shape) })
        XCTAssertEqual(shapes["stem.0.weight"], [4, 1, 7, 7])
        XCTAssertEqual(shapes["layers.1.0.conv1.weight"], [8, 4, 3, 3])
        XCTAssertEqual(shapes["layers.1.0.shortcut.0.weight"], [8, 4, 1, 1])
        XCTAssertEqual(shapes["layers.1.1.attention.fc1.weight"], [1, 8])   // max(1, 8 / 16)
        XCTAssertEqual(shapes["embedding.0.weight"], [8, 8])
        XCTAssertEqual(shapes["embedding.1.running_var"], [8])
        XCTAssertEqual(shapes["stem.1.num_batches_tracked"], [])
        XCTAssertEqual(shapes["classifier.weight"], [3, 8])
    }

    func testResNetWithoutAttentionHasNoAttentionTensors() {
        let net = MultiLabelAudioCNN(ArchitectureConfig(numGenres: 3, baseChannels: 4, useAttention: false, blocks: [1, 1]), seed: 1)
        XCTAssertFalse(net.stateDict().contains { $0.name.contains("attention") })
        XCTAssertTrue(net.stateDict().contains { $0.name == "layers.1.0.shortcut.1.running_mean" })
    }

    func testBaselineStateDictNamesAndOrder() {
        let net = BaselineCNN(ArchitectureConfig(kind: .baseline, numGenres: 2, baseChannels: 2, embeddingDim: 4), seed: 1)
        let expected = (0..<4).flatMap { ["features.\($0).0.weight"] + batchNorm("features.\($0).1") }
            + ["embedding.0.weight", "embedding.0.bias"] + batchNorm("embedding.1") + ["classifier.weight", "classifier.bias"]
        XCTAssertEqual(net.stateDict().map(\.name), expected)
        XCTAssertEqual(net.stateDict().first { $0.name == "features.3.0.weight" }?.tensor.shape, [16, 8, 3, 3])
    }

    /// The default model (50 genres, base 64, blocks 2-3-2, SE reduction 16), counted by formula.
    func testDefaultParameterCount() {
        let config = ArchitectureConfig(numGenres: 50)
        func conv(_ i: Int, _ o: Int, _ k: Int) -> Int { i * o * k * k }
        func bn(_ c: Int) -> Int { 2 * c }
        func linear(_ i: Int, _ o: Int) -> Int { i * o + o }
        func se(_ c: Int) -> Int { let h = max(1, c / 16); return linear(c, h) + linear(h, c) }
        func block(_ i: Int, _ o: Int, _ stride: Int) -> Int {
            conv(i, o, 3) + bn(o) + conv(o, o, 3) + bn(o) + se(o) + ((stride != 1 || i != o) ? conv(i, o, 1) + bn(o) : 0)
        }
        let expected = conv(1, 64, 7) + bn(64)
            + block(64, 64, 1) + block(64, 64, 1)
            + block(64, 128, 2) + 2 * block(128, 128, 1)
            + block(128, 256, 2) + block(256, 256, 1)
            + linear(256, 256) + bn(256) + linear(256, 50)
        let net = makeNetwork(config, seed: 0)
        XCTAssertEqual(net.parameterCount, expected)
        XCTAssertEqual(Double(expected), 3.2e6, accuracy: 0.3e6)
        print("default MultiLabelAudioCNN (50 genres, base 64): \(net.parameterCount) parameters")
        let baseline = makeNetwork(ArchitectureConfig(kind: .baseline, numGenres: 50, baseChannels: 32), seed: 0)
        let baselineExpected = conv(1, 32, 3) + bn(32) + conv(32, 64, 3) + bn(64) + conv(64, 128, 3) + bn(128)
            + conv(128, 256, 3) + bn(256) + linear(256, 256) + bn(256) + linear(256, 50)
        XCTAssertEqual(baseline.parameterCount, baselineExpected)
        XCTAssertTrue(baseline is BaselineCNN)
    }

    func testLoadStateDictListsEveryProblemAtOnce() throws {
        let net = MultiLabelAudioCNN(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, blocks: [1, 1]), seed: 1)
        let before = net.stateDict()
        var entries = Dictionary(uniqueKeysWithValues: before.map { ($0.name, $0.tensor) })
        entries["stem.1.running_mean"] = nil
        entries["classifier.bias"] = nil
        entries["layers.0.0.conv1.weight"] = Tensor(zeros: [4, 4, 5, 5])
        entries["extra.weight"] = Tensor(zeros: [1])
        entries["classifier.weight"] = Tensor(zeros: [8, 3])
        XCTAssertThrowsError(try net.loadStateDict(entries)) { error in
            guard let e = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.missing, ["stem.1.running_mean", "classifier.bias"])
            XCTAssertEqual(e.unexpected, ["extra.weight"])
            XCTAssertEqual(e.wrongShape.map(\.name), ["layers.0.0.conv1.weight", "classifier.weight"])
            XCTAssertEqual(e.wrongShape.first?.expected, [4, 4, 3, 3])
            XCTAssertEqual(e.wrongShape.first?.got, [4, 4, 5, 5])
            XCTAssertTrue(e.description.contains("stem.1.running_mean"))
        }
        // Nothing was changed by the failed load.
        XCTAssertEqual(net.stateDict().map(\.tensor), before.map(\.tensor))
    }

    func testLoadStateDictRoundTripReproducesOutputs() throws {
        let config = ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, blocks: [1, 1])
        let source = MultiLabelAudioCNN(config, seed: 1), target = MultiLabelAudioCNN(config, seed: 2)
        let x = randomInput([3, 1, 16, 16], seed: 5)
        _ = try source.forward(x, training: true)   // moves the running statistics off their defaults
        var entries = Dictionary(uniqueKeysWithValues: source.stateDict().map { ($0.name, $0.tensor) })
        entries["stem.1.num_batches_tracked"] = Tensor(zeros: [1])   // a [1]-shaped scalar is accepted too
        XCTAssertNotEqual(try target.forward(x, training: false).logits, try source.forward(x, training: false).logits)
        try target.loadStateDict(entries)
        XCTAssertEqual(try target.forward(x, training: false).logits, try source.forward(x, training: false).logits)
        XCTAssertEqual(target.stateDict().first { $0.name == "layers.0.0.bn1.num_batches_tracked" }?.tensor.data, [1])
    }

    func testSameSeedSameNetwork() throws {
        let config = ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0.5, blocks: [1, 1])
        let a = makeNetwork(config, seed: 9), b = makeNetwork(config, seed: 9), c = makeNetwork(config, seed: 10)
        XCTAssertEqual(a.stateDict().map(\.tensor), b.stateDict().map(\.tensor))
        XCTAssertNotEqual(a.stateDict().map(\.tensor), c.stateDict().map(\.tensor))
        let x = randomInput([4, 1, 16, 16], seed: 3)
        // Dropout masks come from the network's own seeded generator.
        XCTAssertEqual(try a.forward(x, training: true).logits, try b.forward(x, training: true).logits)
    }

    func testConfigCodingUsesSnakeCaseAndDefaults() throws {
        let json = #"{"num_genres": 12, "base_channels": 32, "use_attention": false, "blocks": [1, 1]}"#
        let config = try JSONDecoder().decode(ArchitectureConfig.self, from: Data(json.utf8))
        XCTAssertEqual(config, ArchitectureConfig(numGenres: 12, baseChannels: 32, useAttention: false, blocks: [1, 1]))
        XCTAssertEqual(config.kind, .resnetSE)
        XCTAssertEqual(config.embeddingDim, 256)
        let encoded = String(decoding: try JSONEncoder().encode(ArchitectureConfig(kind: .baseline, numGenres: 5)), as: UTF8.self)
        for key in ["\"num_genres\"", "\"input_channels\"", "\"embedding_dim\"", "\"attention_reduction\"", "\"baseline\""] {
            XCTAssertTrue(encoded.contains(key), "\(key) missing in \(encoded)")
        }
        XCTAssertThrowsError(try JSONDecoder().decode(ArchitectureConfig.self, from: Data(#"{"base_channels": 8}"#.utf8)))
        XCTAssertNoThrow(try config.validate())
        XCTAssertThrowsError(try ArchitectureConfig(numGenres: 0, blocks: []).validate()) {
            XCTAssertTrue("\($0)".contains("num_genres") && "\($0)".contains("blocks"), "\($0)")
        }
        XCTAssertThrowsError(try ArchitectureConfig(numGenres: 3, baseChannels: 1 << 40, dropout: 1).validate()) {
            XCTAssertTrue("\($0)".contains("base_channels") && "\($0)".contains("dropout"), "\($0)")
        }
        // Even unvalidated, an absurd stage list builds a (clamped) network instead of crashing.
        XCTAssertEqual(makeNetwork(ArchitectureConfig(numGenres: 2, baseChannels: 1, embeddingDim: 2,
                                                      blocks: [Int](repeating: 1, count: 70)), seed: 0).stateDict().last?.name,
                       "classifier.bias")
    }
}

func randomInput(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return try! Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.uniform(bound: 2) })
}
