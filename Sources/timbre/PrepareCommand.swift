import ArgumentParser
import CommandLineProgress
import Foundation
import Tagger

/// `timbre prepare`: audio files + labels → log-mel chunk cache with a stratified split.
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Decode a labelled audio folder into log-mel chunks with a stratified train/val/test split (resumable)."
    )

    @Option(help: "Folder of audio files (searched recursively).") var audioDir: String
    @Option(help: "Where the prepared chunks and index go.") var outputDir: String
    @Option(help: "Labels as a CSV: `path,tags` with ';'-separated tags, or FMA's tracks.csv.") var labels: String?
    @Option(help: "Labels from `folders` (genre/file.wav) or `tags` (the genre tag in each file).") var labelsFrom: String?
    @Option(help: "An experiment config whose `audio` and `chunking` sections set the front end.") var config: String?
    @Option(help: "Seed of the split.") var seed: UInt64 = 42
    @Option(help: "Decoding threads (default: all cores).") var threads: Int?
    @Option(help: "Soft targets for distillation: a CSV path,<tag>,… of probabilities (`timbre soft-labels`); repeatable. Its files without hard labels are prepared with unknown hard tags.")
    var softLabels: [String] = []

    func run() throws {
        let source: LabelSource
        switch (labels, labelsFrom) {
        case (let csv?, nil): source = .csv(path: csv)
        case (nil, "folders"): source = .folders
        case (nil, "tags"): source = .fileTags
        case (nil, nil): throw ValidationError("say where the labels are: --labels FILE.csv, --labels-from folders or --labels-from tags")
        default: throw ValidationError("use either --labels FILE.csv or --labels-from folders|tags")
        }
        let experiment = try config.map(ExperimentConfig.load) ?? ExperimentConfig()
        var options = PrepareOptions(audioDirectory: audioDir, outputDirectory: outputDir, labels: source)
        options.spectrogram = experiment.audio
        options.chunking = experiment.chunking
        options.seed = seed
        options.audioAugmentation = experiment.augmentation.audio
        if let threads { options.threads = max(1, threads) }
        options.softLabels = softLabels
        let progress = ProgressReporter(label: "prepare", total: nil)
        let variantProgress = VariantProgress()
        let summary = try CorpusPreparer.run(options, progress: { done, total, failed in
            progress.advance(note: "\(done)/\(total) files, \(failed) failed")
        }, variantProgress: { done, total, failed in
            progress.finish()
            variantProgress.advance(done: done, total: total, failed: failed)
        })
        progress.finish()
        variantProgress.finish()
        for failure in summary.failed { print("failed: \(failure.path): \(failure.error)") }
        for failure in summary.variants.failed { print("variants failed: \(failure.path): \(failure.error)") }
        if options.audioAugmentation.enabled {
            let v = summary.variants
            let failed = v.failed.isEmpty ? "" : ", \(v.failed.count) tracks failed (tried again by the next run)"
            print("audio variants: \(v.rendered) rendered, \(options.audioAugmentation.variants) per training track (\(v.skipped) tracks already done\(failed))")
        }
        print("""
            prepared \(summary.prepared) tracks into \(outputDir) (\(summary.skipped) already done, \(summary.failed.count) failed)
            \(summary.labels.count) tags: \(summary.labels.joined(separator: ", "))\(summary.softLabels.isEmpty ? "" : "\n\(summary.softLabels.count) soft tags (distillation targets): \(summary.softLabels.prefix(8).joined(separator: ", "))\(summary.softLabels.count > 8 ? ", …" : "")")
            split: \(CorpusPreparer.splitNames.map { "\($0) \(summary.splitSizes[$0] ?? 0)" }.joined(separator: ", "))
            next: timbre train --config configs/default.yaml --data-dir \(outputDir)
            """)
    }
}

/// The bar of the variant phase, made when it starts (its total is known only then).
private final class VariantProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var bar: ProgressReporter?

    func advance(done: Int, total: Int, failed: Int) {
        lock.lock(); defer { lock.unlock() }
        if bar == nil { bar = ProgressReporter(label: "audio variants", total: total) }
        bar?.advance(note: "\(done)/\(total) training tracks, \(failed) failed")
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        bar?.finish()
    }
}
