import AudioIO
import Catalog
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A library file's size and mtime as the crawler compares them (`stat`, nanoseconds).
public struct FileStamp: Sendable, Equatable {
    public var size: Int64
    public var mtimeNanoseconds: Int64
    public init(size: Int64, mtimeNanoseconds: Int64) { self.size = size; self.mtimeNanoseconds = mtimeNanoseconds }

    init(_ info: stat) {
        size = Int64(info.st_size)
        mtimeNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}

/// A verified new version of a library file, written beside it and not yet renamed over it.
/// Exactly one of `replaceOriginal` or `discard` ends it (`discard` is safe to call after either).
public final class PreparedTagWrite {
    /// The original's real path (symlinks resolved: the link stays a link, its target is replaced).
    public let path: String
    let temporaryPath: String
    let original: stat
    /// The new file, as the catalog will record it.
    public let stamp: FileStamp
    public let contentHash: [UInt8]
    /// The values read back from the new file (what was asked for).
    public let values: [String]
    /// The new file's genre as the crawler reads it (`FileTagReader`), for the track row.
    public let genre: String?
    private var finished = false

    init(path: String, temporaryPath: String, original: stat, stamp: FileStamp, contentHash: [UInt8], values: [String], genre: String?) {
        self.path = path; self.temporaryPath = temporaryPath; self.original = original; self.stamp = stamp
        self.contentHash = contentHash; self.values = values; self.genre = genre
    }

    deinit { discard() }

    /// `rename(2)` over the original, then flushes the folder. Refuses if the original was
    /// replaced or changed since it was copied (another program wrote it meanwhile).
    public func replaceOriginal() throws(WritebackError) {
        guard !finished else { throw .fileFailed(path: path, reason: "this write was already finished") }
        if let hook = TagFileWriter.beforeRename { try hook(path) }
        var now = stat()
        guard lstat(path, &now) == 0 else {
            throw .fileFailed(path: path, reason: "it vanished while its tags were written (\(String(cString: strerror(errno))))")
        }
        guard now.st_dev == original.st_dev, now.st_ino == original.st_ino, FileStamp(now) == FileStamp(original) else {
            throw .fileFailed(path: path, reason: "it was changed by another program while its tags were written")
        }
        guard rename(temporaryPath, path) == 0 else {
            throw .fileFailed(path: path, reason: "cannot rename the new version over it: \(String(cString: strerror(errno)))")
        }
        finished = true
        let folder = (path as NSString).deletingLastPathComponent
        let directory = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 { _ = fsync(directory); close(directory) }
    }

    /// Removes the temporary file unless it was renamed into place.
    public func discard() {
        guard !finished else { return }
        finished = true
        unlink(temporaryPath)
    }
}

/// Writes one property into a copy of a library file and checks the copy; never writes the file
/// itself. The steps, each of which leaves the original untouched when it fails:
///
/// 1. open the original read-only, confined to its library (`ReadOnlyFile`), and refuse it if
///    its size or mtime differ from the catalog's (changed since the last scan) or it has other
///    hard links (a rename would part them);
/// 2. copy it byte for byte to `.NAME.timbre-PID-RANDOM.tmp` in its real folder (same file
///    system), created `O_EXCL | O_NOFOLLOW`, mode 0600 until it is complete;
/// 3. write the tag into the copy (TagLib, `CTagLibWriter`);
/// 4. give the copy the original's permission bits and owner and group (refused when they cannot
///    be kept: run as the file's owner or root) and `fsync` it;
/// 5. verify: the property reads back as written through the read-only path, and the audio
///    decodes to the same samples, every channel, at the same rate as the original's;
/// 6. `PreparedTagWrite.replaceOriginal`: `rename(2)` over the original, `fsync` the folder.
///
/// The mtime is the write's (the file did change: backup and sync tools must see it), not the
/// original's; the catalog stores the new size, mtime and content hash in the transaction that
/// renames (`WritebackRepository.commit`). Extended attributes and ACLs are not copied.
public enum TagFileWriter {
    /// For tests: runs just before the rename; throwing stops the write there.
    nonisolated(unsafe) public static var beforeRename: ((String) throws(WritebackError) -> Void)?

    /// The field's current values, read-only; nil when TagLib cannot parse the file.
    public static func currentValues(path: String, libraryRoot: String, key: String) throws(WritebackError) -> (values: [String]?, stamp: FileStamp) {
        let file: ReadOnlyFile
        do { file = try ReadOnlyFile(path: path, confinedTo: libraryRoot) } catch {
            throw .fileFailed(path: path, reason: "\(error)")
        }
        var info = stat()
        guard fstat(file.descriptor, &info) == 0 else {
            throw .fileFailed(path: path, reason: String(cString: strerror(errno)))
        }
        let format: AudioFileFormat
        do { format = try AudioDecoder.format(of: file) } catch {
            throw .fileFailed(path: path, reason: "\(error)")
        }
        return (TagValues.read(descriptor: file.descriptor, format: format, key: key), FileStamp(info))
    }

    /// Steps 1–5 (see the type): a verified copy of `path` with `key` set to `values`.
    public static func prepare(path: String, libraryRoot: String, key: String, values: [String],
                               expected: FileStamp) throws(WritebackError) -> PreparedTagWrite {
        let original: ReadOnlyFile
        do { original = try ReadOnlyFile(path: path, confinedTo: libraryRoot) } catch {
            throw .fileFailed(path: path, reason: "\(error)")
        }
        var info = stat()
        guard fstat(original.descriptor, &info) == 0 else { throw .fileFailed(path: path, reason: String(cString: strerror(errno))) }
        let stamp = FileStamp(info)
        guard stamp == expected else {
            throw .changedSinceScan(path: path, detail: Self.difference(expected, stamp))
        }
        guard info.st_nlink == 1 else {
            throw .fileFailed(path: path, reason: "it has \(info.st_nlink) hard links, which replacing it would part; not written")
        }
        guard let resolved = realpath(path, nil) else { throw .fileFailed(path: path, reason: String(cString: strerror(errno))) }
        let realPath = String(cString: resolved)
        free(resolved)
        let format: AudioFileFormat
        do { format = try AudioDecoder.format(of: original) } catch {
            throw .fileFailed(path: path, reason: "\(error)")
        }

        let url = URL(fileURLWithPath: realPath)
        let temporaryPath = url.deletingLastPathComponent().path + "/." + url.lastPathComponent
            + ".timbre-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let copy = open(temporaryPath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard copy >= 0 else {
            throw .fileFailed(path: path, reason: "cannot create a temporary file beside it (\(String(cString: strerror(errno))))")
        }
        var handedOver = false
        defer {
            close(copy)
            if !handedOver { unlink(temporaryPath) }
        }
        try Self.copyBytes(from: original.descriptor, size: original.size, to: copy, path: path)
        try TagValues.write(descriptor: copy, format: format, key: key, values: values, path: path)
        // Owner first: chown clears set-user-ID and set-group-ID bits, which the mode then restores.
        var mine = stat()
        if fstat(copy, &mine) == 0, mine.st_uid != info.st_uid || mine.st_gid != info.st_gid,
           fchown(copy, info.st_uid, info.st_gid) != 0 {
            throw .fileFailed(path: path, reason: "cannot keep its owner \(info.st_uid):\(info.st_gid) (\(String(cString: strerror(errno)))); "
                              + "run as the file's owner or root")
        }
        if fchmod(copy, info.st_mode & 0o7777) != 0 {
            throw .fileFailed(path: path, reason: "cannot give the new version the file's permissions (\(String(cString: strerror(errno))))")
        }
        guard fsync(copy) == 0 else {
            throw .fileFailed(path: path, reason: "cannot flush the new version to disk (\(String(cString: strerror(errno))))")
        }

        // Step 5, through the read-only path.
        let check: ReadOnlyFile
        do { check = try ReadOnlyFile(path: temporaryPath) } catch { throw .fileFailed(path: path, reason: "cannot reopen the new version: \(error)") }
        let readBack = TagValues.read(descriptor: check.descriptor, format: format, key: key)
        guard readBack == values else {
            throw .fileFailed(path: path, reason: "\(key) read back as \(readBack.map { "\($0)" } ?? "unreadable tags"), not \(values)")
        }
        try Self.verifyAudio(original: original, copy: check, path: path)
        var written = stat()
        guard fstat(check.descriptor, &written) == 0 else { throw .fileFailed(path: path, reason: String(cString: strerror(errno))) }
        var hasher = ContentHash()
        let digest: [UInt8]
        do { digest = try hasher.hash(file: check).digest } catch { throw .fileFailed(path: path, reason: "cannot hash the new version: \(error)") }
        let genre = FileTagReader.read(temporaryPath, url.deletingLastPathComponent().path)?.genre
        handedOver = true
        return PreparedTagWrite(path: realPath, temporaryPath: temporaryPath, original: info, stamp: FileStamp(written),
                                contentHash: digest, values: values, genre: genre)
    }

    /// The audio must decode to exactly the same samples, every channel, at the source's rate.
    static func verifyAudio(original: ReadOnlyFile, copy: ReadOnlyFile, path: String) throws(WritebackError) {
        let same: Bool
        do { same = try AudioDecoder.decodeIdentically(original, copy) } catch {
            throw .fileFailed(path: path, reason: "cannot decode it to check that the audio is unchanged (\(error))")
        }
        guard same else {
            throw .fileFailed(path: path, reason: "the new version's audio decodes differently from the original's")
        }
    }

    private static func copyBytes(from source: Int32, size: Int64, to target: Int32, path: String) throws(WritebackError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while true {
            let got = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, $0.count, off_t(offset)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw .fileFailed(path: path, reason: "cannot read it (\(String(cString: strerror(errno))))")
            }
            if got == 0 { break }
            var done = 0
            while done < got {
                let put = buffer.withUnsafeBytes { write(target, $0.baseAddress! + done, got - done) }
                if put < 0 {
                    if errno == EINTR { continue }
                    throw .fileFailed(path: path, reason: "cannot write the copy (\(String(cString: strerror(errno))))")
                }
                done += put
            }
            offset += Int64(got)
        }
        guard offset == size else {
            throw .fileFailed(path: path, reason: "it changed size while being copied (\(size) → \(offset) bytes)")
        }
    }

    static func difference(_ stored: FileStamp, _ now: FileStamp) -> String {
        var parts: [String] = []
        if stored.size != now.size { parts.append("size \(stored.size) → \(now.size) bytes") }
        if stored.mtimeNanoseconds != now.mtimeNanoseconds { parts.append("modified at \(Self.time(now.mtimeNanoseconds)), scanned as \(Self.time(stored.mtimeNanoseconds))") }
        return parts.joined(separator: ", ")
    }

    private static func time(_ nanoseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds) / 1e9))
    }
}
