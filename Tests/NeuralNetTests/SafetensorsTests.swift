import Foundation
import XCTest
@testable import NeuralNet

final class SafetensorsTests: XCTestCase {
    func testReadsEveryDtypeWrittenByPython() throws {
        let file = try ModelFixtures.load("python_written")
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file["f16"]?.dtype, .float16)
        XCTAssertEqual(file["bf16"]?.dtype, .bfloat16)
        XCTAssertEqual(file["i64"]?.dtype, .int64)
        for name in ["f16", "bf16", "i64"] {
            let values = try file.tensor(named: name), expected = try file.tensor(named: "\(name).as_f32")
            XCTAssertEqual(values.shape, expected.shape, name)
            XCTAssertEqual(values.data, expected.data, name)  // exact, infinities and subnormals included
        }
        XCTAssertEqual(file["i64"]?.int64Values, [0, 7, -3, 1 << 40])
        XCTAssertEqual(try file.tensor(named: "scalar"), try Tensor(shape: [], data: [3.5]))
        XCTAssertEqual(try file.tensor(named: "empty").shape, [0, 4])
        XCTAssertEqual(try file.tensor(named: "f32").shape, [2, 3])
        // Read order is data order, as the file lays the tensors out.
        XCTAssertEqual(file.tensors.map(\.name).prefix(3), ["i64", "bf16.as_f32", "empty"])
    }

    /// Our writer lays a file out exactly as the Python library does when given the same order.
    func testRewritingPythonFileIsByteIdentical() throws {
        let original = try Data(contentsOf: ModelFixtures.url("python_written"))
        let file = try SafetensorsFile(bytes: [UInt8](original))
        XCTAssertEqual(try file.serialized(), [UInt8](original))
    }

    func testRoundTripKeepsOrderDtypesValuesAndMetadata() throws {
        let values = try Tensor(shape: [2, 3], data: [1, -2.5, 0.1, 65504, 1e-7, -0])
        let original = SafetensorsFile(tensors: [
            SafetensorsTensor(name: "z.last.weight", tensor: values),
            SafetensorsTensor(name: "a.half", tensor: values, dtype: .float16),
            SafetensorsTensor(name: "m.brain", tensor: values, dtype: .bfloat16),
            try SafetensorsTensor(name: "bn.num_batches_tracked", shape: [], int64Values: [123_456_789_012]),
            SafetensorsTensor(name: "empty", tensor: Tensor(zeros: [0])),
        ], metadata: ["config": "{\"kind\": \"resnet_se\"}", "labels": "rock\n\"jazz\"\\ünïcødé 🎸"])
        let bytes = try original.serialized()
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0, "data section must start 8-byte aligned")
        let read = try SafetensorsFile(bytes: bytes)
        XCTAssertEqual(read.metadata, original.metadata)
        XCTAssertEqual(read.tensors.map(\.name), original.tensors.map(\.name))
        XCTAssertEqual(read.tensors.map(\.dtype), [.float32, .float16, .bfloat16, .int64, .float32])
        XCTAssertEqual(read.tensors[0].tensor, values)
        XCTAssertEqual(read.tensors[1].tensor.data, values.data.map { Float(Float16Conversion.float(fromHalf: Float16Conversion.half(from: $0))) })
        XCTAssertEqual(read.tensors[1].tensor.data[3], 65504)
        XCTAssertEqual(read.tensors[2].tensor.data[0], 1)
        XCTAssertEqual(read.tensors[3].int64Values, [123_456_789_012])
        XCTAssertEqual(read.tensors[3].tensor.shape, [])
    }

    func testWriteToDiskAndReadBack() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        let file = SafetensorsFile(tensors: [SafetensorsTensor(name: "w", tensor: try Tensor(shape: [2], data: [1, 2]))])
        try file.write(to: url)
        XCTAssertEqual(try SafetensorsFile(contentsOf: url), file)
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: url.appendingPathExtension("missing")))
    }

    func testWriterRejectsDuplicateAndReservedNames() {
        let t = SafetensorsTensor(name: "w", tensor: Tensor(zeros: [1]))
        XCTAssertThrowsError(try SafetensorsFile(tensors: [t, t]).serialized())
        XCTAssertThrowsError(try SafetensorsFile(tensors: [SafetensorsTensor(name: "__metadata__", tensor: Tensor(zeros: [1]))]).serialized())
        let nan = SafetensorsTensor(name: "n", tensor: (try? Tensor(shape: [1], data: [.nan])) ?? Tensor(zeros: [1]), dtype: .int64)
        XCTAssertThrowsError(try SafetensorsFile(tensors: [nan]).serialized())
    }

    /// A file with the given header JSON and `data` bytes.
    static func file(header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
        return out + json + data
    }

    func testRejectsMalformedFilesWithErrorsNamingTheProblem() {
        let f32 = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], (SafetensorsError) -> Bool)] = [
            ("too short", [1, 2, 3], { if case .truncated = $0 { return true }; return false }),
            ("header past end", Self.file(header: f32, data: eight, length: 500), { if case .truncated = $0 { return true }; return false }),
            ("huge header", Self.file(header: "{}", length: 1 << 40), { if case .headerTooLarge = $0 { return true }; return false }),
            ("not JSON", Self.file(header: "{\"w\": nope}"), { if case .malformedHeader = $0 { return true }; return false }),
            ("not an object", Self.file(header: "[1, 2]"), { if case .malformedHeader = $0 { return true }; return false }),
            ("trailing garbage", Self.file(header: "{} x"), { if case .malformedHeader = $0 { return true }; return false }),
            ("duplicate key", Self.file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight),
             { if case .malformedHeader = $0 { return true }; return false }),
            ("unknown dtype", Self.file(header: #"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: eight),
             { $0 == .invalidTensor(name: "w", reason: "unsupported dtype C64 (supported: F32, F16, BF16, I64)") }),
            ("shape vs span", Self.file(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight),
             { if case .invalidTensor(name: "w", _) = $0 { return true }; return false }),
            ("negative dim", Self.file(header: #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight),
             { if case .invalidTensor(name: "w", _) = $0 { return true }; return false }),
            ("fractional offset", Self.file(header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}"#, data: eight),
             { if case .invalidTensor(name: "w", _) = $0 { return true }; return false }),
            ("overflowing shape", Self.file(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eight),
             { if case .invalidTensor(name: "w", _) = $0 { return true }; return false }),
            ("offsets past data", Self.file(header: f32, data: [0, 0, 0, 0]),
             { if case .invalidTensor(name: "w", _) = $0 { return true }; return false }),
            ("gap", Self.file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight),
             { if case .invalidTensor(name: "w", _) = $0 { return true }; return false }),
            ("overlap", Self.file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight),
             { if case .invalidTensor(name: "b", _) = $0 { return true }; return false }),
            ("unused trailing data", Self.file(header: f32, data: eight + [1]), { if case .invalidLayout = $0 { return true }; return false }),
            ("metadata not strings", Self.file(header: #"{"__metadata__":{"epochs":3}}"#), { if case .malformedHeader = $0 { return true }; return false }),
            ("missing field", Self.file(header: #"{"w":{"dtype":"F32","shape":[2]}}"#, data: eight),
             { $0 == .invalidTensor(name: "w", reason: "data_offsets is missing") }),
            ("deep nesting", Self.file(header: "{\"__metadata__\":" + String(repeating: "[", count: 10_000) + "}"),
             { if case .malformedHeader = $0 { return true }; return false }),
        ]
        for (label, bytes, matches) in cases {
            do {
                _ = try SafetensorsFile(bytes: bytes)
                XCTFail("\(label): accepted a malformed file")
            } catch {
                XCTAssertTrue(matches(error), "\(label): unexpected error \(error)")
                XCTAssertTrue(error.description.hasPrefix("safetensors: "), label)
            }
        }
    }

    func testReadsModelFixtureWithInt64Buffers() throws {
        let file = try ModelFixtures.load("resnet_se_tiny")
        let counter = try XCTUnwrap(file["weights.stem.1.num_batches_tracked"])
        XCTAssertEqual(counter.dtype, .int64)
        XCTAssertEqual(counter.int64Values, [7])
        XCTAssertEqual(counter.tensor.shape, [])
    }
}
