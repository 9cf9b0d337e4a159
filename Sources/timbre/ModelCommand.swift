import ArgumentParser
import Catalog
import Foundation

/// `timbre model list|show|activate`: the catalog's model versions.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "List, inspect and activate model versions (rollback is activating an older one).",
        subcommands: [ModelListCommand.self, ModelShowCommand.self, ModelActivateCommand.self]
    )
}

/// A model as `timbre model list --json` prints it.
struct ModelJSON: Encodable {
    let version: String
    let state: String
    let parent: String?
    let created_at: Date
    let activated_at: Date?
    let labels: [String]
    let file: String
    let outcome: String?
    let held_out_correct_before: Int?
    let held_out_correct_after: Int?
    let held_out_pairs: Int?
    let replay_disagreement: Double?

    init(_ model: ModelVersion, parent: String?) {
        let report = RetrainingReport.from(metrics: model.metrics)
        version = model.version; state = model.state.rawValue; self.parent = parent
        created_at = model.createdAt; activated_at = model.activatedAt; labels = model.labels; file = model.filePath
        outcome = report?.outcome.rawValue
        held_out_correct_before = report?.gate.correctBefore; held_out_correct_after = report?.gate.correctAfter
        held_out_pairs = report?.gate.pairs; replay_disagreement = report?.gate.replayDisagreement
    }
}

/// "before → after of n held-out corrections right, replay x% changed", or the model's own source.
func keyMetrics(_ model: ModelVersion) -> String {
    guard let report = RetrainingReport.from(metrics: model.metrics) else {
        return (try? JSONSerialization.jsonObject(with: Data(model.metrics.utf8)) as? [String: Any])?["source"] as? String ?? "-"
    }
    return "held-out \(report.gate.correctBefore)→\(report.gate.correctAfter)/\(report.gate.pairs), "
        + String(format: "replay %.1f%% changed", 100 * report.gate.replayDisagreement)
}

struct ModelListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every model version, newest first.")
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            let models = try db.models.list()
            let versions = Dictionary(uniqueKeysWithValues: models.map { ($0.id, $0.version) })
            if json {
                try printJSON(models.map { ModelJSON($0, parent: $0.parentID.flatMap { versions[$0] }) })
                return
            }
            if models.isEmpty { print("no models yet: `timbre scan` or `timbre worker` registers the shipped one") }
            let formatter = ISO8601DateFormatter()
            for model in models {
                print("\(model.version)  \(model.state.rawValue)  parent \(model.parentID.flatMap { versions[$0] } ?? "-")  "
                      + "\(formatter.string(from: model.createdAt))  \(model.labels.count) labels  \(keyMetrics(model))")
                print("    \(model.filePath)")
            }
        }
    }
}

struct ModelShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One model version with its retraining report.")
    @Argument(help: "The version (see `timbre model list`).") var version: String
    @Flag(help: "Print JSON (the model and its whole report).") var json = false
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            guard let model = try db.models.find(version: version) else { throw CommandFailure("there is no model \(version) (see `timbre model list`)") }
            let parent = try model.parentID.flatMap { try db.models.find(id: $0)?.version }
            let report = RetrainingReport.from(metrics: model.metrics)
            if json {
                struct Answer: Encodable { let model: ModelJSON; let report: RetrainingReport? }
                try printJSON(Answer(model: ModelJSON(model, parent: parent), report: report))
                return
            }
            print("\(model.version): \(model.state.rawValue), parent \(parent ?? "-"), created \(model.createdAt)"
                  + (model.activatedAt.map { ", activated \($0)" } ?? ""))
            print("file: \(model.filePath)")
            print("labels (\(model.labels.count)): \(model.labels.joined(separator: ", "))")
            guard let report else { print("metrics: \(model.metrics)"); return }
            print(report.reason)
            let c = report.counts
            print("tracks: \(c.correctedTracks) corrected (\(c.trainCorrected) train, \(c.validationCorrected) validation, \(c.gateCorrected) gate), "
                  + "replay \(c.trainReplay)/\(c.validationReplay)/\(c.gateReplay), \(c.unreadable) unreadable; "
                  + "\(c.corrections) corrections, \(report.consumedCorrections) first used here")
            if !report.newLabels.isEmpty { print("new labels: \(report.newLabels.joined(separator: ", "))") }
            if !report.waitingLabels.isEmpty {
                print("labels waiting for more examples: " + report.waitingLabels.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", "))
            }
            let f = { (x: Double?) in x.map { String(format: "%.3f", $0) } ?? "-" }
            print("label                 n  added  accuracy before→after  agreement before→after  ROC-AUC before→after")
            for tag in report.gate.tags {
                print("\(tag.label.padding(toLength: 20, withPad: " ", startingAt: 0))\(String(format: "%3d  %5d", tag.corrections, tag.added))  "
                      + "\(f(tag.accuracyBefore))→\(f(tag.accuracyAfter))            \(f(tag.agreementBefore))→\(f(tag.agreementAfter))"
                      + "             \(f(tag.rocAucBefore))→\(f(tag.rocAucAfter))\(tag.isNew ? "  (new)" : "")")
            }
            print("log loss on held-out corrections: \(f(report.gate.logLossBefore)) → \(f(report.gate.logLossAfter))")
            print("fine-tuning (\(report.fineTune.layers.rawValue), \(report.trainableParameters) parameters), best epoch \(report.bestEpoch):")
            for epoch in report.history {
                print("  epoch \(epoch.epoch): validation loss \(f(epoch.valLoss))" + (epoch.trainLoss.map { ", train \(f($0))" } ?? ""))
            }
            if let refit = report.refit {
                print("refit on all \(refit.tracks) tracks for \(refit.epochs) epochs: "
                      + String(format: "%.1f%% of held-out replay decisions changed; ", 100 * refit.replayDisagreement)
                      + (refit.promoted ? "it is the promoted model" : "kept the gated candidate instead"))
            }
            print(String(format: "retagged: %d jobs queued; %.1f s", report.retagJobs, report.seconds))
        }
    }
}

struct ModelActivateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "activate", abstract: "Make a version the active model (rollback).")
    @Argument(help: "The version (see `timbre model list`).") var version: String
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try database.withDatabase { db in
            let (model, queued) = try Retraining.activate(database: db, version: version)
            print("active model: \(model.version)")
            print(queued == 0 ? "every track already has its predictions"
                              : "\(queued) tracks queued for tagging with it (`timbre worker --drain` runs them)")
        }
    }
}
