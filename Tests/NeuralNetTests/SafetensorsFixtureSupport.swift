import Foundation
import XCTest
@testable import NeuralNet

/// Golden fixtures written by tools/golden/make_model_fixtures.py (PyTorch).
enum ModelFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/model")

    static func url(_ name: String) -> URL { directory.appendingPathComponent("\(name).safetensors") }

    static func load(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: url(name))
    }
}

extension SafetensorsFile {
    /// A JSON metadata entry decoded as `T`.
    func metadataJSON<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        let text = try XCTUnwrap(metadata[key], "metadata '\(key)' missing")
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

/// Fails unless `actual` has `expected`'s shape and max |a − e| ≤ rel · max(max |e|, 1e-12)
/// + abs: error relative to the tensor's largest magnitude, as llm.c's test_gpt2 compares.
func assertClose(_ actual: Tensor, _ expected: Tensor, rel: Float, abs: Float = 0, _ message: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual.shape == expected.shape else {
        XCTFail("\(message): shape \(actual.shape) != expected \(expected.shape)", file: file, line: line)
        return
    }
    let scale = max(expected.data.map { Swift.abs($0) }.max() ?? 0, 1e-12)
    var worst: Float = 0, worstIndex = 0
    for (i, (a, e)) in zip(actual.data, expected.data).enumerated() {
        let error = a.isNaN || e.isNaN ? (a.isNaN && e.isNaN ? 0 : .infinity) : (a == e ? 0 : Swift.abs(a - e))
        if error > worst { worst = error; worstIndex = i }
    }
    let tolerance = rel * scale + abs
    XCTAssertLessThanOrEqual(worst, tolerance,
        "\(message): max error \(worst) at \(worstIndex) (got \(actual.data[worstIndex]), want \(expected.data[worstIndex])), scale \(scale)",
        file: file, line: line)
}
