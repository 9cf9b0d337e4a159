import ArgumentParser
import Catalog
import Foundation

/// `timbre tags`: each tagged track's most likely labels under the active model.
struct TagsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tags",
        abstract: "Show tagged tracks with their most likely tags (active model)."
    )

    @Option(help: "Tracks to show.") var limit = 20
    @Option(help: "Tags per track.") var top = 3
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            guard let model = try db.models.active() else {
                print("no active model yet: nothing has been tagged")
                return
            }
            let rows = try db.predictions.topTags(modelID: model.id, limit: max(0, limit), perTrack: max(1, top))
            if rows.isEmpty { print("no track is tagged by model \(model.version) yet") }
            for row in rows {
                let tags = row.tags.map { "\($0.label) \(String(format: "%.2f", $0.probability))" }.joined(separator: ", ")
                print("\(row.path)\n  \(tags)")
            }
        }
    }
}

/// "label 0.93, other 0.71": most likely first (ties by label).
func rankedTags(_ tags: [String: Float]) -> String {
    tags.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        .map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", ")
}
