import AudioIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a library file could not be tagged, as far as retrying goes.
enum FileProblem: Equatable, Sendable {
    /// The file cannot be opened or read *right now*: missing (moved, a folder renamed), no
    /// permission, an I/O error, a vanished mount or a stale NFS handle, the library's folder
    /// away. Worth another attempt later.
    case transient(String)
    /// The file's own fault: a readable file that does not decode, or an entry that is not a
    /// regular file inside its library. Another attempt would fail the same way.
    case permanent(String)

    var message: String {
        switch self {
        case let .transient(message), let .permanent(message): return message
        }
    }
}

/// Tells a file that cannot be read now from a file that cannot be decoded.
///
/// Errors from opening the file (`ReadOnlyFile`) say which it is: no such file, or an errno
/// that may pass (`transientCodes`), or the library folder that cannot be resolved is
/// transient; a FIFO, a device or a link out of the library is permanent. The decoders
/// report a failed read as a damaged stream, so a decode error is only believed once the file
/// has been read through without an error (`readThrough`); otherwise the read error is what
/// the file's job is retried for.
enum FileReadability {
    /// errno values that say "not now" rather than "never".
    static let transientCodes: [Int32] = [
        ENOENT, ENOTDIR, EACCES, EPERM, EIO, ENXIO, ESTALE, ENODEV, ENOMEDIUM, ETIMEDOUT, EHOSTDOWN,
        EHOSTUNREACH, ENETDOWN, ENETUNREACH, ENOTCONN, ECONNRESET, ECONNREFUSED, ECONNABORTED, EAGAIN,
        EBUSY, EINTR, ENOLCK, EMFILE, ENFILE, ENOMEM, EREMOTEIO,
    ]

    /// `strerror` of each transient code: the reasons `ReadOnlyFile` puts into its errors.
    static let transientReasons: Set<String> = Set(transientCodes.map { String(cString: strerror($0)) })

    /// Bytes `readThrough` reads at most (a corrupt file of many GiB is not read whole to prove it).
    static let readThroughLimit: Int64 = 1 << 30

    /// What `error`, thrown while decoding the library file `path` (under `root`), means.
    static func classify(_ error: any Error, path: String, root: String) -> FileProblem {
        if let problem = openProblem(error) { return problem }
        if let readError = readThrough(path: path, root: root) { return .transient(readError) }
        return .permanent("\(error)")
    }

    /// What an error from opening a library file (`ReadOnlyFile(path:confinedTo:)`) means, or a
    /// decode cap's refusal (`tooLarge`: the file was read); nil for a decoder's other errors.
    static func openProblem(_ error: any Error) -> FileProblem? {
        guard let audio = error as? AudioError else { return nil }
        switch audio {
        case .fileNotFound:
            return .transient("\(audio)")
        case let .unreadable(_, reason):
            // The library's folder itself is away (an unmounted disk), a link whose target is
            // (on a disk that is away), or an errno that may pass.
            if reason.hasPrefix("the library folder ") || reason.hasPrefix("is a broken symbolic link")
                || transientReasons.contains(reason) {
                return .transient("\(audio)")
            }
            return .permanent("\(audio)")
        case .tooLarge:
            // Decided from what was read (a declared length, or the samples so far): the file reads.
            return .permanent("\(audio)")
        default:
            return nil
        }
    }

    /// Opens the file again and reads it through (up to `readThroughLimit`); the error that
    /// stopped it when that error may pass, nil when the file reads (or cannot be opened for a
    /// reason of its own).
    static func readThrough(path: String, root: String) -> String? {
        let file: ReadOnlyFile
        do { file = try ReadOnlyFile(path: path, confinedTo: root) } catch {
            if case let .transient(message)? = openProblem(error) { return message }
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        let end = min(file.size, readThroughLimit)
        while offset < end {
            let wanted = Int(min(Int64(buffer.count), end - offset))
            let got = buffer.withUnsafeMutableBytes { pread(file.descriptor, $0.baseAddress, wanted, off_t(offset)) }
            if got < 0 {
                let code = errno
                if code == EINTR { continue }
                return "\(path): cannot be read: \(String(cString: strerror(code)))"
            }
            if got == 0 { break }
            offset += Int64(got)
        }
        return nil
    }
}
