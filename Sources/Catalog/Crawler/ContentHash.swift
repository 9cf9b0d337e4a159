import AudioIO
import Foundation

/// A fast fingerprint of a file's content, used to recognise a moved or renamed file.
///
/// SHA-256 over: the size as 8 little-endian bytes, then the whole file if it is at most
/// 2 MiB, else its first MiB and its last MiB. Reading at most 2 MiB keeps a first scan of a
/// large collection I/O-light; two different audio files that agree in size, head and tail
/// are not a practical concern (headers and tags differ, and encoded audio differs).
public struct ContentHash {
    public static let edgeBytes = 1 << 20
    private var buffer: [UInt8]

    public init() { buffer = [UInt8](repeating: 0, count: Self.edgeBytes) }

    /// The fingerprint of the library file at `path`, opened read-only by descriptor and
    /// refused unless it is a regular file inside `libraryRoot` (`ReadOnlyFile(path:confinedTo:)`).
    public mutating func hash(path: String, libraryRoot: String) throws -> (digest: [UInt8], size: Int64) {
        try hash(file: ReadOnlyFile(path: path, confinedTo: libraryRoot))
    }

    /// The fingerprint of an open file, read through its descriptor.
    public mutating func hash(file: ReadOnlyFile) throws -> (digest: [UInt8], size: Int64) {
        let descriptor = file.descriptor, path = file.path
        let size = file.size
        var hasher = SHA256()
        var sizeBytes = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { sizeBytes[i] = UInt8(truncatingIfNeeded: UInt64(size) >> (8 * UInt64(i))) }
        hasher.update(sizeBytes)
        let edge = Int64(Self.edgeBytes)
        var ranges: [(offset: Int64, count: Int)] = [(offset: 0, count: Int(size))]
        if size > 2 * edge { ranges = [(offset: 0, count: Self.edgeBytes), (offset: size - edge, count: Self.edgeBytes)] }
        for range in ranges {
            var done = 0
            while done < range.count {
                let chunk = min(range.count - done, buffer.count)
                let got = buffer.withUnsafeMutableBytes { raw in
                    pread(descriptor, raw.baseAddress, chunk, off_t(range.offset + Int64(done)))
                }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw Self.error(path)
                }
                if got == 0 { break } // truncated while we read: hash what is there
                buffer.withUnsafeBufferPointer { hasher.update(UnsafeBufferPointer(rebasing: $0[0..<got])) }
                done += got
            }
        }
        return (hasher.finalize(), size)
    }

    private static func error(_ path: String) -> CatalogError {
        .fileSystem(path: path, message: String(cString: strerror(errno)))
    }
}
