import ArgumentParser
import AudioIO
import Catalog
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

/// `timbre predict FILE…`: tags per file in the seed's JSON shape, from a local model file or
/// another Timbre server (`--server`, or `$TIMBRE_SERVER_URL` when there is no local model).
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Tag audio files: probabilities per tag, the tags over the threshold and the top k.",
        discussion: """
            With --server URL the files are tagged by that Timbre server (POST /api/v1/analysis/predict, \
            with --api-key); with only $TIMBRE_SERVER_URL set, the server is used when there is no local \
            model file. Every answer says which path produced it ("inference" in --json).
            """
    )

    @Argument(help: "Audio files.") var files: [String]
    @Option(help: "The model (default: the shipped models/default/model.safetensors or $TIMBRE_MODEL).") var model: String?
    @Option(help: "How many of the most likely tags to list.") var topK = 5
    @Option(help: "Probability from which a tag is predicted.") var threshold: Float = 0.5
    @Option(help: "At most this many ~3 s chunks per track, spread evenly (local models only).") var maxChunks: Int?
    @Flag(help: "Print JSON (one object per file, in an array when several).") var json = false
    @Option(help: "Tag through this Timbre server (http://host:port) instead of a local model file (default: $TIMBRE_SERVER_URL, used only when there is no local model file).")
    var server: String?
    @Option(help: "An API key of a user on that server (default: $TIMBRE_API_KEY).") var apiKey: String?
    @Option(help: "Seconds one request to the server may take, from connecting to the last byte of the answer.") var timeout: Double = 60
    @Option(help: "Seconds to connect to the server.") var connectTimeout: Double = 5
    @Option(help: "Retries of a request after a connection error, a timeout, a 5xx or a 429 (exponential back-off with jitter).")
    var retries = 2

    func validate() throws {
        guard timeout > 0, connectTimeout > 0, retries >= 0 else {
            throw ValidationError("--timeout and --connect-timeout must be > 0, --retries ≥ 0")
        }
        if server != nil, model != nil { throw ValidationError("--model and --server exclude each other: tag here or there") }
        if server != nil, maxChunks != nil { throw ValidationError("--max-chunks applies to local models; the server uses its own setting") }
    }

    /// Tags one file; the engine behind it says which path it took.
    private enum Engine {
        case local(Predictor, file: String)
        case remote(RemoteInferenceClient)

        func predict(_ file: String, threshold: Float, topK: Int) throws -> (report: PredictionReport, inference: InferenceInfo) {
            switch self {
            case let .local(predictor, modelFile):
                let prediction = try predictor.predict(file: file)
                return (PredictionReport(file: file, labels: predictor.labels, probabilities: prediction.probabilities,
                                         threshold: threshold, topK: topK),
                        InferenceInfo(path: "local", server: nil, modelVersion: nil, modelFile: modelFile))
            case let .remote(client):
                let answer = try client.predict(audio: .file(try ReadOnlyFile(path: file)))
                let labels = answer.probabilities.keys.sorted()
                return (PredictionReport(file: file, labels: labels, probabilities: labels.map { answer.probabilities[$0]! },
                                         threshold: threshold, topK: topK),
                        InferenceInfo(path: "remote", server: answer.server, modelVersion: answer.modelVersion, modelFile: nil))
            }
        }
    }

    /// The local model, or the server: --server always; $TIMBRE_SERVER_URL when no model file is here.
    private func engine() throws -> Engine {
        let environment = ProcessInfo.processInfo.environment
        func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        let modelFile = model ?? defaultModelPath()
        var url = nonEmpty(server)
        if url == nil, model == nil, !FileManager.default.fileExists(atPath: modelFile) {
            url = nonEmpty(environment["TIMBRE_SERVER_URL"])
        }
        guard let url else {
            guard FileManager.default.fileExists(atPath: modelFile) else {
                throw CommandFailure("there is no model file at \(modelFile): pass --model PATH (or $TIMBRE_MODEL), or tag through a Timbre server "
                                     + "with --server URL --api-key KEY (or $TIMBRE_SERVER_URL and $TIMBRE_API_KEY)")
            }
            var config = PredictionConfig()
            config.threshold = threshold
            config.topK = topK
            if let maxChunks { config.maxChunks = max(1, maxChunks) }
            return .local(try Predictor(bundle: try ModelBundle.read(from: modelFile), config: config), file: modelFile)
        }
        var settings = RemoteInferenceSettings(server: url, apiKey: nonEmpty(apiKey) ?? nonEmpty(environment["TIMBRE_API_KEY"]))
        settings.timeout = timeout
        settings.connectTimeout = connectTimeout
        settings.retries = retries
        do { return .remote(try RemoteInferenceClient(settings: settings)) } catch { throw CommandFailure("\(error)") }
    }

    func run() throws {
        let engine = try engine()
        var reports: [PredictionOutput] = []
        var failed = false
        for file in files {
            do {
                let (report, inference) = try engine.predict(file, threshold: threshold, topK: topK)
                reports.append(PredictionOutput(report: report, inference: inference))
                if !json {
                    let tags = report.predictedGenres.map { "\($0.genre) " + String(format: "%.2f", $0.probability) }
                    let top = report.top.map { "\($0.genre) " + String(format: "%.2f", $0.probability) }
                    print("\(file)\n  tags: \(tags.isEmpty ? "(none over \(threshold))" : tags.joined(separator: ", "))\n  top \(topK): \(top.joined(separator: ", "))")
                    print("  by: \(inference)")
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

/// Which path produced a prediction: `{"path": "local", "model_file": …}` or
/// `{"path": "remote", "server": …, "model_version": …}`.
struct InferenceInfo: Encodable, CustomStringConvertible {
    let path: String
    let server: String?
    let modelVersion: String?
    let modelFile: String?

    enum CodingKeys: String, CodingKey {
        case path, server, modelVersion = "model_version", modelFile = "model_file"
    }

    var description: String {
        if let server { return "remote \(server) (model \(modelVersion ?? "?"))" }
        return "local \(modelFile ?? "?")"
    }
}

/// The seed's JSON plus `"inference"`.
struct PredictionOutput: Encodable {
    let report: PredictionReport
    let inference: InferenceInfo

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: PredictionReport.Key.self)
        try container.encode(inference, forKey: PredictionReport.Key("inference"))
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
