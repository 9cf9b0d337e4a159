import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Replaces a file so that a reader, a crash or a full disk never finds it missing or half
/// written: the bytes go to a temporary file beside the target (same folder, so the same file
/// system), which is flushed (`fsync`) and `rename(2)`d over the target — the kernel swaps
/// the name in one step, the old file stays whole until then — and the folder is flushed so
/// the rename itself survives a power cut. Never delete-then-move. On failure the temporary
/// file is removed and the old file is left as it was.
///
/// Model bundles, checkpoints and every `SafetensorsFile` go through here. (AudioIO keeps its
/// own copy for `AudioWriter`, since NeuralNet and AudioIO may not import each other.)
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Writes `bytes` to `path` atomically (see the type). New files get mode 0666 less the umask.
    public static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
        try replace(path) { temporary throws(Failure) in
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard descriptor >= 0 else { throw Failure(path: path, reason: "cannot create \(temporary): \(errorText())") }
            defer { close(descriptor) }
            let complete = bytes.withUnsafeBytes { raw -> Bool in
                var written = 0
                while written < raw.count {
                    let n = Glibc.write(descriptor, raw.baseAddress! + written, raw.count - written)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    written += n
                }
                return true
            }
            guard complete else { throw Failure(path: path, reason: "cannot write \(temporary): \(errorText())") }
        }
    }

    /// Runs `body` with a fresh temporary path beside `path` (nothing there yet) for it to
    /// create and fill, then flushes that file and renames it over `path`. For writers that
    /// want a path of their own (libsndfile).
    public static func replace(_ path: String, writing body: (String) throws(Failure) -> Void) throws(Failure) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        do throws(Failure) {
            try body(temporary)
            try flush(temporary, path: path)
            guard rename(temporary, path) == 0 else {
                throw Failure(path: path, reason: "cannot rename \(temporary) over it: \(errorText())")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        flushFolder(folder)
    }

    /// `fsync` of a file written (and closed) by someone else.
    static func flush(_ temporary: String, path: String) throws(Failure) {
        let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(path: path, reason: "cannot reopen \(temporary): \(errorText())") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Failure(path: path, reason: "cannot flush \(temporary) to disk: \(errorText())") }
    }

    /// Makes a rename in `folder` durable; best effort (some file systems refuse a folder's fsync).
    static func flushFolder(_ folder: String) {
        let descriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}
