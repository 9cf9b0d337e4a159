/// Why a piece of audio could not be read or written. Every case names the file
/// (or "<memory>" for in-memory bytes) and says what was wrong.
public enum AudioError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case unsupportedFormat(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case invalidParameters(path: String, reason: String)
    /// Decoding it would pass `DecodeOptions.maxDecodedBytes` (a declared length, or a stream that went on).
    case tooLarge(path: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): return "\(path): no such file"
        case .unreadable(let path, let reason): return "\(path): cannot be read: \(reason)"
        case .unsupportedFormat(let path, let reason):
            return "\(path): not a supported audio format (WAV, FLAC, OGG/Vorbis, Opus, AIFF, MP3): \(reason)"
        case .corrupt(let path, let reason): return "\(path): corrupt or truncated audio: \(reason)"
        case .invalidParameters(let path, let reason): return "\(path): invalid audio parameters: \(reason)"
        case .tooLarge(let path, let reason): return "\(path): too large to decode: \(reason)"
        case .writeFailed(let path, let reason): return "\(path): cannot write audio: \(reason)"
        }
    }
}
