import Foundation

/// Element types Timbre reads from safetensors files (all converted to Float32 on read).
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", int64 = "I64"

    public var byteSize: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .int64: return 8
        }
    }
}

/// One named tensor of a safetensors file: its values as Float32, and the dtype it has on disk.
public struct SafetensorsTensor: Sendable, Equatable {
    public var name: String
    /// The stored type: on read, the file's dtype; on write, the dtype to store.
    public var dtype: SafetensorsDType
    public var tensor: Tensor
    /// Exact values of an I64 tensor (Float32 holds integers exactly only up to 2^24).
    public var int64Values: [Int64]?

    /// A tensor stored as `dtype` (F16/BF16 round to nearest even, I64 rounds to integers).
    public init(name: String, tensor: Tensor, dtype: SafetensorsDType = .float32) {
        self.name = name
        self.dtype = dtype
        self.tensor = tensor
        self.int64Values = nil
    }

    /// An I64 tensor, for example a BatchNorm `num_batches_tracked` (shape `[]`).
    public init(name: String, shape: [Int], int64Values: [Int64]) throws(ShapeError) {
        self.name = name
        self.dtype = .int64
        self.tensor = try Tensor(shape: shape, data: int64Values.map { Float($0) })
        self.int64Values = int64Values
    }
}

/// A safetensors file in memory (https://github.com/huggingface/safetensors, format section):
/// 8-byte little-endian header length N, N bytes of JSON header
/// `{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}`,
/// then the tensors' little-endian bytes, contiguous with neither gaps nor overlaps.
///
/// Reading validates everything and throws `SafetensorsError` on any defect; `tensors` comes
/// out in data-offset order. Writing keeps `tensors` in the given order (the Python library
/// sorts by dtype then name; both are valid files, and state_dict order is easier to read).
public struct SafetensorsFile: Sendable, Equatable {
    /// Headers larger than this are rejected before any allocation (the Python library's limit).
    public static let maxHeaderBytes = 100_000_000

    public var tensors: [SafetensorsTensor]
    public var metadata: [String: String]

    public init(tensors: [SafetensorsTensor] = [], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public init(contentsOf url: URL) throws(SafetensorsError) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .io(path: url.path, reason: "\(error)") }
        try self.init(bytes: [UInt8](data))
    }

    public init(bytes: [UInt8]) throws(SafetensorsError) {
        let result: Result<SafetensorsFile, SafetensorsError> = bytes.withUnsafeBytes { raw in
            do throws(SafetensorsError) { return .success(try Self.parse(raw)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    public subscript(name: String) -> SafetensorsTensor? {
        tensors.first { $0.name == name }
    }

    /// The Float32 values of the tensor called `name`.
    public func tensor(named name: String) throws(SafetensorsError) -> Tensor {
        guard let entry = self[name] else { throw .missingTensor(name: name) }
        return entry.tensor
    }

    /// All tensors by name, as `loadStateDict` takes them.
    public var stateDict: [String: Tensor] {
        Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: reading

    private struct Entry {
        var name: String
        var dtype: SafetensorsDType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    private static func parse(_ raw: UnsafeRawBufferPointer) throws(SafetensorsError) -> SafetensorsFile {
        guard raw.count >= 8 else { throw .truncated(reason: "\(raw.count) bytes, the 8-byte header length is missing") }
        var headerLength: UInt64 = 0
        for i in (0..<8).reversed() { headerLength = headerLength << 8 | UInt64(raw[i]) }
        guard headerLength <= UInt64(maxHeaderBytes) else { throw .headerTooLarge(bytes: headerLength, limit: maxHeaderBytes) }
        let headerEnd = 8 + Int(headerLength)
        guard headerEnd <= raw.count else {
            throw .truncated(reason: "header claims \(headerLength) bytes but only \(raw.count - 8) follow")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: raw[8..<headerEnd])
        guard headerBytes.first == UInt8(ascii: "{") else { throw .malformedHeader(reason: "the header does not start with '{'") }
        guard case .object(let members) = try SafetensorsJSON.parse(headerBytes) else {
            throw .malformedHeader(reason: "the header is not a JSON object")
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        var seen = Set<String>()
        for (key, value) in members {
            guard seen.insert(key).inserted else { throw .malformedHeader(reason: "key '\(key)' appears twice") }
            if key == "__metadata__" {
                metadata = try parseMetadata(value)
            } else {
                entries.append(try parseEntry(name: key, value))
            }
        }

        let data = UnsafeRawBufferPointer(rebasing: raw[headerEnd...])
        try validateLayout(entries, dataBytes: data.count)
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        let tensors = try entries.map { entry throws(SafetensorsError) in try decode(entry, data) }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    private static func parseMetadata(_ value: SafetensorsJSON) throws(SafetensorsError) -> [String: String] {
        guard case .object(let pairs) = value else { throw .malformedHeader(reason: "__metadata__ is not an object") }
        var metadata: [String: String] = [:]
        for (key, item) in pairs {
            guard case .string(let text) = item else {
                throw .malformedHeader(reason: "__metadata__ value of '\(key)' is not a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(name: String, _ value: SafetensorsJSON) throws(SafetensorsError) -> Entry {
        guard case .object(let fields) = value else { throw .invalidTensor(name: name, reason: "header entry is not an object") }
        var dtype: SafetensorsDType?
        var shape: [Int]?
        var offsets: [Int]?
        for (field, item) in fields {
            switch field {
            case "dtype":
                guard case .string(let text) = item else { throw .invalidTensor(name: name, reason: "dtype is not a string") }
                guard let known = SafetensorsDType(rawValue: text) else {
                    throw .invalidTensor(name: name, reason: "unsupported dtype \(text) (supported: F32, F16, BF16, I64)")
                }
                dtype = known
            case "shape":
                shape = try integers(item, name: name, field: "shape")
            case "data_offsets":
                offsets = try integers(item, name: name, field: "data_offsets")
            default:
                throw .invalidTensor(name: name, reason: "unknown header field '\(field)'")
            }
        }
        guard let dtype else { throw .invalidTensor(name: name, reason: "dtype is missing") }
        guard let shape else { throw .invalidTensor(name: name, reason: "shape is missing") }
        guard let offsets else { throw .invalidTensor(name: name, reason: "data_offsets is missing") }
        guard offsets.count == 2 else { throw .invalidTensor(name: name, reason: "data_offsets has \(offsets.count) values, not 2") }
        guard offsets[0] <= offsets[1] else {
            throw .invalidTensor(name: name, reason: "data_offsets [\(offsets[0]), \(offsets[1])] end before they begin")
        }
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw .invalidTensor(name: name, reason: "shape \(shape) overflows") }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == offsets[1] - offsets[0] else {
            throw .invalidTensor(name: name, reason: "shape \(shape) of \(dtype.rawValue) needs \(elements) × \(dtype.byteSize) bytes but data_offsets span \(offsets[1] - offsets[0])")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    private static func integers(_ value: SafetensorsJSON, name: String, field: String) throws(SafetensorsError) -> [Int] {
        guard case .array(let items) = value else { throw .invalidTensor(name: name, reason: "\(field) is not an array") }
        var result: [Int] = []
        for item in items {
            guard case .integer(let number) = item, number >= 0 else {
                throw .invalidTensor(name: name, reason: "\(field) holds something other than a non-negative integer")
            }
            result.append(number)
        }
        return result
    }

    /// The format requires the tensors to tile the data section exactly.
    private static func validateLayout(_ entries: [Entry], dataBytes: Int) throws(SafetensorsError) {
        let ordered = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for entry in ordered {
            guard entry.begin == expected else {
                let problem = entry.begin < expected ? "overlaps the previous tensor" : "leaves a gap after the previous tensor"
                throw .invalidTensor(name: entry.name, reason: "data_offsets begin at \(entry.begin) and \(problem) (expected \(expected))")
            }
            guard entry.end <= dataBytes else {
                throw .invalidTensor(name: entry.name, reason: "data_offsets end at \(entry.end), past the \(dataBytes) data bytes (file truncated?)")
            }
            expected = entry.end
        }
        guard expected == dataBytes else {
            throw .invalidLayout(reason: "tensors cover \(expected) of \(dataBytes) data bytes")
        }
    }

    private static func decode(_ entry: Entry, _ data: UnsafeRawBufferPointer) throws(SafetensorsError) -> SafetensorsTensor {
        let bytes = UnsafeRawBufferPointer(rebasing: data[entry.begin..<entry.end])
        let count = (entry.end - entry.begin) / entry.dtype.byteSize
        var values = [Float](repeating: 0, count: count)
        var int64Values: [Int64]?
        values.withUnsafeMutableBufferPointer { out in
            switch entry.dtype {
            case .float32 where isLittleEndianHost:
                UnsafeMutableRawBufferPointer(out).copyMemory(from: bytes)
            case .float32:
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case .float16:
                for i in 0..<count {
                    out[i] = Float16Conversion.float(fromHalf: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bfloat16:
                for i in 0..<count {
                    out[i] = Float16Conversion.float(fromBFloat16: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .int64:
                var exact = [Int64](repeating: 0, count: count)
                for i in 0..<count {
                    exact[i] = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                    out[i] = Float(exact[i])
                }
                int64Values = exact
            }
        }
        let tensor: Tensor
        do { tensor = try Tensor(shape: entry.shape, data: values) } catch {
            throw .invalidTensor(name: entry.name, reason: error.message)
        }
        var result = SafetensorsTensor(name: entry.name, tensor: tensor, dtype: entry.dtype)
        result.int64Values = int64Values
        return result
    }
}

/// safetensors data is little-endian: on such hosts F32 tensors are copied as whole blocks.
let isLittleEndianHost = 1.littleEndian == 1
