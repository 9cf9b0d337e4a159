import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Replaces a file in one step: the writer fills a temporary file beside the target (same
/// folder, so the same file system), which is flushed (`fsync`) and `rename(2)`d over the
/// target, then the folder is flushed. A reader never finds the target missing or half
/// written, and a failed or killed write leaves the old file as it was. NeuralNet's
/// `AtomicFile` does the same for model files; AudioIO may not import it, hence this copy.
enum AtomicReplace {
    static func replace(_ path: String, writing body: (_ temporary: String) throws(AudioError) -> Void) throws(AudioError) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        do throws(AudioError) {
            try body(temporary)
            let descriptor = open(temporary, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0, fsync(descriptor) == 0 else {
                let reason = String(cString: strerror(errno))
                if descriptor >= 0 { close(descriptor) }
                throw AudioError.writeFailed(path: path, reason: "cannot flush the written file to disk: \(reason)")
            }
            close(descriptor)
            guard rename(temporary, path) == 0 else {
                throw AudioError.writeFailed(path: path, reason: "cannot rename the written file over it: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        let directory = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 { _ = fsync(directory); close(directory) }
    }
}
