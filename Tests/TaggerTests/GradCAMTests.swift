import Features
import Foundation
import NeuralNet
@testable import Tagger
import XCTest

/// Grad-CAM (`GradCAM`, the networks' stage tap) against PyTorch autograd on the tiny fixture
/// networks of every kind (Tests/Fixtures/model/gradcam_*.safetensors, written by
/// tools/golden/make_model_fixtures.py), and on a tiny network trained to tag a tone: its
/// explanation must point at the tone's time and mel band.
final class GradCAMTests: XCTestCase {
    func golden(_ name: String) throws -> (file: SafetensorsFile, network: any TaggingNetwork, label: Int, stages: [String], stageNames: [String]) {
        let file = try SafetensorsFile(contentsOf: GoldenModelTests.fixtures.appendingPathComponent("\(name).safetensors"))
        let decoder = JSONDecoder()
        func meta<T: Decodable>(_ key: String, _ type: T.Type) throws -> T {
            try decoder.decode(type, from: Data(try XCTUnwrap(file.metadata[key], key).utf8))
        }
        let config = try meta("config", ArchitectureConfig.self)
        let network = makeNetwork(config, seed: 0)
        var weights: [String: Tensor] = [:]
        for entry in file.tensors where entry.name.hasPrefix("weights.") { weights[String(entry.name.dropFirst(8))] = entry.tensor }
        try network.loadStateDict(weights)
        return (file, network, try meta("label", Int.self), try meta("stages", [String].self), try meta("stage_names", [String].self))
    }

    /// max |actual − expected| ≤ rel · max |expected| + abs.
    func assertClose(_ actual: [Float], _ expected: Tensor, rel: Float, abs absolute: Float = 0, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
        let scale = max(expected.data.map(abs).max() ?? 0, 1e-12)
        let error = zip(actual, expected.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(error, rel * scale + absolute, "\(what): max error \(error), scale \(scale)", file: file, line: line)
    }

    func runGolden(_ name: String) throws {
        let g = try golden(name)
        XCTAssertEqual(g.network.stageNames, g.stageNames, "\(name): stage names are the reference's module paths")
        let input = try g.file.tensor(named: "input")
        for stageName in g.stages {
            let stage = try XCTUnwrap(g.network.stageNames.firstIndex(of: stageName))
            // The tap itself: the stage's activation and the gradient of the label's logit.
            let tapped = try g.network.forward(input, tappingStage: stage)
            assertClose(tapped.output.logits.data, try g.file.tensor(named: "logits"), rel: 1e-4, "\(name) logits")
            let activation = try g.file.tensor(named: "\(stageName).activation")
            XCTAssertEqual(tapped.activation.shape, activation.shape, "\(name) \(stageName) activation shape")
            assertClose(tapped.activation.data, activation, rel: 1e-4, "\(name) \(stageName) activation")
            let genres = tapped.output.logits.shape[1]
            var seed = Tensor(zeros: [input.shape[0], genres])
            for b in 0..<input.shape[0] { seed.data[b * genres + g.label] = 1 }
            let gradient = try g.network.backwardToTap(seed)
            assertClose(gradient.data, try g.file.tensor(named: "\(stageName).gradient"), rel: 1e-3, abs: 1e-7,
                        "\(name) \(stageName) gradient")
            g.network.zeroGrad()

            let maps = try GradCAM.maps(network: g.network, input: input, label: g.label, stage: stage)
            let cam = try g.file.tensor(named: "\(stageName).cam"), upsampled = try g.file.tensor(named: "\(stageName).cam_upsampled")
            XCTAssertEqual([input.shape[0], maps.coarseHeight, maps.coarseWidth], cam.shape)
            XCTAssertEqual([input.shape[0], maps.height, maps.width], upsampled.shape)
            assertClose(maps.coarse, cam, rel: 1e-3, abs: 1e-6, "\(name) \(stageName) CAM")
            assertClose(maps.upsampled, upsampled, rel: 1e-3, abs: 1e-6, "\(name) \(stageName) upsampled CAM")
            XCTAssertGreaterThan(maps.coarse.filter { $0 > 0 }.count, 0)
            XCTAssertTrue(g.network.parameters.allSatisfy { $0.grad.data.allSatisfy { $0 == 0 } }, "GradCAM leaves no gradients behind")
        }
        // The default is the last convolutional stage.
        XCTAssertEqual(try GradCAM.maps(network: g.network, input: input, label: g.label).stage, g.stageNames.count - 1)
    }

    func testResNetSEGradCAMMatchesPyTorch() throws { try runGolden("gradcam_resnet_se") }

    func testBaselineGradCAMMatchesPyTorch() throws { try runGolden("gradcam_baseline") }

    /// Through the CNN-LSTM's sequence, LSTM and time pool between the stages and the head.
    func testCNNLSTMGradCAMMatchesPyTorch() throws { try runGolden("gradcam_cnn_lstm") }

    /// The tap is bookkept like backward: out of turn it refuses, and an ordinary forward
    /// afterwards (the fused inference path) still gives the same logits.
    func testTapRefusesOutOfTurnAndLeavesInferenceAlone() throws {
        let g = try golden("gradcam_resnet_se")
        let input = try g.file.tensor(named: "input")
        let genres = try g.file.tensor(named: "logits").shape[1]
        let seed = Tensor(zeros: [input.shape[0], genres])
        XCTAssertThrowsError(try g.network.backwardToTap(seed)) { XCTAssertTrue("\($0)".contains("forward(_:tappingStage:)"), "\($0)") }
        XCTAssertThrowsError(try g.network.forward(input, tappingStage: 99)) { XCTAssertTrue("\($0)".contains("stem"), "\($0)") }
        _ = try g.network.forward(input, tappingStage: 0)
        XCTAssertThrowsError(try g.network.backwardToTap(Tensor(zeros: [1, genres])))
        let inference = try g.network.forward(input, training: false)
        XCTAssertThrowsError(try g.network.backwardToTap(seed), "an ordinary forward ends the tap")
        assertClose(inference.logits.data, try g.file.tensor(named: "logits"), rel: 1e-4, "inference logits after a tap")
        XCTAssertThrowsError(try GradCAM.maps(network: g.network, input: input, label: genres))
    }

    func testBilinearResizeMatchesPyTorchOnKnownValues() throws {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
        let up = try BilinearResize.resize([1, 2, 3, 4], planes: 1, height: 2, width: 2, toHeight: 4, width: 4)
        let expected: [Float] = [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0]
        for (a, b) in zip(up, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertThrowsError(try BilinearResize.resize([1, 2, 3], planes: 1, height: 2, width: 2, toHeight: 4, width: 4))
    }

    // MARK: A tag caused by a tone

    /// 8 kHz audio, 32 mel bands, chunks of 32 frames (0.26 s).
    static let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 8000, nFFT: 256, hopLength: 64, nMels: 32), chunkFrames: 32)
    static let toneHz = 1500.0

    /// Noise, with the tone from `from` to `to` seconds when given.
    static func clip(samples: Int, tone: (from: Double, to: Double)?, rng: inout Xoshiro256StarStar) -> [Float] {
        let phase = Double(rng.next() % 1000) / 1000 * 2 * Double.pi
        return (0..<samples).map { i in
            let t = Double(i) / 8000
            let noise = Float(RandomDistributions.standardNormal(using: &rng)) * 0.05
            guard let tone, t >= tone.from, t < tone.to else { return noise }
            return noise + Float(0.4 * sin(2 * Double.pi * toneHz * t + phase))
        }
    }

    func testExplanationOfATrainedToneTagPointsAtTheTone() throws {
        var rng = Xoshiro256StarStar(seed: 7)
        let network = makeNetwork(ArchitectureConfig(kind: .resnetSE, numGenres: 2, baseChannels: 8, useAttention: false,
                                                     embeddingDim: 16, dropout: 0, blocks: [1]), seed: 3)
        var prediction = PredictionConfig()
        prediction.chunkHop = 16
        let probe = try Predictor(bundle: ModelBundle(network: network, labels: ["tone", "other"], frontEnd: Self.frontEnd,
                                                      normalization: InputNormalization(mean: 0, std: 1)), config: prediction)
        // Normalise as training would: the mean and spread of the clips' dB.
        let sample = try probe.chunks(samples: Self.clip(samples: 1984, tone: (0.05, 0.2), rng: &rng)).values
        let mean = sample.reduce(0, +) / Float(sample.count)
        let std = (sample.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(sample.count)).squareRoot()
        let predictor = try Predictor(bundle: ModelBundle(network: network, labels: ["tone", "other"], frontEnd: Self.frontEnd,
                                                          normalization: InputNormalization(mean: mean, std: std)), config: prediction)

        // One chunk per clip (1984 samples = 32 frames); half hold the tone somewhere, "other" is never on.
        let optimizer = AdamW(parameters: network.parameters, learningRate: 3e-3, weightDecay: 0)
        let loss = BCEWithLogitsLoss()
        let batch = 16
        var lastLosses: [Float] = []
        for step in 0..<250 {
            var values: [Float] = [], targets: [Float] = []
            for i in 0..<batch {
                let on = i % 2 == 0
                let start = Double(rng.next() % 200) / 1000 - 0.05, length = 0.05 + Double(rng.next() % 250) / 1000
                let chunk = try predictor.chunks(samples: Self.clip(samples: 1984, tone: on ? (start, start + length) : nil, rng: &rng))
                values += chunk.values
                targets += [on ? 1 : 0, 0]
            }
            network.zeroGrad()
            let output = try network.forward(try Tensor(shape: [batch, 1, 32, 32], data: values), training: true)
            let (value, gradient) = try loss(logits: output.logits, targets: try Tensor(shape: [batch, 2], data: targets))
            try network.backward(gradient)
            optimizer.step()
            if step >= 230 { lastLosses.append(value) }
        }
        let finalLoss = lastLosses.reduce(0, +) / Float(lastLosses.count)
        XCTAssertLessThan(finalLoss, 0.2, "the tiny network learnt to hear the tone")

        // A 2 s track: noise, the tone from 0.8 to 1.1 s.
        let track = Self.clip(samples: 16000, tone: (0.8, 1.1), rng: &rng)
        // The tone fills a few of the 14 chunks, so the track's mean is well below 1, but far above silence's.
        let tagged = try predictor.predict(samples: track).probabilities[0]
        let quiet = try predictor.predict(samples: Self.clip(samples: 16000, tone: nil, rng: &rng)).probabilities[0]
        XCTAssertGreaterThan(tagged, 2 * quiet + 0.1, "the tone track is tagged, the noise is not")
        let explanation = try predictor.explain(samples: track, tag: "Tone")
        XCTAssertEqual(explanation.tag, "tone")
        XCTAssertEqual(explanation.stage, "layers.0")
        XCTAssertEqual(explanation.spans.count, 1, "chunks every 16 frames cover the track")
        XCTAssertEqual(explanation.spans[0].frames, 0..<(try XCTUnwrap(explanation.chunkStarts.last) + 32), "the analysed frames, no more")
        XCTAssertEqual(explanation.probability, tagged, accuracy: 1e-4, "the tapped forward gives the fused inference's probability")
        let regions = HeatRegions(explanation)
        let span = try XCTUnwrap(regions.timeSpans.first), band = try XCTUnwrap(regions.melBands.first)
        let region = try XCTUnwrap(regions.regions.first)
        XCTAssertTrue(span.startSeconds < 1.1 && span.endSeconds > 0.8, "hottest time span \(span) overlaps the tone")
        XCTAssertTrue(span.startSeconds > 0.5 && span.endSeconds < 1.4, "hottest time span \(span) lies around the tone")
        XCTAssertTrue(band.lowHz <= Self.toneHz * 1.15 && band.highHz >= Self.toneHz / 1.15, "hottest band \(band) holds \(Self.toneHz) Hz")
        XCTAssertTrue(region.startSeconds < 1.1 && region.endSeconds > 0.8 && region.lowHz <= Self.toneHz * 1.15
                      && region.highHz >= Self.toneHz / 1.15, "hottest region \(region) covers the tone")
        XCTAssertGreaterThan(span.share, 0.3)
        // The heat at the tone against the heat away from it.
        let toneBand = try XCTUnwrap(HeatRegions.bandEdges(Self.frontEnd.spectrogram).firstIndex { $0.low <= Self.toneHz && Self.toneHz < $0.high })
        let toneFrame = Int(0.95 / explanation.secondsPerFrame), quietFrame = Int(0.3 / explanation.secondsPerFrame)
        XCTAssertGreaterThan(explanation.heat(band: toneBand, frame: toneFrame), 3 * explanation.heat(band: toneBand, frame: quietFrame))

        XCTAssertThrowsError(try predictor.explain(samples: track, tag: "jazz")) {
            XCTAssertEqual("\($0)", "the model has no tag \"jazz\"; its tags are: tone, other")
        }
    }

    /// Overlapping chunks average; frames past a short track's end are dropped; gaps split spans.
    func testStitchingAveragesOverlapsAndSplitsAtGaps() throws {
        // 2 bands, chunks of 4 frames at 0, 2 and 10, track of 13 frames.
        let maps: [Float] = [1, 1, 1, 1, 2, 2, 2, 2,   3, 3, 3, 3, 4, 4, 4, 4,   5, 5, 5, 5, 6, 6, 6, 6]
        let spans = TrackExplanation.stitch(maps: maps, starts: [0, 2, 10], nMels: 2, chunkFrames: 4, totalFrames: 13)
        XCTAssertEqual(spans.map(\.frames), [0..<6, 10..<13])
        XCTAssertEqual(spans[0].heat, [1, 1, 2, 2, 3, 3, /* band 1 */ 2, 2, 3, 3, 4, 4])
        XCTAssertEqual(spans[1].heat, [5, 5, 5, 6, 6, 6])
    }
}
