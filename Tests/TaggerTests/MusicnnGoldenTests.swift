import Features
import Foundation
import NeuralNet
import Tagger
import XCTest

/// The musicnn port against TensorFlow: a tiny musicnn with random weights, converted from a TF1
/// checkpoint by the same code as the real ones (Tests/Fixtures/musicnn/, written by
/// tools/golden/make_musicnn_fixtures.py), its front end against librosa, a whole clip through
/// `Predictor` against musicnn's patching; and, when it has been imported
/// (tools/musicnn/import.sh), the real MTT_musicnn against TensorFlow's outputs of its checkpoint.
final class MusicnnGoldenTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/Fixtures/musicnn")

    private func expected() throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: Self.fixtures.appendingPathComponent("tiny_musicnn_expected.safetensors"))
    }

    private func tinyBundle() throws -> ModelBundle {
        try ModelBundle.read(from: Self.fixtures.appendingPathComponent("tiny_musicnn.safetensors").path)
    }

    /// The largest |a − e|; fails where some value is further than atol + rtol·|e|.
    @discardableResult
    private func assertClose(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 1e-4, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
        var worst: Float = 0, failures = 0
        for (a, e) in zip(actual, expected) {
            let d = abs(a - e)
            worst = max(worst, d.isNaN ? .infinity : d)
            if !(d <= atol + rtol * abs(e)) { failures += 1 }
        }
        XCTAssertEqual(failures, 0, "\(what): \(failures) of \(expected.count) values off, max abs diff \(worst)", file: file, line: line)
        return worst
    }

    func testTinyNetworkMatchesTensorFlow() throws {
        let bundle = try tinyBundle(), golden = try expected()
        XCTAssertEqual(bundle.network.config.kind, .musicnn)
        XCTAssertEqual(bundle.labels, ["piano", "guitar", "drums", "techno", "no vocals"])
        for key in ["a", "b"] {
            let input = try golden.tensor(named: "\(key).input")
            let output = try bundle.network.forward(input, training: false)
            let logits = try golden.tensor(named: "\(key).logits")
            XCTAssertEqual(output.logits.shape, logits.shape)
            let l = assertClose(output.logits.data, logits.data, atol: 1e-4, "\(key) logits")
            let e = assertClose(output.embeddings.data, try golden.tensor(named: "\(key).embeddings").data, atol: 1e-4, "\(key) penultimate")
            let p = assertClose(output.logits.data.map { 1 / (1 + exp(-$0)) }, try golden.tensor(named: "\(key).probabilities").data,
                                atol: 2e-5, "\(key) probabilities")
            print("tiny musicnn \(key) \(input.shape) vs TensorFlow: max abs diff logits \(l), penultimate \(e), probabilities \(p)")
        }
    }

    /// The same results with every patch on one worker and split across several.
    func testWorkerSplitDoesNotChangeResults() throws {
        let bundle = try tinyBundle()
        let input = try expected().tensor(named: "a.input")
        let one = try Parallel.withWorkerCount(1) { try bundle.network.forward(input, training: false) }
        let three = try Parallel.withWorkerCount(3) { try bundle.network.forward(input, training: false) }
        XCTAssertEqual(one.logits, three.logits)
        XCTAssertEqual(one.embeddings, three.embeddings)
    }

    func testFrontEndMatchesLibrosa() throws {
        let golden = try expected()
        let config = try JSONDecoder().decode(SpectrogramConfig.self, from: Data(try XCTUnwrap(golden.metadata["spectrogram96"]).utf8))
        XCTAssertEqual(config.compression, .log10OnePlus)
        XCTAssertEqual(config.padMode, .reflect)
        XCTAssertEqual(config.nMels, 96)
        let audio = try golden.tensor(named: "audio").data
        let spec = try LogMelSpectrogram(config).logMel(audio)
        let want = try golden.tensor(named: "melspec96")
        XCTAssertEqual([spec.nMels, spec.frames], want.shape)
        // log10(1 + 10000·S) of the loud passage is past float16's 65504 before the log.
        XCTAssertGreaterThan(want.data.max() ?? 0, Float(log10(65504.0)))
        let d = assertClose(spec.values, want.data, atol: 2e-5, "log10(1 + 10000·mel)")
        print("musicnn front end vs librosa: max abs diff \(d)")
    }

    /// A clip through `Predictor` as musicnn's extractor tags it: patches every 16 frames (the
    /// bundle's chunk_hop, not prediction.chunk_hop), the partial last one dropped, mean sigmoid.
    func testTrackPredictionMatchesMusicnnPatching() throws {
        let bundle = try tinyBundle(), golden = try expected()
        XCTAssertEqual(bundle.frontEnd.chunkHop, 16)
        let predictor = try Predictor(bundle: bundle)
        let result = try predictor.predict(samples: try golden.tensor(named: "audio").data)
        XCTAssertEqual(result.chunkCount, Int(try XCTUnwrap(golden.metadata["patches"])))
        assertClose(result.probabilities, try golden.tensor(named: "track.probabilities").data, atol: 2e-5, "track probabilities")
        assertClose(result.embedding, try golden.tensor(named: "track.embedding").data, atol: 1e-4, "track embedding")
    }

    func testBundleRoundTripsAndRefusesTraining() throws {
        let bundle = try tinyBundle()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("musicnn-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try bundle.write(to: path)
        let again = try ModelBundle.read(from: path)
        XCTAssertEqual(again.network.config, bundle.network.config)
        XCTAssertEqual(again.frontEnd, bundle.frontEnd)
        XCTAssertEqual(again.network.stateDict().map(\.tensor), bundle.network.stateDict().map(\.tensor))
        let input = try expected().tensor(named: "b.input")
        XCTAssertThrowsError(try again.network.forward(input, training: true)) { error in
            XCTAssertTrue("\(error)".contains("inference only"), "\(error)")
        }
        XCTAssertThrowsError(try again.network.backward(Tensor(zeros: [1, 5])))
        // A patch with other than the network's mel bands is a clear error, not a crash.
        XCTAssertThrowsError(try again.network.forward(Tensor(zeros: [1, 1, 15, 20]), training: false))
    }

    /// A bundle whose front end does not fit its musicnn network, or whose chunk hop is not a
    /// hop, is refused with the reason.
    func testInconsistentBundleIsRefused() throws {
        let original = try SafetensorsFile(contentsOf: Self.fixtures.appendingPathComponent("tiny_musicnn.safetensors"))
        let frontEnd = try XCTUnwrap(original.metadata["front_end"])
        for (broken, reason) in [(frontEnd.replacingOccurrences(of: "\"n_mels\": 16", with: "\"n_mels\": 17"), "mel bands"),
                                 (frontEnd.replacingOccurrences(of: "\"chunk_hop\": 16", with: "\"chunk_hop\": 0"), "chunk_hop")] {
            XCTAssertNotEqual(broken, frontEnd)
            var file = original
            file.metadata["front_end"] = broken
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("musicnn-\(UUID().uuidString).safetensors")
            defer { try? FileManager.default.removeItem(at: path) }
            try file.write(to: path)
            XCTAssertThrowsError(try ModelBundle.read(from: path.path)) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(error)")
            }
        }
    }

    /// The real MTT_musicnn (tools/musicnn/import.sh, or $TIMBRE_MUSICNN_MODEL) against the
    /// outputs TensorFlow gave for its checkpoint on the import's fixed input.
    func testRealModelMatchesTensorFlow() throws {
        let environment = ProcessInfo.processInfo.environment["TIMBRE_MUSICNN_MODEL"] ?? ""
        let path = environment.isEmpty ? Self.root.appendingPathComponent("models/musicnn/MTT_musicnn.safetensors").path : environment
        let reference = (path.hasSuffix(".safetensors") ? String(path.dropLast(".safetensors".count)) : path) + ".reference.safetensors"
        guard FileManager.default.fileExists(atPath: path), FileManager.default.fileExists(atPath: reference) else {
            throw XCTSkip("no imported musicnn model at \(path) (with its .reference.safetensors): run tools/musicnn/import.sh")
        }
        let bundle = try ModelBundle.read(from: path)
        let golden = try SafetensorsFile(contentsOf: URL(fileURLWithPath: reference))
        let output = try bundle.network.forward(try golden.tensor(named: "input"), training: false)
        let logits = assertClose(output.logits.data, try golden.tensor(named: "logits").data, atol: 1e-3, "real logits")
        let embeddings = assertClose(output.embeddings.data, try golden.tensor(named: "embeddings").data, atol: 1e-3, "real penultimate")
        let probabilities = assertClose(output.logits.data.map { 1 / (1 + exp(-$0)) }, try golden.tensor(named: "probabilities").data,
                                        atol: 1e-4, "real probabilities")
        print("musicnn \(path) vs TensorFlow \(golden.metadata["tensorflow"] ?? "?"): max abs diff logits \(logits), penultimate \(embeddings), probabilities \(probabilities)")
    }
}
