import Features
import Foundation
import NeuralNet
import XCTest
@testable import Tagger

/// The linear probe that starts a new tag's output: against scikit-learn's LogisticRegression
/// (Tests/Fixtures/metrics/logistic_probe.json, from tools/golden/make_metric_fixtures.py), and
/// in the fine-tuner, which must put exactly that fit into the grown classifier.
final class LogisticProbeTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { let l2: Double; let weight: [Double]; let bias: Double }
        let n: Int, dimension: Int
        let features: [Float], targets: [Float], weights: [Float]
        let cases: [Case]
    }

    func testMatchesScikitLearnWithSampleWeights() throws {
        let data = try Data(contentsOf: MetricsTests.fixtures.appendingPathComponent("metrics/logistic_probe.json"))
        let f = try JSONDecoder().decode(Fixture.self, from: data)
        XCTAssertEqual(f.cases.count, 3)
        XCTAssertEqual(f.features.count, f.n * f.dimension)
        for c in f.cases {
            let fit = LogisticProbe.fit(features: f.features, dimension: f.dimension, targets: f.targets, weights: f.weights, l2: c.l2)
            XCTAssertEqual(fit.weight.count, c.weight.count)
            for (mine, theirs) in zip(fit.weight, c.weight) { XCTAssertEqual(Double(mine), theirs, accuracy: 1e-4 * max(1, abs(theirs)), "λ = \(c.l2)") }
            XCTAssertEqual(Double(fit.bias), c.bias, accuracy: 1e-4 * max(1, abs(c.bias)), "λ = \(c.l2)")
            XCTAssertLessThan(fit.iterations, 50, "Newton converges in a few steps")
        }
    }

    func testSeparableDataStaysFiniteAndRanksRight() {
        // Perfectly separable: without the penalty the weights would run off to infinity.
        let features: [Float] = [0, 0, 1, 0, 0, 1, 1, 1]
        let fit = LogisticProbe.fit(features: features, dimension: 2, targets: [0, 0, 0, 1], weights: [1, 1, 1, 1], l2: 0.01)
        XCTAssertTrue(fit.weight.allSatisfy(\.isFinite) && fit.bias.isFinite)
        let scores = (0..<4).map { i in fit.weight[0] * features[2 * i] + fit.weight[1] * features[2 * i + 1] + fit.bias }
        XCTAssertGreaterThan(scores[3], scores[0..<3].max()!)
        XCTAssertGreaterThan(scores[3], 0)
        XCTAssertLessThan(scores[0], 0)
    }

    func testSolveSPD() throws {
        let x = try XCTUnwrap(LogisticProbe.solveSPD([4, 2, 2, 3], [2, 1], size: 2))
        XCTAssertEqual(x[0], 0.5, accuracy: 1e-12)
        XCTAssertEqual(x[1], 0, accuracy: 1e-12)
        XCTAssertNil(LogisticProbe.solveSPD([1, 2, 2, 1], [1, 1], size: 2), "not positive definite")
    }

    /// A grown model with `probe_init` and no epochs of training: the old rows are the parent's,
    /// the new row is the probe fit on the parent's mean embedding of each training track.
    func testFineTunerStartsANewTagFromTheProbe() throws {
        let network = makeNetwork(ArchitectureConfig(numGenres: 2, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: 3)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 16), chunkFrames: 16)
        let parent = ModelBundle(network: network, labels: ["a", "b"], frontEnd: frontEnd, normalization: InputNormalization(mean: 0, std: 1))
        var rng = Xoshiro256StarStar(seed: 9)
        var examples: [FineTuneExample] = []
        for t in 0..<12 {
            let count = 2 + t % 3, size = 16 * 16
            let level: Float = t % 2 == 0 ? 1 : -1  // louder tracks carry the new tag
            let values = (0..<(count * size)).map { _ in level + Float.random(in: -1...1, using: &rng) }
            let chunks = ChunkBatch(count: count, nMels: 16, frames: 16, starts: Array(0..<count), values: values)
            examples.append(FineTuneExample(chunks: chunks, targets: [0, 0, t % 2 == 0 ? 1 : 0], mask: [1, 1, 1],
                                            distil: [true, true, false]))
        }
        var config = FineTuneConfig()
        config.batchSize = 4
        config.probeNormalise = true
        let tuner = try FineTuner(parent: parent, newLabels: ["new"], config: config)
        let result = try tuner.run(train: examples, validation: [], fixedEpochs: 0)
        XCTAssertEqual(result.bestEpoch, 0)
        let state = Dictionary(uniqueKeysWithValues: result.bundle.network.stateDict().map { ($0.name, $0.tensor) })
        let parentState = Dictionary(uniqueKeysWithValues: network.stateDict().map { ($0.name, $0.tensor) })
        let weight = try XCTUnwrap(state["classifier.weight"]), bias = try XCTUnwrap(state["classifier.bias"])
        let d = weight.shape[1]
        XCTAssertEqual(Array(weight.data[0..<(2 * d)]), Array(parentState["classifier.weight"]!.data), "old rows kept")
        XCTAssertEqual(Array(bias.data[0..<2]), parentState["classifier.bias"]!.data)

        // The probe sees each track's mean embedding L2-normalised; its row is then divided by the
        // means' average norm, so it acts on the raw embeddings at their scale.
        let (means, averageNorm) = try normalisedMeans(network, examples, dimension: d)
        let expected = LogisticProbe.fit(features: means, dimension: d, targets: examples.map { $0.targets[2] },
                                         weights: [Float](repeating: 1, count: examples.count), l2: config.probeL2)
        for (mine, theirs) in zip(weight.data[(2 * d)...], expected.weight) { XCTAssertEqual(mine, theirs / averageNorm, accuracy: 1e-5) }
        XCTAssertEqual(bias.data[2], expected.bias, accuracy: 1e-5)
        XCTAssertNotEqual(expected.weight, [Float](repeating: 0, count: d), "the probe learned something")

        // probe_normalise off (the default): the fit on the raw mean embeddings, used as it is.
        config.probeNormalise = false
        let raw = try FineTuner(parent: parent, newLabels: ["new"], config: config).run(train: examples, validation: [], fixedEpochs: 0)
        let rawRow = raw.bundle.network.stateDict().first { $0.name == "classifier.weight" }!.tensor.data[(2 * d)...]
        var rawMeans: [Float] = []
        for example in examples {
            let input = try Tensor(shape: [example.chunks.count, 1, 16, 16], data: example.chunks.values)
            let embeddings = try network.forward(input, training: false).embeddings.data
            rawMeans += (0..<d).map { k in (0..<example.chunks.count).reduce(Float(0)) { $0 + embeddings[$1 * d + k] } / Float(example.chunks.count) }
        }
        let rawFit = LogisticProbe.fit(features: rawMeans, dimension: d, targets: examples.map { $0.targets[2] },
                                       weights: [Float](repeating: 1, count: examples.count), l2: config.probeL2)
        for (mine, theirs) in zip(rawRow, rawFit.weight) { XCTAssertEqual(mine, theirs, accuracy: 1e-5) }

        // Without probe_init the row is the random nn.Linear one, not the fit.
        config.probeInit = false
        let random = try FineTuner(parent: parent, newLabels: ["new"], config: config).run(train: examples, validation: [], fixedEpochs: 0)
        let randomRow = random.bundle.network.stateDict().first { $0.name == "classifier.weight" }!.tensor.data[(2 * d)...]
        XCTAssertNotEqual(Array(randomRow), Array(weight.data[(2 * d)...]))
    }

    /// `new_tag_rows: probe`: while the network trains, the new row does not move (its
    /// gradient is zeroed); after the last epoch it is the probe fitted on the tuned network's
    /// embeddings. With `train` it moves with the rest and is no such fit.
    func testNewRowsHeldAtTheProbeThenRefittedOnTheTunedNetwork() throws {
        let network = makeNetwork(ArchitectureConfig(numGenres: 2, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: 3)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 16), chunkFrames: 16)
        let parent = ModelBundle(network: network, labels: ["a", "b"], frontEnd: frontEnd, normalization: InputNormalization(mean: 0, std: 1))
        var rng = Xoshiro256StarStar(seed: 11)
        var examples: [FineTuneExample] = []
        for t in 0..<12 {
            let count = 2 + t % 3, size = 16 * 16
            let level: Float = t % 2 == 0 ? 1 : -1
            let values = (0..<(count * size)).map { _ in level + Float.random(in: -1...1, using: &rng) }
            let chunks = ChunkBatch(count: count, nMels: 16, frames: 16, starts: Array(0..<count), values: values)
            examples.append(FineTuneExample(chunks: chunks, targets: [t % 3 == 0 ? 1 : 0, 0, t % 2 == 0 ? 1 : 0], mask: [1, 1, 1],
                                            distil: [false, true, false]))
        }
        var config = FineTuneConfig()
        config.batchSize = 4
        config.probeNormalise = true
        config.layers = .all
        config.learningRate = 0.01
        let d = 8
        func rows(_ bundle: ModelBundle) -> (weight: [Float], bias: Float) {
            let state = Dictionary(uniqueKeysWithValues: bundle.network.stateDict().map { ($0.name, $0.tensor) })
            return (Array(state["classifier.weight"]!.data[(2 * d)...]), state["classifier.bias"]!.data[2])
        }
        func probe(on net: any TaggingNetwork) throws -> LogisticProbe.Fit {
            let (means, averageNorm) = try normalisedMeans(net, examples, dimension: d)
            var fit = LogisticProbe.fit(features: means, dimension: d, targets: examples.map { $0.targets[2] },
                                        weights: [Float](repeating: 1, count: examples.count), l2: config.probeL2)
            fit.weight = fit.weight.map { $0 / averageNorm }
            return fit
        }
        config.newTagRows = .probe
        let held = try FineTuner(parent: parent, newLabels: ["new"], config: config).run(train: examples, validation: [], fixedEpochs: 3)
        let start = try probe(on: network), end = try probe(on: held.bundle.network)
        let heldRow = rows(held.bundle)
        for (mine, theirs) in zip(heldRow.weight, end.weight) { XCTAssertEqual(mine, theirs, accuracy: 1e-4) }
        XCTAssertEqual(heldRow.bias, end.bias, accuracy: 1e-4)
        XCTAssertGreaterThan(zip(start.weight, end.weight).map { abs($0 - $1) }.max() ?? 0, 1e-3,
                             "the network trained, so the refit differs from the first fit")

        config.newTagRows = .train
        let trained = try FineTuner(parent: parent, newLabels: ["new"], config: config).run(train: examples, validation: [], fixedEpochs: 3)
        let endTrained = try probe(on: trained.bundle.network)
        XCTAssertGreaterThan(zip(rows(trained.bundle).weight, endTrained.weight).map { abs($0 - $1) }.max() ?? 0, 1e-3,
                             "a trained row is not the probe's fit")
    }

    /// Each example's mean chunk embedding (eval mode), L2-normalised, row after row, and the
    /// means' average norm: what the probe initialisation fits on.
    private func normalisedMeans(_ network: any TaggingNetwork, _ examples: [FineTuneExample],
                                 dimension d: Int) throws -> (means: [Float], averageNorm: Float) {
        var means: [Float] = [], norms: [Float] = []
        for example in examples {
            let input = try Tensor(shape: [example.chunks.count, 1, 16, 16], data: example.chunks.values)
            let embeddings = try network.forward(input, training: false).embeddings.data
            let mean = (0..<d).map { k in (0..<example.chunks.count).reduce(Float(0)) { $0 + embeddings[$1 * d + k] } / Float(example.chunks.count) }
            let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
            means += mean.map { $0 / norm }
            norms.append(norm)
        }
        return (means, norms.reduce(0, +) / Float(norms.count))
    }
}
