import ArgumentParser
import CommandLineProgress
import Foundation
import Tagger

/// `timbre soft-labels`: a teacher model's tag probabilities for every audio file under a folder,
/// as the soft-label CSV `timbre prepare --soft-labels` reads (distillation targets).
struct SoftLabelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soft-labels",
        abstract: "Write a teacher model's tag probabilities for a folder of audio, for `prepare --soft-labels` (distillation).",
        discussion: """
            Every audio file under --audio-dir (recursively) is tagged by --model, as `timbre predict` \
            tags a track (the mean over its chunks), and one row per file goes into --out: \
            path,<prefix><tag>,… with probabilities in [0, 1]. The prefix keeps the teacher's tags apart \
            from the hard tags (a teacher's "rock" is not the corpus's "rock"). Rerunning with the same \
            --out resumes: files already in it are skipped. Files that cannot be read are reported and left out.
            """
    )

    @Option(help: "The teacher model (a Timbre bundle, e.g. from tools/musicnn/import.sh).") var model: String
    @Option(help: "Folder of audio files (searched recursively); paths in the CSV are relative to it.") var audioDir: String
    @Option(help: "The CSV to write.") var out: String
    @Option(help: "Put before every teacher tag (default: the model file's name, e.g. mtt-musicnn:).") var prefix: String?
    @Option(help: "Only the files under this subfolder of --audio-dir (their paths stay relative to --audio-dir).") var under: String?

    func run() throws {
        let bundle = try ModelBundle.read(from: model)
        let predictor = try Predictor(bundle: bundle)
        let stem = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        // Spelled as `prepare` reads them ("No Vocals" → "no-vocals"), so a rerun recognises its file.
        let labels = bundle.labels.map { normalizeTag((prefix ?? normalizeTag(stem) + ":") + $0) }
        let folder = under.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        let files = try CorpusPreparer.audioFiles(under: audioDir).filter { folder == nil || $0.hasPrefix(folder!) }
        guard !files.isEmpty else { throw CommandFailure("\(audioDir)\(under.map { "/" + $0 } ?? ""): no audio files") }
        var rows: [(path: String, values: [Float?])] = []
        if FileManager.default.fileExists(atPath: out) {
            let existing = try SoftLabelTable.read(csvAt: out)
            guard existing.labels == labels else {
                throw CommandFailure("\(out) holds other tags (\(existing.labels.prefix(3).joined(separator: ", "))…) than this model with this prefix would write; give another --out")
            }
            rows = existing.rows.keys.sorted().map { path in (path, labels.map { existing.rows[path]?[$0] }) }
        }
        let done = Set(rows.map(\.path))
        let todo = files.filter { !done.contains($0) }
        let progress = ProgressReporter(label: "soft labels", total: todo.count)
        var failed = 0
        func save() throws {
            try SoftLabelTable.csvText(labels: labels, rows: rows.sorted { $0.path < $1.path })
                .write(toFile: out, atomically: true, encoding: .utf8)
        }
        for (i, path) in todo.enumerated() {
            do {
                let prediction = try predictor.predict(file: (audioDir as NSString).appendingPathComponent(path))
                rows.append((path, prediction.probabilities.map { Optional(min(1, max(0, $0))) }))
            } catch {
                failed += 1
                FileHandle.standardError.write(Data("skipped \(printable(path)): \(error)\n".utf8))
            }
            progress.advance()
            if (i + 1) % 50 == 0 { try save() }
        }
        try save()
        progress.finish()
        print("wrote \(rows.count) rows × \(labels.count) teacher tags to \(out) (\(done.count) already there, \(failed) failed)")
        print("next: timbre prepare --audio-dir \(audioDir) --labels LABELS.csv --soft-labels \(out) --output-dir DIR")
    }
}
