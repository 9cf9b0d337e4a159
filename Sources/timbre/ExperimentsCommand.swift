import ArgumentParser
import Foundation
import Tagger

/// `timbre experiments`: the seed's "Compare Results" step.
struct ExperimentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiments",
        abstract: "List training runs with their key test metrics."
    )

    @Option(help: "Where runs are.") var dir = "models/trained_models"

    func run() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir).sorted()) ?? []
        guard !names.isEmpty else { print("no experiments in \(dir) yet: run `timbre train`"); return }
        print("experiment".padding(toLength: 28, withPad: " ", startingAt: 0) + " epochs  ROC-AUC  PR-AUC  F1-macro  F1-micro")
        for name in names {
            let run = (dir as NSString).appendingPathComponent(name)
            let history = (try? Data(contentsOf: URL(fileURLWithPath: run + "/training_history.json")))
                .flatMap { try? JSONDecoder().decode([EpochRecord].self, from: $0) }
            let results = (try? Data(contentsOf: URL(fileURLWithPath: run + "/test_results.json")))
                .flatMap { try? JSONDecoder().decode(TestResults.self, from: $0) }
            guard history != nil || results != nil else { continue }
            let m = results?.metrics
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(format: " %6d  ", history?.count ?? 0)
                + [format(m?.rocAucMacro), format(m?.prAucMacro), format(m?.f1Macro), format(m?.f1Micro)]
                    .map { $0.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined(separator: " ")
                + (results == nil ? "  (no test results yet)" : ""))
        }
    }
}
