import ArgumentParser
import Foundation
import Tagger

/// The shipped default model: `$TIMBRE_MODEL`, else `models/default/model.safetensors` in the
/// working directory or in a folder above the executable (a checkout's `.build/…/timbre`).
func defaultModelPath() -> String {
    let relative = "models/default/model.safetensors"
    if let path = ProcessInfo.processInfo.environment["TIMBRE_MODEL"], !path.isEmpty { return path }
    if FileManager.default.fileExists(atPath: relative) { return relative }
    let executable = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
    var directory = executable.resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<8 {
        let candidate = directory.appendingPathComponent(relative).path
        if FileManager.default.fileExists(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    return relative
}

/// `timbre predict FILE…`: tags per file in the seed's JSON shape.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Tag audio files: probabilities per tag, the tags over the threshold and the top k."
    )

    @Argument(help: "Audio files.") var files: [String]
    @Option(help: "The model (default: the shipped models/default/model.safetensors or $TIMBRE_MODEL).") var model: String?
    @Option(help: "How many of the most likely tags to list.") var topK = 5
    @Option(help: "Probability from which a tag is predicted.") var threshold: Float = 0.5
    @Option(help: "At most this many ~3 s chunks per track, spread evenly.") var maxChunks: Int?
    @Flag(help: "Print JSON (one object per file, in an array when several).") var json = false

    func run() throws {
        let bundle = try ModelBundle.read(from: model ?? defaultModelPath())
        var config = PredictionConfig()
        config.threshold = threshold
        config.topK = topK
        if let maxChunks { config.maxChunks = max(1, maxChunks) }
        let predictor = try Predictor(bundle: bundle, config: config)
        var reports: [PredictionReport] = []
        var failed = false
        for file in files {
            do {
                let prediction = try predictor.predict(file: file)
                let report = PredictionReport(file: file, labels: predictor.labels, probabilities: prediction.probabilities,
                                              threshold: threshold, topK: topK)
                reports.append(report)
                if !json {
                    let tags = report.predictedGenres.map { "\($0.genre) " + String(format: "%.2f", $0.probability) }
                    let top = report.top.map { "\($0.genre) " + String(format: "%.2f", $0.probability) }
                    print("\(file)\n  tags: \(tags.isEmpty ? "(none over \(threshold))" : tags.joined(separator: ", "))\n  top \(topK): \(top.joined(separator: ", "))")
                }
            } catch {
                failed = true
                FileHandle.standardError.write(Data("timbre predict: \(file): \(error)\n".utf8))
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = reports.count == 1 && files.count == 1 ? try encoder.encode(reports[0]) : try encoder.encode(reports)
            print(String(decoding: data, as: UTF8.self))
        }
        if failed { throw ExitCode.failure }
    }
}

/// `timbre embed FILE…`: the 256-d L2-normalised track embedding.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print each file's L2-normalised track embedding (for similarity search)."
    )

    @Argument(help: "Audio files.") var files: [String]
    @Option(help: "The model (default: the shipped model).") var model: String?
    @Flag(help: "Print JSON objects {file, embedding}.") var json = false

    func run() throws {
        let predictor = try Predictor(bundle: try ModelBundle.read(from: model ?? defaultModelPath()))
        var failed = false
        for file in files {
            do {
                let embedding = try predictor.predict(file: file).embedding
                if json {
                    let values = embedding.map { String(format: "%.6g", $0) }.joined(separator: ",")
                    let name = String(decoding: try JSONEncoder().encode(file), as: UTF8.self)
                    print("{\"file\":\(name),\"embedding\":[\(values)]}")
                } else {
                    print("\(file)\t" + embedding.map { String(format: "%.6g", $0) }.joined(separator: " "))
                }
            } catch {
                failed = true
                FileHandle.standardError.write(Data("timbre embed: \(file): \(error)\n".utf8))
            }
        }
        if failed { throw ExitCode.failure }
    }
}
