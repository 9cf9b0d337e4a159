/// Why a picture or chart could not be made or saved.
public enum ChartError: Error, CustomStringConvertible, Equatable {
    /// The pixel or value buffer does not match the stated dimensions.
    case invalidDimensions(String)
    /// zlib refused to compress the image data (its status code is given).
    case compressionFailed(status: Int32)
    /// The file could not be written.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidDimensions(let reason):
            return "invalid image dimensions: \(reason)"
        case .compressionFailed(let status):
            return "zlib could not compress the image (status \(status)); the image may be too large for memory"
        case .writeFailed(let path, let reason):
            return "\(path): cannot write: \(reason); check that the folder exists and is writable"
        }
    }
}
