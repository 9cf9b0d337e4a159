import Foundation

/// A directory opened without following a symbolic link, and the file operations the embedded
/// cluster does inside it, each relative to that descriptor (`openat`, `mkdirat`, `renameat`,
/// `fchownat`, `unlinkat`) and none following a link.
///
/// Why: as root, Timbre writes and chowns files in `$TIMBRE_HOME/postgres`, a folder the
/// unprivileged server user owns. Anything that user (or a compromised server) plants there —
/// a symlink or a hard link to `/etc/shadow`, a directory swapped for a link — must never make
/// root write to or give away a file outside.
final class DirectoryHandle {
    let descriptor: Int32
    let path: String

    /// Linux values (x86-64 and arm64 alike); Glibc's Swift module leaves the GNU ones out.
    private static let openPath: Int32 = 0o10000000          // O_PATH
    private static let emptyPathFlag: Int32 = 0x1000          // AT_EMPTY_PATH
    static let typeMask: mode_t = 0o170000, regularType: mode_t = 0o100000
    static let directoryType: mode_t = 0o040000, linkType: mode_t = 0o120000

    /// Opens `path`; its last component must be a real directory, not a link to one.
    init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.failure(path, "cannot open the folder") }
        self.descriptor = descriptor
        self.path = path
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    private func child(_ name: String) -> String { path + "/" + name }

    /// The directory `name` inside this one, created with `mode` if missing; never a link.
    func subdirectory(_ name: String, createWithMode mode: mode_t? = nil) throws -> DirectoryHandle {
        if let mode, mkdirat(descriptor, name, mode) != 0, errno != EEXIST {
            throw Self.failure(child(name), "cannot create the folder")
        }
        let opened = openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard opened >= 0 else {
            throw Self.failure(child(name), errno == ELOOP || errno == ENOTDIR
                               ? "is not a folder (a symbolic link or a file stands there); move it away" : "cannot open the folder")
        }
        return DirectoryHandle(descriptor: opened, path: child(name))
    }

    /// `lstat` of `name`: nil when nothing is there.
    func status(_ name: String) -> stat? {
        var info = stat()
        return fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info : nil
    }

    /// `fstat` of this directory.
    func status() -> stat {
        var info = stat()
        fstat(descriptor, &info)
        return info
    }

    /// The contents of the regular file `name`; nil when it does not exist. A link or any other
    /// kind of file there is an error (it is never followed, and a FIFO never blocks).
    func read(_ name: String) throws -> Data? {
        let file = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else {
            if errno == ENOENT { return nil }
            throw Self.failure(child(name), errno == ELOOP ? "is a symbolic link; Timbre does not follow it" : "cannot open it")
        }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0, info.st_mode & Self.typeMask == Self.regularType else {
            throw CatalogError.fileSystem(path: child(name), message: "is not a regular file")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Foundation.read(file, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw Self.failure(child(name), "cannot read it") }
            if count == 0 { break }
            data.append(contentsOf: buffer[0..<count])
        }
        return data
    }

    /// Replaces `name` with `contents` (mode `mode`, owned by `owner` when given), unless it
    /// already holds exactly that; returns whether it wrote. The text goes to a new file
    /// (`O_CREAT | O_EXCL | O_NOFOLLOW`), is synced, then renamed over `name`: a symbolic link
    /// standing at `name` is replaced, never written through.
    @discardableResult
    func write(_ name: String, _ contents: Data, mode: mode_t = 0o600, owner: (uid: uid_t, gid: gid_t)? = nil) throws -> Bool {
        if let info = status(name), info.st_mode & Self.typeMask == Self.regularType, info.st_mode & 0o7777 == mode,
           owner.map({ info.st_uid == $0.uid && info.st_gid == $0.gid }) ?? true,
           (try? read(name)) == contents {
            return false
        }
        let temporary = ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let file = openat(descriptor, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard file >= 0 else { throw Self.failure(child(temporary), "cannot create the file") }
        var written = false
        defer {
            close(file)
            if !written { unlinkat(descriptor, temporary, 0) }
        }
        guard fchmod(file, mode) == 0 else { throw Self.failure(child(temporary), "cannot set its mode") }
        if let owner, fchown(file, owner.uid, owner.gid) != 0 { throw Self.failure(child(temporary), "cannot give it to its owner") }
        try contents.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < bytes.count {
                let count = Foundation.write(file, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { throw Self.failure(child(temporary), "cannot write it") }
                offset += count
            }
        }
        guard fsync(file) == 0 else { throw Self.failure(child(temporary), "cannot sync it") }
        guard renameat(descriptor, temporary, descriptor, name) == 0 else { throw Self.failure(child(name), "cannot replace it") }
        written = true
        return true
    }

    /// Removes the file, link or socket `name` (not a directory); true if something was there.
    @discardableResult
    func remove(_ name: String) -> Bool { unlinkat(descriptor, name, 0) == 0 }

    /// Renames `name` to `newName` within this directory.
    func rename(_ name: String, to newName: String) throws {
        guard renameat(descriptor, name, descriptor, newName) == 0 else { throw Self.failure(child(name), "cannot rename it to \(newName)") }
    }

    /// The names in this directory (not `.` and `..`).
    func names() throws -> [String] {
        let copy = openat(descriptor, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0, let stream = fdopendir(copy) else {
            throw Self.failure(path, "cannot list the folder")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Sets this directory's mode and, when given, its owner.
    func set(mode: mode_t, owner: (uid: uid_t, gid: gid_t)?) throws {
        let info = status()
        if info.st_mode & 0o7777 != mode, fchmod(descriptor, mode) != 0 { throw Self.failure(path, "cannot set its mode") }
        if let owner, info.st_uid != owner.uid || info.st_gid != owner.gid, fchown(descriptor, owner.uid, owner.gid) != 0 {
            throw Self.failure(path, "cannot give it to its owner")
        }
    }

    /// Gives this directory and everything below it to `owner`, never through a link: each
    /// entry is opened with `O_PATH | O_NOFOLLOW`, checked with `fstat` and changed through that
    /// same descriptor (`fchownat(fd, "", AT_EMPTY_PATH)`), so what was checked is what changes.
    /// Symbolic links are left alone, directories are entered only as directories, and a file
    /// with more than one hard link is skipped (it could be a link to a file outside). Returns
    /// what it skipped.
    @discardableResult
    func giveTree(to owner: (uid: uid_t, gid: gid_t)) throws -> [String] {
        try set(mode: status().st_mode & 0o7777, owner: owner)
        var skipped: [String] = []
        try giveEntries(to: owner, skipped: &skipped)
        return skipped
    }

    private func giveEntries(to owner: (uid: uid_t, gid: gid_t), skipped: inout [String]) throws {
        for name in try names() {
            let entry = openat(descriptor, name, Self.openPath | O_NOFOLLOW | O_CLOEXEC)
            guard entry >= 0 else { continue } // gone meanwhile
            defer { close(entry) }
            var info = stat()
            guard fstat(entry, &info) == 0 else { continue }
            switch info.st_mode & Self.typeMask {
            case Self.linkType:
                skipped.append(child(name))
                continue
            case Self.directoryType:
                break
            default:
                if info.st_nlink > 1 {
                    skipped.append(child(name))
                    continue
                }
            }
            if info.st_uid != owner.uid || info.st_gid != owner.gid,
               fchownat(entry, "", owner.uid, owner.gid, Self.emptyPathFlag | AT_SYMLINK_NOFOLLOW) != 0 {
                throw Self.failure(child(name), "cannot give it to the server's user")
            }
            if info.st_mode & Self.typeMask == Self.directoryType {
                // Swapped for a link since the check: not entered.
                guard let inner = try? subdirectory(name) else { skipped.append(child(name)); continue }
                try inner.giveEntries(to: owner, skipped: &skipped)
            }
        }
    }

    /// An exclusive or shared `flock` on the file `name` (created 0644 if missing, never through
    /// a link; opened read-only, all `flock` needs, so users sharing a home can share it);
    /// returns the descriptor holding it, or nil when `wait` is false and it is taken. The
    /// descriptor is close-on-exec, so no child (the postmaster above all) inherits the lock.
    func lock(_ name: String, exclusive: Bool, wait: Bool = true) throws -> Int32? {
        var file = openat(descriptor, name, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        if file < 0, errno == ELOOP {
            // A link planted where the lock file goes: remove it (never follow it) and start over.
            remove(name)
            file = openat(descriptor, name, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        }
        guard file >= 0 else { throw Self.failure(child(name), "cannot open the lock file") }
        var info = stat()
        guard fstat(file, &info) == 0, info.st_mode & Self.typeMask == Self.regularType else {
            close(file)
            throw CatalogError.fileSystem(path: child(name), message: "is not a regular file; remove it")
        }
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB)
        while flock(file, operation) != 0 {
            if errno == EINTR { continue }
            let reason = errno
            close(file)
            if reason == EAGAIN { return nil }
            errno = reason
            throw Self.failure(child(name), "cannot lock it")
        }
        return file
    }

    private static func failure(_ path: String, _ what: String) -> CatalogError {
        CatalogError.fileSystem(path: path, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
