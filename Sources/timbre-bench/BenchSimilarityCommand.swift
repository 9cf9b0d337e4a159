import ArgumentParser
import Dispatch
import Foundation
import Similarity

/// `timbre-bench bench-similarity`: the Swift half of `scripts/bench similarity`. Reads the
/// float32 files the peer script wrote into `--dir` (embeddings.f32, queries.f32, init.f32),
/// times the index (build, then one query at a time), Lloyd k-means from the given initial
/// centroids on the first `--kmeans-count` embeddings, and the 2-D PCA of those, and prints
/// the times and results as JSON for the script to compare with scikit-learn, numpy and FAISS.
struct BenchSimilarityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-similarity",
        abstract: "Benchmark the similarity index, k-means and PCA (used by scripts/bench similarity)."
    )

    @Option(help: "Directory with embeddings.f32, queries.f32 and init.f32.") var dir: String
    @Option(help: "Embeddings in embeddings.f32.") var count: Int
    @Option(help: "Values per embedding.") var dimension: Int
    @Option(help: "Queries in queries.f32.") var queries: Int
    @Option(help: "Neighbours per query.") var neighbours = 10
    @Option(help: "Embeddings (the first ones) that k-means and PCA run on.") var kmeansCount: Int
    @Option(help: "Clusters (rows of init.f32).") var clusters: Int
    @Option(help: "Lloyd iterations at most.") var maxIterations = 50
    @Option(help: "Timed repeats of k-means and PCA.") var repeats = 3

    func read(_ name: String, _ values: Int) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent(name))
        guard data.count == values * 4 else { throw ValidationError("\(name) has \(data.count) bytes, expected \(values * 4)") }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func run() throws {
        let embeddings = try read("embeddings.f32", count * dimension)
        let queryVectors = try read("queries.f32", queries * dimension)
        let initial = try read("init.f32", clusters * dimension)

        var started = DispatchTime.now()
        let index = EmbeddingIndex(dimension: dimension)
        for i in 0..<count { try index.upsert(id: Int64(i), vector: Array(embeddings[(i * dimension)..<((i + 1) * dimension)])) }
        let build = started.secondsSince()

        var querySeconds: [Double] = []
        var results: [[Int64]] = []
        for q in 0..<queries {
            let vector = Array(queryVectors[(q * dimension)..<((q + 1) * dimension)])
            started = DispatchTime.now()
            let hits = try index.nearest(to: vector, k: neighbours)
            querySeconds.append(started.secondsSince())
            results.append(hits.map(\.id))
        }

        let points = Array(embeddings[0..<(kmeansCount * dimension)])
        var kmeansSeconds: [Double] = []
        var clustering: Clustering?
        for _ in 0..<max(1, repeats) {
            started = DispatchTime.now()
            clustering = try KMeans.lloyd(points, count: kmeansCount, dimension: dimension, initial: initial,
                                          maxIterations: maxIterations)
            kmeansSeconds.append(started.secondsSince())
        }
        var pcaSeconds: [Double] = []
        var ratios: [Double] = []
        for _ in 0..<max(1, repeats) {
            started = DispatchTime.now()
            let pca = try PrincipalComponents(points, count: kmeansCount, dimension: dimension, components: 2)
            _ = try pca.project(points, count: kmeansCount)
            pcaSeconds.append(started.secondsSince())
            ratios = pca.explainedVarianceRatio
        }
        let report: [String: Any] = [
            "build_s": build, "query_s": querySeconds, "neighbours": results.map { $0.map { Int($0) } },
            "kmeans_s": kmeansSeconds, "kmeans_labels": clustering!.assignments, "kmeans_inertia": clustering!.inertia,
            "kmeans_iterations": clustering!.iterations, "pca_s": pcaSeconds, "pca_ratio": ratios,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: report), as: UTF8.self))
    }
}
