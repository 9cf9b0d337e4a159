import Foundation
import XCTest
@testable import Similarity

/// k-means (Lloyd from given centroids) and PCA against scikit-learn 1.9
/// (`tools/golden/make_similarity_fixtures.py` → `Tests/Fixtures/similarity/clustering.json`).
final class ClusteringGoldenTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let count: Int, dimension: Int, k: Int
        let tolerance: Double
        let points: [Float], initial: [Float]
        let labels: [Int], centroids: [Float]
        let inertia: Double
        let iterations: Int
        let projection: [Float], components: [Float]
        let explained_variance_ratio: [Double]
    }

    static func cases() throws -> [Case] {
        struct File: Decodable { let cases: [Case] }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/similarity/clustering.json")
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
    }

    func testLloydMatchesScikitLearn() throws {
        for c in try Self.cases() {
            let result = try KMeans.lloyd(c.points, count: c.count, dimension: c.dimension, initial: c.initial, tolerance: c.tolerance)
            XCTAssertEqual(result.assignments, c.labels, c.name)
            XCTAssertEqual(result.iterations, c.iterations, c.name)
            XCTAssertEqual(result.inertia, c.inertia, accuracy: 1e-4 * c.inertia, c.name)
            XCTAssertEqual(result.centroids.count, c.centroids.count, c.name)
            for (a, b) in zip(result.centroids, c.centroids) { XCTAssertEqual(a, b, accuracy: 1e-4, c.name) }
        }
    }

    func testPrincipalComponentsMatchScikitLearn() throws {
        for c in try Self.cases() {
            let pca = try PrincipalComponents(c.points, count: c.count, dimension: c.dimension, components: 2)
            XCTAssertEqual(pca.axes.count, c.components.count, c.name)
            XCTAssertEqual(pca.explainedVarianceRatio.count, c.explained_variance_ratio.count, c.name)
            XCTAssertFalse(c.components.isEmpty, c.name)
            for (a, b) in zip(pca.axes, c.components) { XCTAssertEqual(a, b, accuracy: 1e-4, c.name) }
            for (a, b) in zip(pca.explainedVarianceRatio, c.explained_variance_ratio) { XCTAssertEqual(a, b, accuracy: 1e-6, c.name) }
            let projected = try pca.project(c.points, count: c.count)
            let scale = c.projection.map(abs).max() ?? 1
            XCTAssertEqual(projected.count, c.projection.count, c.name)
            for (a, b) in zip(projected, c.projection) { XCTAssertEqual(a, b, accuracy: 1e-4 * scale, c.name) }
        }
    }

    /// The same fixtures with every pass split across three workers (the fixtures are small
    /// enough to run on one by default).
    func testSplitPassesMatchScikitLearn() throws {
        for c in try Self.cases() {
            let result = try KMeans.lloyd(c.points, count: c.count, dimension: c.dimension, initial: c.initial,
                                          maxIterations: 300, tolerance: c.tolerance, workers: 3)
            XCTAssertEqual(result.assignments, c.labels, c.name)
            XCTAssertEqual(result.iterations, c.iterations, c.name)
            XCTAssertEqual(result.inertia, c.inertia, accuracy: 1e-4 * c.inertia, c.name)
            for (a, b) in zip(result.centroids, c.centroids) { XCTAssertEqual(a, b, accuracy: 1e-4, c.name) }
            let pca = try PrincipalComponents(c.points, count: c.count, dimension: c.dimension, components: 2, workers: 3)
            for (a, b) in zip(pca.axes, c.components) { XCTAssertEqual(a, b, accuracy: 1e-4, c.name) }
            for (a, b) in zip(pca.explainedVarianceRatio, c.explained_variance_ratio) { XCTAssertEqual(a, b, accuracy: 1e-6, c.name) }
            let projected = try pca.project(c.points, count: c.count, workers: 3)
            let scale = c.projection.map(abs).max() ?? 1
            XCTAssertEqual(projected.count, c.projection.count, c.name)
            for (a, b) in zip(projected, c.projection) { XCTAssertEqual(a, b, accuracy: 1e-4 * scale, c.name) }
        }
    }
}
