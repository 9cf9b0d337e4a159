import Foundation
import NeuralNet
import Tagger
import XCTest

/// The Swift networks against the PyTorch reference (tools/reference/model.py), in the manner
/// of llm.c's test_gpt2: load the reference's weights and a batch, then compare the forward
/// pass, the loss, every gradient, and the state after three AdamW steps.
/// Fixtures: Tests/Fixtures/model/{resnet_se_tiny,baseline_tiny,cnn_lstm_tiny}.safetensors, written by
/// tools/golden/make_model_fixtures.py.
final class GoldenModelTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/model")

    struct Golden {
        let file: SafetensorsFile
        let config: ArchitectureConfig

        init(_ name: String) throws {
            file = try SafetensorsFile(contentsOf: GoldenModelTests.fixtures.appendingPathComponent("\(name).safetensors"))
            config = try JSONDecoder().decode(ArchitectureConfig.self, from: Data(try XCTUnwrap(file.metadata["config"]).utf8))
        }

        func tensor(_ name: String) throws -> Tensor { try file.tensor(named: name) }

        /// The tensors under `prefix.`, with the prefix removed.
        func group(_ prefix: String) -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for entry in file.tensors where entry.name.hasPrefix(prefix + ".") {
                out[String(entry.name.dropFirst(prefix.count + 1))] = entry.tensor
            }
            return out
        }

        func names(_ key: String) throws -> [String] {
            try JSONDecoder().decode([String].self, from: Data(try XCTUnwrap(file.metadata[key]).utf8))
        }

        /// A network with the reference's initial weights.
        func network() throws -> any TaggingNetwork {
            let net = makeNetwork(config, seed: 0)
            try net.loadStateDict(group("weights"))
            return net
        }
    }

    struct OptimizerSettings: Decodable {
        var lr: Float, betas: [Float], eps: Float, weight_decay: Float, steps: Int
    }

    /// max |actual − expected| ≤ rel · max |expected| + abs (per tensor, as test_gpt2 compares).
    func assertClose(_ actual: Tensor, _ expected: Tensor, rel: Float, abs absolute: Float = 0, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard actual.shape == expected.shape || actual.count == expected.count && actual.count == 1 else {
            return XCTFail("\(what): shape \(actual.shape), expected \(expected.shape)", file: file, line: line)
        }
        let scale = max(expected.data.map(abs).max() ?? 0, 1e-12)
        let error = zip(actual.data, expected.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(error, rel * scale + absolute, "\(what): max error \(error), scale \(scale)", file: file, line: line)
    }

    func runGolden(_ name: String) throws {
        let golden = try Golden(name)
        let net = try golden.network()
        XCTAssertEqual(net.stateDict().map(\.name), try golden.names("state_dict_names"), "\(name) state_dict order")
        XCTAssertEqual(net.parameters.map(\.name), try golden.names("parameter_names"), "\(name) parameter order")

        let input = try golden.tensor("input"), targets = try golden.tensor("targets")
        let loss = BCEWithLogitsLoss(posWeight: try golden.tensor("pos_weight").data)

        let eval = try net.forward(input, training: false)
        assertClose(eval.logits, try golden.tensor("eval.logits"), rel: 1e-4, "\(name) eval logits")
        assertClose(eval.embeddings, try golden.tensor("eval.embeddings"), rel: 1e-4, "\(name) eval embeddings")

        // Step 1 in detail: train-mode forward, loss, backward.
        net.zeroGrad()
        let train = try net.forward(input, training: true)
        assertClose(train.logits, try golden.tensor("train.logits"), rel: 1e-4, "\(name) train logits")
        assertClose(train.embeddings, try golden.tensor("train.embeddings"), rel: 1e-4, "\(name) train embeddings")
        let (value, dLogits) = try loss(logits: train.logits, targets: targets)
        XCTAssertEqual(value, try golden.tensor("loss").data[0], accuracy: 1e-5, "\(name) loss")
        assertClose(dLogits, try golden.tensor("train.dlogits"), rel: 1e-4, "\(name) dlogits")
        try net.backward(dLogits)
        let grads = golden.group("grad")
        XCTAssertEqual(Set(grads.keys), Set(net.parameters.map(\.name)))
        // A Linear bias right before BatchNorm has a zero gradient in exact arithmetic: both
        // sides hold rounding noise (~1e-7) there, hence the absolute floor.
        // embedding.0.bias is such a bias: its "gradient" is noise on both sides (1e-6 behind the
        // CNN + LSTM's longer chain), checked only for staying noise-sized.
        for parameter in net.parameters {
            let noise = parameter.name == Self.biasBeforeNorm
            assertClose(parameter.grad, try XCTUnwrap(grads[parameter.name]), rel: 1e-3, abs: noise ? 2e-5 : 1e-6,
                        "\(name) grad \(parameter.name)")
        }

        // AdamW steps, forward/backward in train mode each time (eps 1e-3: see the fixture script).
        let settings = try JSONDecoder().decode(OptimizerSettings.self, from: Data(try XCTUnwrap(golden.file.metadata["optimizer"]).utf8))
        let optimizer = AdamW(parameters: net.parameters, learningRate: settings.lr, betas: (settings.betas[0], settings.betas[1]),
                              eps: settings.eps, weightDecay: settings.weight_decay)
        optimizer.step()
        var losses = [value]
        for _ in 1..<settings.steps {
            net.zeroGrad()
            let output = try net.forward(input, training: true)
            let (stepLoss, gradient) = try loss(logits: output.logits, targets: targets)
            losses.append(stepLoss)
            try net.backward(gradient)
            optimizer.step()
        }
        let expectedLosses = try golden.tensor("losses").data
        for (got, want) in zip(losses, expectedLosses) { XCTAssertEqual(got, want, accuracy: 1e-4, "\(name) losses \(losses)") }
        let after = golden.group("step3")
        XCTAssertEqual(Set(after.keys), Set(net.stateDict().map(\.name)))
        // AdamW turns that noise into steps of up to lr·noise/eps: 1e-4 of 0.3 after three steps.
        for (entry, tensor) in net.stateDict() {
            assertClose(tensor, try XCTUnwrap(after[entry]), rel: entry == Self.biasBeforeNorm ? 1e-3 : 1e-4,
                        "\(name) after 3 AdamW steps: \(entry)")
        }
    }

    /// The Linear bias feeding the embedding's BatchNorm: zero gradient in exact arithmetic.
    static let biasBeforeNorm = "embedding.0.bias"

    func testResNetSEMatchesPyTorch() throws { try runGolden("resnet_se_tiny") }

    func testBaselineMatchesPyTorch() throws { try runGolden("baseline_tiny") }

    func testCNNLSTMMatchesPyTorch() throws { try runGolden("cnn_lstm_tiny") }

    /// The trained state written as safetensors (I64 counters, as PyTorch) and read into a
    /// fresh network gives the same eval outputs.
    func testTrainedStateRoundTripsThroughSafetensors() throws {
        let golden = try Golden("resnet_se_tiny")
        let trained = makeNetwork(golden.config, seed: 0)
        try trained.loadStateDict(golden.group("step3"))
        let bytes = try SafetensorsFile(stateDict: trained.stateDict(), metadata: ["config": "tiny"]).serialized()
        let file = try SafetensorsFile(bytes: bytes)
        XCTAssertEqual(file["stem.1.num_batches_tracked"]?.dtype, .int64)
        XCTAssertEqual(file["stem.1.num_batches_tracked"]?.int64Values, [10])
        XCTAssertEqual(file["stem.0.weight"]?.dtype, .float32)
        let restored = makeNetwork(golden.config, seed: 1)
        try restored.loadStateDict(file.stateDict)
        let input = try golden.tensor("input")
        XCTAssertEqual(try restored.forward(input, training: false).logits, try trained.forward(input, training: false).logits)
    }

    /// A state dict with a missing, an extra and a wrongly shaped tensor is refused with all three
    /// named, and the network keeps its weights.
    func testMismatchedStateDictListsEveryProblem() throws {
        let golden = try Golden("resnet_se_tiny")
        let net = try golden.network()
        let before = net.stateDict().map(\.tensor)
        var weights = golden.group("weights")
        weights["classifier.bias"] = nil
        weights["classifier.extra"] = Tensor(zeros: [5])
        weights["stem.0.weight"] = Tensor(zeros: [8, 1, 3, 3])
        weights["layers.1.0.bn1.running_var"] = Tensor(zeros: [8])
        XCTAssertThrowsError(try net.loadStateDict(weights)) { error in
            guard let error = error as? CheckpointError else { return XCTFail("not a CheckpointError: \(error)") }
            XCTAssertEqual(error.missing, ["classifier.bias"])
            XCTAssertEqual(error.unexpected, ["classifier.extra"])
            XCTAssertEqual(error.wrongShape.map(\.name), ["stem.0.weight", "layers.1.0.bn1.running_var"])
            XCTAssertEqual(error.wrongShape.map(\.expected), [[8, 1, 7, 7], [16]])
            XCTAssertTrue(error.description.contains("classifier.extra"))
        }
        XCTAssertEqual(net.stateDict().map(\.tensor), before, "a refused state dict must change nothing")
    }
}
