import ArgumentParser
import CommandLineProgress
import Foundation
import Tagger

/// `timbre evaluate-retrieval`: same-group precision@k of track embeddings (leave-one-out,
/// cosine), models side by side with a log-mel statistics baseline, on the same tracks.
struct EvaluateRetrievalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-retrieval",
        abstract: "Do a track's nearest neighbours come from its own soundtrack or album? Precision@k of embeddings.",
        discussion: """
            Every first-level folder under --audio-dir is a group (a soundtrack, an album); every audio \
            file below it is a track. For each track, the k most similar other tracks (cosine of the \
            embeddings, as `timbre similar` ranks them) are looked up and the share from its own group \
            is averaged over the tracks. Each --model is scored, and the baseline: per-mel mean and \
            standard deviation of the log-mel spectrogram, standardised over the collection.
            """
    )

    @Option(help: "The folder of groups (one subfolder per soundtrack or album).") var audioDir: String
    @Option(help: "A model to score (repeat for several; default: the shipped model).") var model: [String] = []
    @Option(help: "Neighbours per track.") var k = 5
    @Flag(help: "Leave out the log-mel statistics baseline.") var noBaseline = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1") }
    }

    struct MethodResult: Codable {
        var method: String
        var precisionAtK: Double?
        var perGroup: [String: Double]
        enum CodingKeys: String, CodingKey { case method, precisionAtK = "precision_at_k", perGroup = "per_group" }
    }

    struct Report: Codable {
        var k: Int
        var tracks: Int
        var groups: [String: Int]
        var skipped: [String: String]
        var results: [MethodResult]
    }

    func run() throws {
        let root = URL(fileURLWithPath: audioDir).standardizedFileURL.path
        let tracks = try RetrievalEvaluation.tracks(under: root)
        let groups = Set(tracks.map(\.group))
        guard !tracks.isEmpty, groups.count >= 2 else {
            throw CommandFailure("\(audioDir): need audio files in at least two subfolders (one per soundtrack or album); found \(tracks.count) tracks in \(groups.count) folders")
        }
        var methods: [(name: String, vectors: [Result<[Float], any Error>])] = []
        for path in (model.isEmpty ? [defaultModelPath()] : model) {
            let predictor = try Predictor(bundle: try ModelBundle.read(from: path))
            let progress = ProgressReporter(label: "embed \(URL(fileURLWithPath: path).lastPathComponent)", total: tracks.count)
            methods.append((path, RetrievalEvaluation.modelEmbeddings(predictor, root: root, tracks: tracks) { _ in progress.advance() }))
            progress.finish()
        }
        if !noBaseline {
            let progress = ProgressReporter(label: "log-mel statistics", total: tracks.count)
            methods.append(("log-mel mean/std baseline", RetrievalEvaluation.logMelStatistics(root: root, tracks: tracks) { _ in progress.advance() }))
            progress.finish()
        }
        // Only tracks every method read, so all are scored on the same collection.
        var skipped: [String: String] = [:]
        let kept = tracks.indices.filter { i in
            for method in methods { if case .failure(let error) = method.vectors[i] { skipped[tracks[i].path] = "\(error)"; return false } }
            return true
        }
        for (path, why) in skipped.sorted(by: { $0.key < $1.key }) {
            FileHandle.standardError.write(Data("skipped \(printable(path)): \(why)\n".utf8))
        }
        let keptGroups = kept.map { tracks[$0].group }
        var results: [MethodResult] = []
        for (index, method) in methods.enumerated() {
            var vectors = kept.map { i -> [Float] in (try? method.vectors[i].get()) ?? [] }
            if !noBaseline && index == methods.count - 1 { vectors = RetrievalMetrics.standardised(vectors) }
            let perTrack = RetrievalMetrics.precisionAtKPerTrack(vectors: vectors, groups: keptGroups, k: k)
            var perGroup: [String: (Double, Int)] = [:]
            if let perTrack {
                let scored = kept.indices.filter { i in keptGroups.filter { $0 == keptGroups[i] }.count > 1 }
                for (value, i) in zip(perTrack, scored) {
                    let g = keptGroups[i]
                    perGroup[g] = ((perGroup[g]?.0 ?? 0) + value, (perGroup[g]?.1 ?? 0) + 1)
                }
            }
            results.append(MethodResult(method: method.name, precisionAtK: perTrack.map { $0.reduce(0, +) / Double($0.count) },
                                        perGroup: perGroup.mapValues { $0.0 / Double($0.1) }))
        }
        var sizes: [String: Int] = [:]
        for g in keptGroups { sizes[g, default: 0] += 1 }
        let report = Report(k: k, tracks: kept.count, groups: sizes, skipped: skipped, results: results)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(kept.count) tracks in \(sizes.count) groups (" + sizes.sorted { $0.key < $1.key }.map { "\(printable($0.key)) \($0.value)" }.joined(separator: ", ") + ")")
        for result in results {
            print("P@\(k) " + (result.precisionAtK.map { String(format: "%.3f", $0) } ?? "n/a") + "  " + printable(result.method))
        }
    }
}
