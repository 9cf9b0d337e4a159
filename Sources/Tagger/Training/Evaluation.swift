import Features
import Foundation
import NeuralNet

/// What `test_results.json` holds.
public struct TestResults: Codable, Sendable {
    public var experiment: String
    public var model: String
    public var split: String
    public var metrics: MultiLabelMetrics
}

extension ExperimentConfig {
    /// `configs/NAME.yaml` over the defaults.
    public static func load(_ path: String) throws -> ExperimentConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(source: path, problems: ["cannot be read"])
        }
        return try ConfigLayering.load(yaml: text, over: ExperimentConfig(), source: path)
    }
}

extension Trainer {
    /// Whether early stopping ended the run.
    public var stoppedEarly: Bool { epochsWithoutImprovement >= config.training.earlyStoppingPatience }

    public var parameterCount: Int { network.parameters.reduce(0) { $0 + $1.value.count } }

    /// Scores the best model on the test split and writes `test_results.json`.
    public func test() throws -> TestResults {
        let bundle = try ModelBundle.read(from: bestModelURL.path)
        let metrics = try Evaluation.onPreparedData(bundle: bundle, cache: train.cache, split: "test")
        let results = TestResults(experiment: config.experimentName, model: bestModelURL.path, split: "test", metrics: metrics)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(results).write(to: runDirectory.appendingPathComponent("test_results.json"), options: .atomic)
        return results
    }
}

public enum EvaluationError: Error, CustomStringConvertible {
    case frontEndMismatch
    case labelMismatch(missing: [String])
    case emptySplit(String)

    public var description: String {
        switch self {
        case .frontEndMismatch:
            return "the prepared data was made with another audio front end than the model's; evaluate from audio (--audio-dir, --labels) instead"
        case .labelMismatch(let missing):
            return "the data has tags the model does not know: \(missing.joined(separator: ", "))"
        case .emptySplit(let split): return "the \(split) split has no tracks"
        }
    }
}

public enum Evaluation {
    /// Track-level metrics of `bundle` on one split of a prepared corpus ("all" for every track).
    public static func onPreparedData(bundle: ModelBundle, cache: ChunkCache, split: String) throws -> MultiLabelMetrics {
        let prepared = try? JSONDecoder().decode(SpectrogramConfig.self, from: Data(cache.index.frontEnd.utf8))
        guard prepared == bundle.frontEnd.spectrogram, cache.index.chunkShape[1] == bundle.frontEnd.chunkFrames else {
            throw EvaluationError.frontEndMismatch
        }
        let missing = cache.index.labels.filter { !bundle.labels.contains($0) }
        guard missing.isEmpty else { throw EvaluationError.labelMismatch(missing: missing) }
        let data = TrainingData(cache: cache, split: split, labels: bundle.labels)
        guard !data.tracks.isEmpty else { throw EvaluationError.emptySplit(split) }
        return try Trainer.evaluate(network: bundle.network, data: data, normalization: bundle.normalization,
                                    loss: BCEWithLogitsLoss()).metrics
    }

    /// Track-level metrics of `bundle` on audio files and their labels; files that fail to decode
    /// are returned with their error and left out of the metrics.
    public static func onAudio(bundle: ModelBundle, config: PredictionConfig, audioDirectory: String, tracks: [LabeledTrack],
                               progress: (Int, Int) -> Void) throws -> (metrics: MultiLabelMetrics, failures: [FailedTrack]) {
        let predictor = try Predictor(bundle: bundle, config: config)
        let position = Dictionary(uniqueKeysWithValues: bundle.labels.enumerated().map { ($1, $0) })
        let unknown = Set(tracks.flatMap(\.tags)).filter { position[$0] == nil }.sorted()
        guard unknown.isEmpty else { throw EvaluationError.labelMismatch(missing: unknown) }
        var probabilities: [Float] = [], targets: [Float] = [], failures: [FailedTrack] = []
        for (i, track) in tracks.enumerated() {
            do {
                let prediction = try predictor.predict(file: (audioDirectory as NSString).appendingPathComponent(track.path))
                probabilities += prediction.probabilities
                var row = [Float](repeating: 0, count: bundle.labels.count)
                for tag in track.tags { row[position[tag]!] = 1 }
                targets += row
            } catch {
                failures.append(FailedTrack(path: track.path, error: "\(error)"))
            }
            progress(i + 1, tracks.count)
        }
        let metrics = try MultiLabelMetrics.compute(probabilities: probabilities, targets: targets, labels: bundle.labels)
        return (metrics, failures)
    }
}
