import ArgumentParser
import Catalog
import Foundation
import Tagger

/// `timbre retrain`: queues the retraining job (one at a time), and with --wait runs or waits for it.
struct RetrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract: "Fine-tune the active model on users' corrections; promote it if it passes the gate.",
        discussion: """
            Queues one retraining job (a request while one is open joins it); any `timbre worker` \
            runs it. With --wait it runs here if no worker has taken it, waits for the outcome, \
            prints the report and, after a promotion, re-tags the library here.
            """
    )

    @Flag(help: "Wait for the outcome (running the job here when no worker holds it).") var wait = false
    @Flag(help: "Print JSON (the job; with --wait, the outcome and report).") var json = false
    @Option(help: "Retraining configuration (YAML or JSON, snake_case keys as in the README); the options below override it.")
    var config: String?
    @Option(help: "Most epochs of fine-tuning.") var epochs: Int?
    @Option(help: "Fine-tuning learning rate.") var learningRate: Float?
    @Option(help: "What trains: head, last_stage or all.") var layers: String?
    @Option(help: "Additions a user tag needs before it gets its own output.") var minPositives: Int?
    @Option(help: "Where model files and the spectrogram cache go (default: the data directory, $TIMBRE_HOME).")
    var dataDir: String?
    @Flag(help: "After a promotion with --wait, leave re-tagging to the workers.") var noRetag = false
    @OptionGroup var tagging: TaggingOptions
    @OptionGroup var database: DatabaseOptions

    func retrainingConfig() throws -> RetrainingConfig {
        var result = RetrainingConfig()
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read \(config)") }
            // YAML (JSON is YAML too), layered over the defaults: unknown keys are errors.
            do {
                result = try ConfigLayering.load(yaml: String(decoding: data, as: UTF8.self), over: result, source: config)
            } catch { throw ValidationError(error.description) }
        }
        if let epochs { result.fineTune.epochs = epochs }
        if let learningRate { result.fineTune.learningRate = learningRate }
        if let layers {
            guard let value = TrainableLayers(rawValue: layers) else { throw ValidationError("--layers is head, last_stage or all") }
            result.fineTune.layers = value
        }
        if let minPositives { result.minPositivesForNewTag = minPositives }
        guard result.problems.isEmpty else { throw ValidationError(result.problems.joined(separator: "; ")) }
        return result
    }

    func run() throws {
        let config = try retrainingConfig()
        try database.withDatabase { db in
            let request = try Retraining.request(database: db, config: config)
            guard wait else {
                if json { try printJSON(["job_id": JSONField.int(request.jobID), "created": .bool(request.created)]) } else {
                    print(request.created ? "queued retraining job \(request.jobID); a `timbre worker` runs it (or `timbre retrain --wait`)"
                                          : "retraining job \(request.jobID) is already open; this request joins it")
                }
                return
            }
            let directory = dataDir.map { URL(fileURLWithPath: $0) } ?? TimbreHome.directory()
            let owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):retrain"
            let quiet = json
            try Retraining.runNext(database: db, dataDirectory: directory, owner: owner) { line in
                if !quiet { FileHandle.standardError.write(Data("retrain: \(line)\n".utf8)) }
            }
            let status = try Retraining.wait(database: db, jobID: request.jobID)
            if json { try printJSON(statusJSON(status)) } else { print(describe(status)) }
            if status.report?.outcome == .promoted, !noRetag { try tagQueuedTracks(db, tagging: tagging) }
            if status.state == .failed { throw ExitCode(1) }
        }
    }

    func describe(_ status: RetrainStatus) -> String {
        guard let model = status.model, let report = status.report else {
            return "retraining job \(status.jobID) \(status.state.rawValue)" + (status.lastError.map { ": \($0)" } ?? "")
        }
        return "retraining job \(status.jobID): model \(model.version) \(model.state.rawValue) (parent \(report.parent))\n"
            + "  \(report.reason)\n"
            + (report.refit.map { "  refit on all \($0.tracks) tracks for \($0.epochs) epochs" + ($0.promoted ? " (promoted)" : " (not kept)") + "\n" } ?? "")
            + "  \(report.counts.correctedTracks) corrected tracks, \(report.counts.corrections) corrections"
            + (report.newLabels.isEmpty ? "" : ", new labels: \(report.newLabels.joined(separator: ", "))")
            + String(format: ", %.1f s", report.seconds)
    }
}

/// A JSON value for the CLI's printed answers.
enum JSONField: Encodable {
    case int(Int64), bool(Bool)
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        }
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// What `timbre retrain --wait --json` prints.
struct RetrainStatusJSON: Encodable {
    let job_id: Int64
    let state: String
    let last_error: String?
    let model: ModelJSON?
    let report: RetrainingReport?
}

func statusJSON(_ status: RetrainStatus) -> RetrainStatusJSON {
    RetrainStatusJSON(job_id: status.jobID, state: status.state.rawValue, last_error: status.lastError,
                      model: status.model.map { ModelJSON($0, parent: status.report?.parent) }, report: status.report)
}
