/// A safetensors file that cannot be read or written. Each case names the file part or
/// tensor at fault; the description says what to do about it.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case io(path: String, reason: String)
    case truncated(reason: String)
    case headerTooLarge(bytes: UInt64, limit: Int)
    case malformedHeader(reason: String)
    case invalidTensor(name: String, reason: String)
    case invalidLayout(reason: String)
    case missingTensor(name: String)
    case unsupported(reason: String)

    public var description: String {
        switch self {
        case .io(let path, let reason):
            return "safetensors: cannot access \(path): \(reason)"
        case .truncated(let reason):
            return "safetensors: file is truncated (\(reason)); the file is incomplete or not a safetensors file"
        case .headerTooLarge(let bytes, let limit):
            return "safetensors: header of \(bytes) bytes exceeds the \(limit)-byte limit; the file is corrupt or not a safetensors file"
        case .malformedHeader(let reason):
            return "safetensors: malformed JSON header: \(reason)"
        case .invalidTensor(let name, let reason):
            return "safetensors: tensor '\(name)': \(reason)"
        case .invalidLayout(let reason):
            return "safetensors: invalid data layout: \(reason)"
        case .missingTensor(let name):
            return "safetensors: no tensor named '\(name)' in the file"
        case .unsupported(let reason):
            return "safetensors: \(reason)"
        }
    }
}
