import Foundation
import Tagger

/// Model files under the data directory, named by their content: `models/<sha256>.safetensors`.
/// A file is never changed once there: it is written whole to a temporary name, flushed to
/// disk and `rename(2)`d into place (never delete-then-move), so a crash leaves the old files
/// and at worst a stray temporary; writing the same model twice finds it already there.
public struct ModelFileStore: Sendable {
    public let directory: URL

    public init(dataDirectory: URL) {
        directory = dataDirectory.appendingPathComponent("models")
    }

    /// Writes `bundle`; returns its absolute path and the SHA-256 of its bytes (hex).
    public func write(_ bundle: ModelBundle) throws -> (path: String, digest: String) {
        let bytes = try bundle.serialized()
        let digest = SHA256.hash(bytes).hexString
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(digest + ".safetensors")
        if FileManager.default.fileExists(atPath: file.path) { return (file.path, digest) }
        let temporary = directory.appendingPathComponent(".\(digest).\(getpid()).\(UUID().uuidString.prefix(8)).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else { throw Self.failure(temporary.path, "cannot create") }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Glibc.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return fsync(descriptor) == 0
        }
        let closed = close(descriptor) == 0
        guard ok, closed, rename(temporary.path, file.path) == 0 else {
            let error = Self.failure(file.path, "cannot write")
            unlink(temporary.path)
            throw error
        }
        // The rename itself survives a power cut once the folder is flushed.
        let folder = open(directory.path, O_RDONLY)
        if folder >= 0 { _ = fsync(folder); close(folder) }
        return (file.path, digest)
    }

    static func failure(_ path: String, _ what: String) -> CatalogError {
        .fileSystem(path: path, message: "\(what) the model file: \(String(cString: strerror(errno))); check the data directory's space and permissions")
    }
}
