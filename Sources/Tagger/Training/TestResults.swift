import Foundation

/// What `test_results.json` holds.
public struct TestResults: Codable, Sendable {
    public var experiment: String
    public var model: String
    public var split: String
    public var metrics: MultiLabelMetrics
}

extension Trainer {
    /// Scores the best model on the test split and writes `test_results.json`.
    public func test() throws -> TestResults {
        let bundle = try ModelBundle.read(from: bestModelURL.path)
        let metrics = try Evaluation.onPreparedData(bundle: bundle, cache: train.cache, split: "test")
        let results = TestResults(experiment: config.experimentName, model: bestModelURL.path, split: "test", metrics: metrics)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(results).write(to: runDirectory.appendingPathComponent("test_results.json"), options: .atomic)
        return results
    }
}
