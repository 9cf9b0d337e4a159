import ArgumentParser
import Catalog
import Foundation
import Service

/// `timbre tag TRACK +label -label …`: records corrections; alone, shows the track's tags.
struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Correct a track's tags (+label adds, -label removes) or show them.",
        discussion: """
            TRACK is a track id or a file inside a library. A removal is a negative example for \
            retraining, also for a label the track was never predicted to have. Without changes, \
            prints the predicted, corrected and effective tags (corrections override predictions; \
            the latest correction of a label wins).
            """
    )

    @Argument(help: "Track id or file path.") var track: String
    @Argument(parsing: .allUnrecognized, help: "+label to add, -label to remove.") var changes: [String] = []
    @Option(help: "Whose corrections (default: the first administrator).") var user: String?
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        var add: [String] = [], remove: [String] = []
        for change in changes {
            if change.hasPrefix("+"), change.count > 1 { add.append(String(change.dropFirst())) }
            else if change.hasPrefix("-"), !change.hasPrefix("--"), change.count > 1 { remove.append(String(change.dropFirst())) }
            else { throw ValidationError("\(change): write +label to add a tag or -label to remove one") }
        }
        try database.withDatabase(schema: add.isEmpty && remove.isEmpty ? .readOnly : .migrate) { db in
            guard let who = try user.map({ try db.users.find(name: $0) }) ?? db.users.firstAdmin() else {
                throw CommandFailure(user.map { "there is no user \($0) (see `timbre user list`)" }
                                     ?? "there are no users yet; add one with `timbre user add NAME`")
            }
            let found: Track?
            if let id = Int64(track) { found = try db.tracks.track(id: id) } else {
                found = try db.tracks.track(absolutePath: URL(fileURLWithPath: track).standardizedFileURL.resolvingSymlinksInPath().path)
            }
            guard let found else { throw CommandFailure("\(track) is neither a track id nor a file in a library (`timbre library list`)") }
            guard try db.browser.owned(trackID: found.id, ownerID: who.id) != nil else {
                throw CommandFailure("track \(found.id) is in another user's library; pass --user with its owner's name")
            }
            if !add.isEmpty || !remove.isEmpty {
                let written = try db.corrections.record(trackID: found.id, userID: who.id, add: add, remove: remove)
                print("recorded \(written.count) corrections by \(who.name)")
                // As through the API: enough new corrections queue a retraining for the workers.
                if let queued = try Retraining.requestIfDue(database: db) {
                    print("enough new corrections: retraining job \(queued.jobID) is \(queued.created ? "queued" : "already open")"
                          + " (`timbre retrain --wait` runs it here)")
                }
            }
            let model = try db.models.active()
            let predicted = try model.map { try db.predictions.probabilities(trackID: found.id, modelID: $0.id) } ?? [:]
            let corrections = try db.corrections.list(trackID: found.id, userID: who.id)
            let tags = TrackTags(predicted: predicted,
                                 corrections: try db.corrections.latest(trackIDs: [found.id], userID: who.id)[found.id] ?? [:])
            print("track \(found.id): \(found.path) (model \(model?.version ?? "none"))")
            print("  predicted: " + (predicted.isEmpty ? "none yet" : rankedTags(predicted)))
            let history = corrections.map { "\($0.action == .added ? "+" : "-")\($0.label)" }
            print("  corrected by \(who.name): " + (history.isEmpty ? "none" : history.joined(separator: " ")))
            print("  effective: " + (tags.effective.isEmpty ? "none" : tags.effective.map(\.label).joined(separator: ", ")))
        }
    }
}
