import ArgumentParser
import CommandLineProgress
import Foundation
import Tagger

/// `timbre train`: the seed's training script, config first, flags over it.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a multi-label tagging CNN on prepared data (config file + overrides)."
    )

    @Option(help: "Experiment config (YAML); flags below override it.") var config: String?
    @Option(help: "Prepared data (from `timbre prepare`).") var dataDir: String?
    @Option(help: "Number of tags; must match the prepared data (default: taken from it).") var numGenres: Int?
    @Option var epochs: Int?
    @Option var batchSize: Int?
    @Option var lr: Float?
    @Flag(inversion: .prefixedNo, help: "Squeeze-and-excitation attention in every residual block.") var useAttention: Bool?
    @Option var experimentName: String?
    @Option var seed: UInt64?
    @Option(help: "cpu (the only device Timbre trains on).") var device: String?
    @Option(help: "Where runs go (default models/trained_models).") var outputDir: String?
    @Flag(help: "Continue the experiment from its last checkpoint.") var resume = false
    @Option(help: "Stop after this many epochs now (continue later with --resume).") var stopAfter: Int?

    func run() throws {
        var experiment = try config.map(ExperimentConfig.load) ?? ExperimentConfig()
        if let dataDir { experiment.dataDir = dataDir }
        if let numGenres { experiment.model.numGenres = numGenres }
        if let epochs { experiment.training.epochs = epochs }
        if let batchSize { experiment.training.batchSize = batchSize }
        if let lr { experiment.training.learningRate = lr }
        if let useAttention { experiment.model.useAttention = useAttention }
        if let experimentName { experiment.experimentName = experimentName }
        if let seed { experiment.seed = seed }
        if let device { experiment.device = device }
        if let outputDir { experiment.outputDir = outputDir }

        let cache = try ChunkCache(directory: experiment.dataDir)
        let observer = TrainingProgress()
        let trainer = try Trainer(config: experiment, cache: cache, observer: observer)
        print("training \(experiment.experimentName): \(trainer.parameterCount) parameters, \(cache.index.labels.count) tags\(trainer.softLabelCount > 0 ? " + \(trainer.softLabelCount) soft tags" : ""), run directory \(trainer.runDirectory.path)")
        try trainer.run(resume: resume, epochLimit: stopAfter)
        if trainer.history.count < experiment.training.epochs && !trainer.stoppedEarly {
            print("stopped after epoch \(trainer.history.count) of \(experiment.training.epochs); continue with the same command and --resume")
            return
        }
        let results = try trainer.test()
        print("""
            test (\(results.metrics.samples) tracks): ROC-AUC macro \(format(results.metrics.rocAucMacro)), PR-AUC macro \(format(results.metrics.prAucMacro)), F1 macro \(format(results.metrics.f1Macro)), F1 micro \(format(results.metrics.f1Micro))
            wrote \(trainer.runDirectory.path)/{best_model.safetensors,config.yaml,training_history.json,training_curves.svg,test_results.json}
            """)
    }
}

func format(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "n/a" }

/// Draws a bar per epoch and prints a line when each ends.
final class TrainingProgress: TrainingObserver {
    var bar: ProgressReporter?
    var epoch = 0

    func batchFinished(epoch: Int, batch: Int, of batches: Int, loss: Double, samplesPerSecond: Double) {
        if epoch != self.epoch || bar == nil {
            bar = ProgressReporter(label: "epoch \(epoch)", total: batches)
            self.epoch = epoch
        }
        bar?.advance(note: String(format: "loss %.4f, %.1f samples/s", loss, samplesPerSecond))
    }

    func epochFinished(_ r: EpochRecord, improved: Bool) {
        bar?.finish()
        bar = nil
        let numbers = String(format: "train loss %.4f, val loss %.4f", r.trainLoss, r.valLoss)
        let rate = String(format: "lr %.2e, %.0f s", r.learningRate, r.seconds)
        print("epoch \(r.epoch): \(numbers), val PR-AUC \(format(r.validation.prAucMacro)), ROC-AUC \(format(r.validation.rocAucMacro)), F1 macro \(format(r.validation.f1Macro)), \(rate)\(improved ? " (best so far, saved)" : "")")
        fflush(nil)  // the line should reach a log file now, not when training ends
    }

    func message(_ text: String) {
        print(text)
        fflush(nil)
    }
}
