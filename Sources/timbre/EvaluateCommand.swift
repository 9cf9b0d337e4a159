import ArgumentParser
import CommandLineProgress
import Foundation
import Tagger

/// `timbre evaluate`: multi-label metrics of a model on prepared data or on labelled audio.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a model: Hamming loss, Jaccard, F1/precision/recall, ROC-AUC and PR-AUC, per tag."
    )

    @Option(help: "The model, e.g. a training run's best_model.safetensors (default: the shipped models/default/model.safetensors or $TIMBRE_MODEL).")
    var model: String?
    @Option(help: "Prepared data (from `timbre prepare`).") var dataDir: String?
    @Option(help: "Which split of the prepared data: test, val, train or all.") var split = "test"
    @Option(help: "A folder of audio files to score straight from audio (with --labels).") var audioDir: String?
    @Option(help: "Labels of --audio-dir: `path,tags` CSV.") var labels: String?
    @Flag(help: "Print the metrics as JSON.") var json = false

    func run() throws {
        let bundle = try ModelBundle.read(from: model ?? defaultModelPath())
        let metrics: MultiLabelMetrics
        switch (dataDir, audioDir, labels) {
        case (let dir?, nil, nil):
            metrics = try Evaluation.onPreparedData(bundle: bundle, cache: try ChunkCache(directory: dir), split: split)
        case (nil, let dir?, let csv?):
            let tracks = try LabelTable.read(csvAt: csv, audioDirectory: dir)
            let progress = ProgressReporter(label: "evaluate", total: tracks.count)
            let result = try Evaluation.onAudio(bundle: bundle, config: PredictionConfig(), audioDirectory: dir, tracks: tracks) { _, _ in
                progress.advance()
            }
            progress.finish()
            for failure in result.failures { FileHandle.standardError.write(Data("skipped \(failure.path): \(failure.error)\n".utf8)) }
            metrics = result.metrics
        default:
            throw ValidationError("give either --data-dir DIR, or --audio-dir DIR with --labels FILE.csv")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(metrics), as: UTF8.self))
        } else {
            print(MetricsTable.render(metrics))
        }
    }
}

enum MetricsTable {
    static func render(_ m: MultiLabelMetrics) -> String {
        var lines = [
            "tracks \(m.samples), threshold \(m.threshold)",
            "ROC-AUC  macro \(format(m.rocAucMacro))  micro \(format(m.rocAucMicro))",
            "PR-AUC   macro \(format(m.prAucMacro))  micro \(format(m.prAucMicro))",
            "F1       samples \(format(m.f1Samples))  micro \(format(m.f1Micro))  macro \(format(m.f1Macro))",
            "precision samples \(format(m.precisionSamples))  micro \(format(m.precisionMicro))  macro \(format(m.precisionMacro))",
            "recall   samples \(format(m.recallSamples))  micro \(format(m.recallMicro))  macro \(format(m.recallMacro))",
            "Hamming loss \(format(m.hammingLoss))  Jaccard (samples) \(format(m.jaccardSamples))",
            "",
            "tag".padding(toLength: 20, withPad: " ", startingAt: 0) + " support  precision  recall     f1  ROC-AUC  PR-AUC",
        ]
        for row in m.perLabel {
            lines.append(row.label.padding(toLength: 20, withPad: " ", startingAt: 0)
                + String(format: " %7d  %9.4f  %6.4f  %6.4f", row.support, row.precision, row.recall, row.f1)
                + "  " + format(row.rocAuc).padding(toLength: 7, withPad: " ", startingAt: 0) + "  " + format(row.prAuc))
        }
        return lines.joined(separator: "\n")
    }
}
