import Features
import Foundation
import NeuralNet

/// Scores a model bundle on labelled data, prepared chunks or audio files: track-level metrics
/// (`MultiLabelMetrics`), as `timbre evaluate` and `Trainer.test()` report them.
public enum Evaluation {
    /// Track-level metrics of `bundle` on one split of a prepared corpus ("all" for every track).
    public static func onPreparedData(bundle: ModelBundle, cache: ChunkCache, split: String) throws -> MultiLabelMetrics {
        let prepared = try? JSONDecoder().decode(SpectrogramConfig.self, from: Data(cache.index.frontEnd.utf8))
        guard prepared == bundle.frontEnd.spectrogram, cache.index.chunkShape[1] == bundle.frontEnd.chunkFrames else {
            throw EvaluationError.frontEndMismatch
        }
        let missing = cache.index.labels.filter { !bundle.labels.contains($0) }
        guard missing.isEmpty else { throw EvaluationError.labelMismatch(missing: missing) }
        // Hard labels first, soft after, as the model was trained (`Trainer.bundle`); a tag a
        // retraining added after the soft ones is read from its own column.
        let data = TrainingData(cache: cache, split: split, labels: bundle.hardLabels, softLabels: bundle.softLabels)
        guard !data.tracks.isEmpty else { throw EvaluationError.emptySplit(split) }
        let columns = bundle.trainingColumns
        return try Trainer.evaluate(network: bundle.network, data: data, normalization: bundle.normalization,
                                    loss: BCEWithLogitsLoss(), columns: columns == Array(bundle.labels.indices) ? nil : columns).metrics
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
        // Metrics on the hard labels only: a distilled model's teacher tags have no truth here.
        let l = bundle.labels.count, columns = bundle.hardLabelColumns
        let rows = probabilities.count / l
        let metrics = try MultiLabelMetrics.compute(
            probabilities: (0..<rows).flatMap { i in columns.map { probabilities[i * l + $0] } },
            targets: (0..<rows).flatMap { i in columns.map { targets[i * l + $0] } }, labels: bundle.hardLabels)
        return (metrics, failures)
    }
}
