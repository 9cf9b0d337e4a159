import Foundation
import XCTest

/// Reads the librosa fixtures written by tools/golden/make_audio_fixtures.py.
enum GoldenFixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/features")

    struct Entry: Decodable {
        let file: String
        let shape: [Int]
    }

    struct Manifest: Decodable {
        let files: [String: Entry]
    }

    static let manifest: Manifest? = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("manifest.json")) else { return nil }
        return try? JSONDecoder().decode(Manifest.self, from: data)
    }()

    /// The fixture's float32 values (row-major) and shape.
    static func load(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> (values: [Float], shape: [Int]) {
        let entry = try XCTUnwrap(manifest?.files[name], "fixture \(name) missing: run tools/golden/make_audio_fixtures.py", file: file, line: line)
        let data = try Data(contentsOf: directory.appendingPathComponent(entry.file))
        let count = entry.shape.reduce(1, *)
        XCTAssertEqual(data.count, count * 4, "fixture \(name) has the wrong size", file: file, line: line)
        let values = data.withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        return (values, entry.shape)
    }

    static func audio() throws -> [Float] { try load("audio").values }
}

/// Largest |a - b| over two equal-length arrays.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var worst: Float = 0
    for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
    return worst
}
