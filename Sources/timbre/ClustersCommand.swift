import ArgumentParser
import Catalog
import Features
import Foundation
import Similarity

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
        try database.withDatabase { db in
            guard let model = try db.models.active() else { throw CommandFailure("no active model yet: nothing has been tagged (run `timbre scan`)") }
            let stored = try db.predictions.embeddings(modelID: model.id)
            guard let dimension = stored.first?.vector.count, stored.count >= 2 else {
                throw CommandFailure("fewer than two tracks have embeddings under model \(model.version) (run `timbre scan`)")
            }
            let usable = stored.filter { $0.vector.count == dimension && $0.vector.allSatisfy(\.isFinite) }
            let n = usable.count
            let groups = min(n, k ?? min(40, max(2, Int((Double(n) / 2).squareRoot().rounded()))))
            guard groups >= 1 else { throw ValidationError("--k must be at least 1") }
            let points = usable.flatMap(\.vector)
            var generator = SeededGenerator(seed: seed)
            let clustering = try KMeans.cluster(points, count: n, dimension: dimension, k: groups, using: &generator)
            let paths = try db.tracks.absolutePaths(trackIDs: usable.map(\.trackID))

            var described: [Group] = []
            for c in 0..<groups {
                let members = (0..<n).filter { clustering.assignments[$0] == c }
                let centre = clustering.centroid(c)
                let nearest = members.map { p in
                    (p, (0..<dimension).reduce(Float(0)) { sum, j in
                        let delta = points[p * dimension + j] - centre[j]
                        return sum + delta * delta
                    })
                }.sorted { $0.1 < $1.1 }.prefix(max(0, examples)).map(\.0)
                let common = try db.predictions.meanProbabilities(trackIDs: members.map { usable[$0].trackID }, modelID: model.id,
                                                                  limit: max(0, tags))
                described.append(Group(id: c, size: members.count,
                                       tags: Dictionary(uniqueKeysWithValues: common.map { ($0.label, $0.probability) }),
                                       examples: nearest.map { paths[usable[$0].trackID] ?? "?" }))
            }
            described.sort { $0.size != $1.size ? $0.size > $1.size : $0.id < $1.id }

            if json {
                let map = try PrincipalComponents(points, count: n, dimension: dimension, components: 2)
                let xy = try map.project(points, count: n)
                let tracks = (0..<n).map { p in
                    Point(trackID: usable[p].trackID, path: paths[usable[p].trackID] ?? "?", cluster: clustering.assignments[p],
                          x: xy[2 * p], y: xy[2 * p + 1])
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let report = Report(model: model.version, k: groups, inertia: clustering.inertia,
                                    explainedVarianceRatio: map.explainedVarianceRatio, clusters: described, tracks: tracks)
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            print("\(groups) groups of \(n) tracks (model \(model.version), k-means++ seed \(seed)):")
            for (rank, group) in described.enumerated() {
                let shown = rankedTags(group.tags)
                print("group \(rank + 1) — \(group.size) tracks: \(shown)")
                for path in group.examples { print("   \(path)") }
            }
        }
    }
}
