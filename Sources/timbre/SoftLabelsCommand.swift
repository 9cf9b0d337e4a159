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
            --out resumes: files already in it are skipped. Files that cannot be read are reported and left out. \
            With --embeddings-out, the teacher's track embeddings (the L2-normalised mean of its chunk \
            embeddings, as `timbre similar` uses them) go into a second CSV, path,e0,e1,…, for \
            training.teacher_embeddings (relational distillation).
            """
    )

    @Option(help: "The teacher model (a Timbre bundle, e.g. from tools/musicnn/import.sh).") var model: String
    @Option(help: "Folder of audio files (searched recursively); paths in the CSV are relative to it.") var audioDir: String
    @Option(help: "The CSV to write.") var out: String
    @Option(help: "Put before every teacher tag (default: the model file's name, e.g. mtt-musicnn:).") var prefix: String?
    @Option(help: "Only the files under this subfolder of --audio-dir (their paths stay relative to --audio-dir).") var under: String?
    @Option(help: "Also write the teacher's track embeddings to this CSV (for training.teacher_embeddings).") var embeddingsOut: String?

    func run() throws {
        let bundle = try ModelBundle.read(from: model)
        let predictor = try Predictor(bundle: bundle)
        let stem = URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent
        // Spelled as `prepare` reads them ("No Vocals" → "no-vocals"), so a rerun recognises its file.
        let labels = bundle.labels.map { normalizeTag((prefix ?? normalizeTag(stem) + ":") + $0) }
        let folder = under.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        let files = try CorpusPreparer.audioFiles(under: audioDir).filter { folder == nil || $0.hasPrefix(folder!) }
        guard !files.isEmpty else { throw CommandFailure("\(audioDir)\(under.map { "/" + $0 } ?? ""): no audio files") }
        var rows: [String: [Float?]] = [:]
        if FileManager.default.fileExists(atPath: out) {
            let existing = try SoftLabelTable.read(csvAt: out)
            guard existing.labels == labels else {
                throw CommandFailure("\(out) holds other tags (\(existing.labels.prefix(3).joined(separator: ", "))…) than this model with this prefix would write; give another --out")
            }
            for (path, values) in existing.rows { rows[path] = labels.map { values[$0] } }
        }
        let dimension = bundle.network.config.embeddingDim
        var vectors: [String: [Float]] = [:]
        if let embeddingsOut, FileManager.default.fileExists(atPath: embeddingsOut) {
            let existing = try TeacherEmbeddingTable.read(csvAt: embeddingsOut)
            guard existing.dimension == dimension else {
                throw CommandFailure("\(embeddingsOut) holds \(existing.dimension)-d embeddings, this model's are \(dimension)-d; give another --embeddings-out")
            }
            vectors = existing.rows
        }
        // A file counts as done when every file asked for has its row.
        let done = Set(rows.keys.filter { embeddingsOut == nil || vectors[$0] != nil })
        let todo = files.filter { !done.contains($0) }
        let progress = ProgressReporter(label: "soft labels", total: todo.count)
        var failed = 0
        func save() throws {
            try SoftLabelTable.csvText(labels: labels, rows: rows.keys.sorted().map { ($0, rows[$0]!) })
                .write(toFile: out, atomically: true, encoding: .utf8)
            if let embeddingsOut {
                try TeacherEmbeddingTable.csvText(dimension: dimension, rows: vectors.keys.sorted().map { ($0, vectors[$0]!) })
                    .write(toFile: embeddingsOut, atomically: true, encoding: .utf8)
            }
        }
        for (i, path) in todo.enumerated() {
            do {
                let prediction = try predictor.predict(file: (audioDir as NSString).appendingPathComponent(path))
                rows[path] = prediction.probabilities.map { Optional(min(1, max(0, $0))) }
                if embeddingsOut != nil { vectors[path] = prediction.embedding }
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
        if let embeddingsOut { print("wrote \(vectors.count) \(dimension)-d track embeddings to \(embeddingsOut)") }
        print("next: timbre prepare --audio-dir \(audioDir) --labels LABELS.csv --soft-labels \(out) --output-dir DIR")
    }
}
