import Foundation

/// The backup's container: a POSIX ustar archive (`tar tf FILE` lists it, `tar xf` unpacks it),
/// written and read as a stream so that neither side holds a whole entry in memory.
/// Sizes of 8 GiB and more use the base-256 size field that GNU tar reads.
enum BackupArchive {
    static let blockSize = 512
}

/// Writes regular-file entries to a new file (`O_EXCL`, mode 0600: a backup holds key hashes).
final class TarWriter {
    let path: String
    private var descriptor: Int32
    private(set) var bytesWritten: UInt64 = 0

    init(creating path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure(path, "cannot create") }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// An entry from memory.
    func add(name: String, bytes: [UInt8], modified: Date = Date()) throws {
        try writeHeader(name: name, size: UInt64(bytes.count), modified: modified)
        try bytes.withUnsafeBytes { try write($0) }
        try pad(UInt64(bytes.count))
    }

    /// An entry copied from `source`, which must still be `size` bytes long; returns the SHA-256
    /// of what was copied, so that the caller sees a file that changed since it was hashed.
    @discardableResult
    func add(name: String, copying source: String, size: UInt64, modified: Date = Date()) throws -> [UInt8] {
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw CatalogError.fileSystem(path: source, message: "cannot open for reading: " + String(cString: strerror(errno)))
        }
        defer { try? input.close() }
        try writeHeader(name: name, size: size, modified: modified)
        var hasher = SHA256()
        var copied: UInt64 = 0
        while copied < size {
            let block = try input.read(upToCount: Int(min(1 << 20, size - copied))) ?? Data()
            if block.isEmpty { throw CatalogError.fileSystem(path: source, message: "became shorter while it was being backed up (\(copied) of \(size) bytes)") }
            try block.withUnsafeBytes { raw in
                hasher.update(raw.assumingMemoryBound(to: UInt8.self))
                try write(raw)
            }
            copied += UInt64(block.count)
        }
        if let extra = try input.read(upToCount: 1), !extra.isEmpty {
            throw CatalogError.fileSystem(path: source, message: "became longer while it was being backed up (more than \(size) bytes)")
        }
        try pad(size)
        return hasher.finalize()
    }

    /// The end-of-archive marker (two zero blocks), then `fsync` and close.
    func finish() throws {
        try [UInt8](repeating: 0, count: 2 * BackupArchive.blockSize).withUnsafeBytes { try write($0) }
        guard fsync(descriptor) == 0 else { throw Self.failure(path, "cannot flush") }
        let closed = close(descriptor)
        descriptor = -1
        guard closed == 0 else { throw Self.failure(path, "cannot close") }
    }

    private func writeHeader(name: String, size: UInt64, modified: Date) throws {
        let nameBytes = Array(name.utf8)
        guard nameBytes.count < 100, !nameBytes.isEmpty else {
            throw CatalogError.invalidArgument("archive entry name \(name) must be 1 to 99 bytes")
        }
        var header = [UInt8](repeating: 0, count: BackupArchive.blockSize)
        func put(_ bytes: [UInt8], at offset: Int) { for (i, byte) in bytes.enumerated() { header[offset + i] = byte } }
        func octal(_ value: UInt64, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(nameBytes, at: 0)
        put(octal(0o600, width: 8), at: 100)
        // Owner 0 and no owner names: `tar x` as root gives root the files, as anyone else the extracting user.
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        if size < 0o77777777777 {
            put(octal(size, width: 12), at: 124)
        } else {
            // base-256: high bit set, the value big-endian in the remaining 11 bytes.
            header[124] = 0x80
            for i in 0..<8 { header[135 - i] = UInt8(truncatingIfNeeded: size >> (8 * UInt64(i))) }
        }
        put(octal(UInt64(max(0, modified.timeIntervalSince1970)), width: 12), at: 136)
        header[156] = UInt8(ascii: "0")
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        for i in 148..<156 { header[i] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int($1) }
        put(octal(UInt64(sum), width: 7) + [UInt8(ascii: " ")], at: 148)
        try header.withUnsafeBytes { try write($0) }
    }

    private func pad(_ size: UInt64) throws {
        let remainder = Int(size % UInt64(BackupArchive.blockSize))
        guard remainder > 0 else { return }
        try [UInt8](repeating: 0, count: BackupArchive.blockSize - remainder).withUnsafeBytes { try write($0) }
    }

    private func write(_ raw: UnsafeRawBufferPointer) throws {
        guard let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let n = Glibc.write(descriptor, base + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure(path, "cannot write")
            }
            offset += n
        }
        bytesWritten += UInt64(raw.count)
    }

    static func failure(_ path: String, _ what: String) -> CatalogError {
        .fileSystem(path: path, message: "\(what) the backup archive: \(String(cString: strerror(errno))); check the folder's space and permissions")
    }
}

/// Reads the entries of an archive `TarWriter` wrote, saying exactly where a damaged or
/// truncated one goes wrong.
final class TarReader {
    struct Entry { let name: String; let size: UInt64 }

    let path: String
    private let handle: FileHandle
    /// The entry whose data is next, if any.
    private var pending: Entry?
    private var offset: UInt64 = 0

    init(path: String) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw BackupError.notABackup(path: path, reason: "cannot read it: " + String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw BackupError.notABackup(path: path, reason: "it is not a regular file") }
        guard info.st_size > 0 else { throw BackupError.notABackup(path: path, reason: "it is empty") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BackupError.notABackup(path: path, reason: "cannot open it: " + String(cString: strerror(errno)))
        }
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// The next entry's header; nil at the end-of-archive marker. Skips the data of an entry
    /// that was not read.
    func next() throws -> Entry? {
        if let pending { try readData(of: pending) { _ in } }
        let header = try readExactly(BackupArchive.blockSize, what: offset == 0 ? "the first header" : "an entry header")
        if header.allSatisfy({ $0 == 0 }) { return nil }
        let stored = Self.number(header[148..<156])
        var sum = 0
        for (i, byte) in header.enumerated() { sum += (148..<156).contains(i) ? Int(UInt8(ascii: " ")) : Int(byte) }
        guard let stored, stored == UInt64(sum) else {
            throw offset == UInt64(BackupArchive.blockSize)
                ? BackupError.notABackup(path: path, reason: "it does not start with a tar header")
                : BackupError.corrupt(path: path, reason: "the entry header at byte \(offset - UInt64(BackupArchive.blockSize)) is damaged (bad checksum)")
        }
        let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        guard header[156] == UInt8(ascii: "0") || header[156] == 0 else {
            throw BackupError.notABackup(path: path, reason: "entry \(name) is not a regular file (type \(Character(UnicodeScalar(header[156]))))")
        }
        let size: UInt64
        if header[124] & 0x80 != 0 {
            size = header[125..<136].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        } else if let octal = Self.number(header[124..<136]) {
            size = octal
        } else {
            throw BackupError.corrupt(path: path, reason: "entry \(name) has an unreadable size")
        }
        let entry = Entry(name: name, size: size)
        pending = entry
        return entry
    }

    /// Streams the current entry's data to `sink` in blocks of at most 1 MiB.
    func readData(of entry: Entry, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard pending?.name == entry.name else { return }
        pending = nil
        var remaining = entry.size
        while remaining > 0 {
            let want = Int(min(1 << 20, remaining))
            let block = try handle.read(upToCount: want) ?? Data()
            offset += UInt64(block.count)
            if block.isEmpty {
                throw BackupError.truncated(path: path, reason: "it ends inside \(entry.name), after \(entry.size - remaining) of its \(entry.size) bytes")
            }
            try block.withUnsafeBytes { try sink($0) }
            remaining -= UInt64(block.count)
        }
        let remainder = Int(entry.size % UInt64(BackupArchive.blockSize))
        if remainder > 0 { _ = try readExactly(BackupArchive.blockSize - remainder, what: "the padding after \(entry.name)") }
    }

    /// The whole current entry, for small ones (the manifest).
    func readAll(of entry: Entry, limit: UInt64) throws -> [UInt8] {
        guard entry.size <= limit else {
            throw BackupError.corrupt(path: path, reason: "\(entry.name) is \(entry.size) bytes, more than a manifest can be")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(entry.size))
        try readData(of: entry) { bytes.append(contentsOf: $0) }
        return bytes
    }

    private func readExactly(_ count: Int, what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let block = try handle.read(upToCount: count - bytes.count) ?? Data()
            if block.isEmpty {
                if offset == 0 && bytes.count < count { throw BackupError.notABackup(path: path, reason: "it is too short to be a tar archive (\(bytes.count) bytes)") }
                throw BackupError.truncated(path: path, reason: "it ends inside \(what), at byte \(offset + UInt64(bytes.count)) (the end-of-archive marker is missing)")
            }
            bytes += block
        }
        offset += UInt64(count)
        return bytes
    }

    /// An octal field: optional leading spaces, digits, then NUL or space.
    static func number(_ field: ArraySlice<UInt8>) -> UInt64? {
        let digits = field.drop { $0 == UInt8(ascii: " ") }.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }
        guard !digits.isEmpty else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self), radix: 8)
    }
}
