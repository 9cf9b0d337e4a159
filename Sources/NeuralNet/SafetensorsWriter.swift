import Foundation

extension SafetensorsFile {
    /// The file's bytes: tensors in the order of `tensors`, header padded with spaces to a
    /// multiple of 8 bytes so the data section stays aligned (as the Python library does).
    public func serialized() throws(SafetensorsError) -> [UInt8] {
        var names = Set<String>()
        var header = "{"
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }
                .map { SafetensorsJSON.quoted($0.key) + ":" + SafetensorsJSON.quoted($0.value) }
            header += "\"__metadata__\":{" + pairs.joined(separator: ",") + "},"
        }
        var offset = 0
        var fields: [String] = []
        for entry in tensors {
            guard entry.name != "__metadata__" else { throw .invalidTensor(name: entry.name, reason: "the name is reserved") }
            guard names.insert(entry.name).inserted else { throw .invalidTensor(name: entry.name, reason: "the name is used twice") }
            if let exact = entry.int64Values, exact.count != entry.tensor.count {
                throw .invalidTensor(name: entry.name, reason: "int64Values has \(exact.count) values for shape \(entry.tensor.shape)")
            }
            let size = entry.tensor.count * entry.dtype.byteSize
            let shape = entry.tensor.shape.map(String.init).joined(separator: ",")
            fields.append(SafetensorsJSON.quoted(entry.name)
                + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        header += fields.joined(separator: ",") + "}"
        if header.hasSuffix(",}") { header.removeLast(2); header += "}" }
        var headerBytes = Array(header.utf8)
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8))

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for entry in tensors { try Self.append(entry, to: &out) }
        return out
    }

    /// Writes to `url` through a temporary file beside it, flushed and `rename(2)`d over it
    /// (`AtomicFile`), so a reader or a crash never finds the file missing or half written.
    public func write(to url: URL) throws(SafetensorsError) {
        let bytes = try serialized()
        do { try AtomicFile.write(bytes, to: url.path) } catch {
            throw .io(path: url.path, reason: error.reason)
        }
    }

    private static func append(_ entry: SafetensorsTensor, to out: inout [UInt8]) throws(SafetensorsError) {
        func put<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        switch entry.dtype {
        case .float32:
            if isLittleEndianHost {
                entry.tensor.data.withUnsafeBytes { out.append(contentsOf: $0) }
            } else {
                for value in entry.tensor.data { put(value.bitPattern) }
            }
        case .float16:
            for value in entry.tensor.data { put(Float16Conversion.half(from: value)) }
        case .bfloat16:
            for value in entry.tensor.data { put(Float16Conversion.bfloat16(from: value)) }
        case .int64:
            if let exact = entry.int64Values {
                for value in exact { put(value) }
                return
            }
            for value in entry.tensor.data {
                let rounded = value.rounded()
                guard rounded.isFinite, let integer = Int64(exactly: rounded) else {
                    throw .invalidTensor(name: entry.name, reason: "value \(value) cannot be stored as I64")
                }
                put(integer)
            }
        }
    }
}

extension SafetensorsFile {
    /// A file of a model's `state_dict` as PyTorch writes it: every tensor F32 except the
    /// BatchNorm counters (`…num_batches_tracked`), which are I64 so `torch.load_state_dict`
    /// accepts them.
    public init(stateDict: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) {
        let tensors = stateDict.map { name, tensor in
            SafetensorsTensor(name: name, tensor: tensor,
                              dtype: name.hasSuffix("num_batches_tracked") ? .int64 : .float32)
        }
        self.init(tensors: tensors, metadata: metadata)
    }
}
