import Catalog
import Features
import Foundation
import Similarity

/// How many groups to make.
public enum GroupCount: Sendable, Equatable {
    /// About √(n / 2), 2 to 40: a fixed rule, instant.
    case heuristic
    /// The k in 2…12 with the best silhouette on a sample of up to 2,000 tracks.
    case auto
    case fixed(Int)
}

/// The library as groups of similar-sounding tracks and as a 2-D map: k-means++ over one
/// model's track embeddings, each group described by its tracks' mean tag probabilities and the
/// tracks nearest its centre, and every track's position on the first two principal axes.
public struct LibraryMap: Sendable {
    public struct Group: Sendable {
        public let id: Int
        public let size: Int
        public let tags: [ScoredLabel]
        /// Nearest the centre first.
        public let examples: [Int64]
    }

    public struct Point: Sendable {
        public let trackID: Int64
        public let cluster: Int
        public let x: Float
        public let y: Float
    }

    public let model: ModelVersion
    public let k: Int
    public let inertia: Double
    public let explainedVarianceRatio: [Double]
    /// Largest first; a group's `id` is its rank.
    public let groups: [Group]
    public let points: [Point]

    /// Groups `trackIDs` (nil: every track of the model) of `similarity`'s index.
    public static func build(similarity: SimilarityService, trackIDs: [Int64]?, count: GroupCount, seed: UInt64 = 1,
                             examples: Int = 3, tagsPerGroup: Int = 3, database: Database) throws -> LibraryMap {
        let ids = (trackIDs ?? similarity.index.allIDs).filter(similarity.contains).sorted()
        let dimension = similarity.index.dimension
        guard ids.count >= 2 else {
            throw SimilarityServiceError.invalid("fewer than two tracks have embeddings under model \(similarity.model.version): tag more tracks first")
        }
        let n = ids.count
        var points = [Float]()
        points.reserveCapacity(n * dimension)
        for id in ids { points += similarity.index.vector(id: id) ?? [Float](repeating: 0, count: dimension) }

        var generator = Xoshiro256StarStar(seed: seed)
        let k: Int
        switch count {
        case .heuristic: k = min(n, min(40, max(2, Int((Double(n) / 2).squareRoot().rounded()))))
        case let .fixed(value):
            guard value >= 1 else { throw SimilarityServiceError.invalid("k must be at least 1") }
            k = min(n, value)
        case .auto: k = try bestK(points, count: n, dimension: dimension, using: &generator)
        }
        let clustering = try KMeans.cluster(points, count: n, dimension: dimension, k: k, using: &generator)

        var groups: [(size: Int, original: Int, tags: [ScoredLabel], examples: [Int64])] = []
        for c in 0..<k {
            let members = (0..<n).filter { clustering.assignments[$0] == c }
            let centre = clustering.centroid(c)
            let nearest = members.map { p in
                (p, (0..<dimension).reduce(Float(0)) { sum, j in
                    let delta = points[p * dimension + j] - centre[j]
                    return sum + delta * delta
                })
            }.sorted { $0.1 < $1.1 }.prefix(max(0, examples)).map { ids[$0.0] }
            let common = try database.predictions.meanProbabilities(trackIDs: members.map { ids[$0] }, modelID: similarity.model.id,
                                                                    limit: max(0, tagsPerGroup))
            groups.append((members.count, c, common.map { ScoredLabel(label: $0.label, probability: $0.probability) }, nearest))
        }
        groups.sort { $0.size != $1.size ? $0.size > $1.size : $0.original < $1.original }
        var rank = [Int](repeating: 0, count: k)
        for (r, group) in groups.enumerated() { rank[group.original] = r }

        let axes = try PrincipalComponents(points, count: n, dimension: dimension, components: min(2, dimension))
        let xy = try axes.project(points, count: n)
        let components = axes.components
        let placed = (0..<n).map { p in
            Point(trackID: ids[p], cluster: rank[clustering.assignments[p]], x: xy[components * p],
                  y: components > 1 ? xy[components * p + 1] : 0)
        }
        return LibraryMap(model: similarity.model, k: k, inertia: clustering.inertia, explainedVarianceRatio: axes.explainedVarianceRatio,
                          groups: groups.enumerated().map { Group(id: $0.offset, size: $0.element.size, tags: $0.element.tags,
                                                                  examples: $0.element.examples) },
                          points: placed)
    }

    /// The k in 2…min(12, n − 1) whose clustering of a sample has the best mean silhouette.
    static func bestK(_ points: [Float], count n: Int, dimension d: Int, using generator: inout Xoshiro256StarStar) throws -> Int {
        guard n >= 3 else { return min(n, 2) }
        let sampleSize = min(n, 2000)
        var rows = Array(0..<n)
        if sampleSize < n {
            for i in 0..<sampleSize { rows.swapAt(i, Int.random(in: i..<n, using: &generator)) }
        }
        let sample = rows.prefix(sampleSize).sorted().flatMap { points[($0 * d)..<(($0 + 1) * d)] }
        var best = (k: 2, score: -Double.infinity)
        for k in 2...min(12, sampleSize - 1) {
            let clustering = try KMeans.cluster(sample, count: sampleSize, dimension: d, k: k, restarts: 2, using: &generator)
            let score = try Silhouette.score(sample, count: sampleSize, dimension: d, labels: clustering.assignments)
            if score > best.score + 1e-9 { best = (k, score) }
        }
        return best.k
    }
}

