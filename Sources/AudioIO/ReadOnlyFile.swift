#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file open for reading only, by descriptor: what the decoders, the content hash
/// and the tag reader all read from, so none of them opens the path again.
///
/// A file inside a music library is opened with `init(path:confinedTo:)`: `O_RDONLY |
/// O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`, then `fstat` must say "regular file" and the real path
/// of the descriptor must lie inside the library's real root. So a catalogued file swapped,
/// after the scan, for a symlink out of the library, a FIFO or a device is refused with an
/// error that says what it now is; an entry that `lstat` already shows is not a regular file
/// is not opened at all (opening a device can have effects), and `O_NONBLOCK` keeps an open
/// that races with such a swap from waiting on a FIFO. A symlink whose target is inside the
/// root (the crawler follows those) is opened at its resolved target, again with
/// `O_NOFOLLOW`. The user's files are never opened for writing, created or truncated.
///
/// Immutable; reads are `pread`, so one instance may be read from several threads.
public final class ReadOnlyFile: @unchecked Sendable {
    /// The path as given (for messages).
    public let path: String
    public let descriptor: Int32
    /// Bytes, from `fstat` at open.
    public let size: Int64

    private init(path: String, descriptor: Int32, size: Int64) {
        self.path = path
        self.descriptor = descriptor
        self.size = size
    }

    deinit { close(descriptor) }

    /// A file the user named (a CLI argument, a corpus): symlinks are followed, but only a
    /// regular file is accepted, and the open never waits (a FIFO is refused, not read).
    public convenience init(path: String) throws(AudioError) {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.openError(path, errno) }
        let size: Int64
        do throws(AudioError) { size = try Self.regularFileSize(descriptor, path: path) } catch {
            close(descriptor)
            throw error
        }
        self.init(path: path, descriptor: descriptor, size: size)
    }

    /// A file of the library rooted at `root`: see the type's comment.
    public convenience init(path: String, confinedTo root: String) throws(AudioError) {
        guard let realRoot = Self.realPath(root) else {
            throw .unreadable(path: path, reason: "the library folder \(root) cannot be resolved: \(Self.describe(errno))")
        }
        var target = path
        var info = stat()
        guard lstat(path, &info) == 0 else { throw Self.openError(path, errno) }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            guard let resolved = Self.realPath(path) else {
                throw .unreadable(path: path, reason: "is a broken symbolic link (\(Self.describe(errno))); not opened")
            }
            guard Self.isInside(resolved, realRoot) else {
                throw .unreadable(path: path, reason: "is a symbolic link to \(resolved), outside the library \(root); not opened")
            }
            target = resolved
            guard lstat(target, &info) == 0 else { throw Self.openError(path, errno) }
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "is \(Self.kind(info.st_mode)), not a regular file; not opened")
        }
        let descriptor = open(target, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ELOOP { throw .unreadable(path: path, reason: "was replaced by a symbolic link while being opened; not opened") }
            throw Self.openError(path, code)
        }
        do throws(AudioError) {
            let size = try Self.regularFileSize(descriptor, path: path)
            if let opened = Self.realPath(descriptor: descriptor) ?? Self.realPath(target), !Self.isInside(opened, realRoot) {
                throw AudioError.unreadable(path: path, reason: "lies at \(opened), outside the library \(root); not read")
            }
            self.init(path: path, descriptor: descriptor, size: size)
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Whether `path` is `root` or below it (both canonical).
    static func isInside(_ path: String, _ root: String) -> Bool {
        root == "/" ? path.hasPrefix("/") : (path == root || path.hasPrefix(root + "/"))
    }

    /// The size of the regular file open on `descriptor`; the caller closes it on error.
    private static func regularFileSize(_ descriptor: Int32, path: String) throws(AudioError) -> Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .unreadable(path: path, reason: describe(errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(path: path, reason: "is \(kind(info.st_mode)), not a regular file")
        }
        return Int64(info.st_size)
    }

    /// The path the kernel holds for an open descriptor (Linux: /proc/self/fd), or nil.
    private static func realPath(descriptor: Int32) -> String? {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.hasSuffix(" (deleted)") ? String(text.dropLast(10)) : text
        #else
        var buffer = [CChar](repeating: 0, count: Int(MAXPATHLEN))
        guard fcntl(descriptor, F_GETPATH, &buffer) == 0 else { return nil }
        return String(cString: buffer)
        #endif
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a file"
        }
    }

    private static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    private static func openError(_ path: String, _ code: Int32) -> AudioError {
        if code == ENOENT || code == ENOTDIR { return .fileNotFound(path: path) }
        return .unreadable(path: path, reason: describe(code))
    }
}
