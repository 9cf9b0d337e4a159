import ArgumentParser
import Catalog
import Foundation
import Service

/// `timbre clusters`: the library grouped by k-means++ over the active model's embeddings,
/// each group described by its most likely tags and the tracks nearest its centre; with
/// `--json`, every track with its group and its position on the library's 2-D map (PCA).
struct ClustersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clusters",
        abstract: "Group the library by sound (k-means++ over track embeddings, active model)."
    )

    @Option(help: "Number of groups (default: about √(tracks / 2), 2 to 40).") var k: Int?
    @Option(help: "Seed for k-means++ (same seed, same groups).") var seed: UInt64 = 1
    @Option(help: "Tracks shown per group, nearest its centre first.") var examples = 3
    @Option(help: "Tags shown per group.") var tags = 3
    @Flag(help: "Print JSON: groups with their tags, and every track with its group and 2-D map position.") var json = false
    @OptionGroup var database: DatabaseOptions

    struct Group: Encodable {
        let id: Int
        let size: Int
        let tags: [String: Float]
        let examples: [String]
    }

    struct Point: Encodable {
        let trackID: Int64
        let path: String
        let cluster: Int
        let x: Float
        let y: Float
        enum CodingKeys: String, CodingKey { case trackID = "track_id", path, cluster, x, y }
    }

    struct Report: Encodable {
        let model: String
        let k: Int
        let inertia: Double
        let explainedVarianceRatio: [Double]
        let clusters: [Group]
        let tracks: [Point]
        enum CodingKeys: String, CodingKey {
            case model, k, inertia, clusters, tracks
            case explainedVarianceRatio = "explained_variance_ratio"
        }
    }

    func run() throws {
        if let k, k < 1 { throw ValidationError("--k must be at least 1") }
        try database.withDatabase(schema: .readOnly) { db in
            guard let similarity = try SimilarityService.active(in: db) else { throw CommandFailure("\(SimilarityServiceError.noActiveModel)") }
            let map: LibraryMap
            do {
                map = try LibraryMap.build(similarity: similarity, trackIDs: nil, count: k.map { .fixed($0) } ?? .heuristic, seed: seed,
                                           examples: examples, tagsPerGroup: tags, database: db)
            } catch let error as SimilarityServiceError {
                throw CommandFailure("\(error)")
            }
            let paths = try db.tracks.absolutePaths(trackIDs: map.points.map(\.trackID))
            let described = map.groups.map { group in
                Group(id: group.id, size: group.size, tags: Dictionary(uniqueKeysWithValues: group.tags.map { ($0.label, $0.probability) }),
                      examples: group.examples.map { paths[$0] ?? "?" })
            }
            if json {
                let tracks = map.points.map { Point(trackID: $0.trackID, path: paths[$0.trackID] ?? "?", cluster: $0.cluster, x: $0.x, y: $0.y) }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let report = Report(model: map.model.version, k: map.k, inertia: map.inertia,
                                    explainedVarianceRatio: map.explainedVarianceRatio, clusters: described, tracks: tracks)
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            print("\(map.k) groups of \(map.points.count) tracks (model \(map.model.version), k-means++ seed \(seed)):")
            for (rank, group) in described.enumerated() {
                let shown = rankedTags(group.tags)
                print("group \(rank + 1) — \(group.size) tracks: \(shown)")
                for path in group.examples { print("   \(path)") }
            }
        }
    }
}
