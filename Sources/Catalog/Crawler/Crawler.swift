import Foundation
import Logging

/// What one scan found and did.
public struct ScanReport: Sendable {
    public var filesSeen = 0
    public var unchanged = 0
    public var added = 0
    /// Known paths with new content (queued for tagging again).
    public var changed = 0
    /// Known paths whose timestamp changed but whose content did not.
    public var retouched = 0
    /// Known tracks found under a new path; they keep their tags, corrections and embedding.
    public var moved = 0
    public var gone = 0
    public var revived = 0
    public var jobsQueued = 0
    public var skipped: [SkippedEntry] = []
    public var finished = false
}

/// Reads a library file's own tags (`FileTagReader.read`), opening it confined to `libraryRoot`.
public typealias TrackMetadataReader = @Sendable (_ absolutePath: String, _ libraryRoot: String) -> TrackMetadata?

/// Brings a library's tracks in line with its folder, reading nothing it can avoid and
/// writing nothing into the folder.
///
/// Unchanged files (same size and mtime as stored) cost one `fstatat`; all known files come
/// from one query. New and changed files get a `ContentHash`; a new path whose hash matches a
/// track whose path vanished is that track moved (its row keeps its id, so tags, corrections
/// and embedding stay). Files that vanished are marked gone, never deleted: they may come back.
/// A moved or changed file whose track had failed (its file could not be read, or did not
/// decode) is queued again, and a job of such a track still waiting out a retry starts over
/// with all its attempts.
/// A file that cannot be read is left as it was (not gone). Writes go in batched transactions.
///
/// Unchanged tracks are not written at all (rewriting 100,000 rows per scan costs seconds and
/// bloats the table): a track that is not gone was present at its library's `last_scanned_at`.
public final class Crawler {
    public let pool: ConnectionPool
    public var batchSize = 1000
    /// How often (in files) `progress` is called.
    public var progressInterval = 1000
    /// Let a scan mark most of a library gone (or all of it, from an empty root); off, such a
    /// scan marks nothing gone and throws `CatalogError.invalidArgument` saying so (an unmounted disk looks
    /// like an empty folder), nor would a scan whose root is on another device than at the last
    /// scan mark any track gone.
    public var allowMassRemoval = false
    private let metadataReader: TrackMetadataReader?
    private let logger: Logger
    private var contentHash = ContentHash()

    public init(pool: ConnectionPool, metadataReader: TrackMetadataReader? = nil,
                logger: Logger = Logger(label: "timbre.catalog.crawler")) {
        self.pool = pool
        self.metadataReader = metadataReader
        self.logger = logger
    }

    public func scan(library: Library, progress: ((ScanReport) -> Void)? = nil) throws -> ScanReport {
        var report = ScanReport()
        // The root's device now and at the last complete scan (see the refusal below).
        let device = Self.device(of: library.rootPath)
        let lastDevice = try pool.withConnection { connection in
            try connection.query("SELECT root_device FROM libraries WHERE id = $1", [library.id]).optionalInt(0, 0)
        }
        let known = try pool.withConnection { try TrackRepository.knownFiles(libraryID: library.id, on: $0) }
        // Keyed by the names' bytes: Swift's String equality would merge two files whose names
        // differ only in Unicode normalisation (NFC and NFD "café"), which are two files.
        var indexByPath = [PathKey: Int](minimumCapacity: known.count)
        for (index, file) in known.enumerated() { indexByPath[PathKey(file.path)] = index }
        var seen = [Bool](repeating: false, count: known.count)
        var changes: [(id: Int64, file: FoundFile, hash: [UInt8])] = []
        var retouches: [(id: Int64, file: FoundFile, hash: [UInt8])] = []
        var newFiles: [(file: FoundFile, hash: [UInt8])] = []
        // Unchanged files whose track failed only because they could not be read (the disk away
        // longer than the retries): they are back, so they get another try.
        var readableAgain: [Int64] = []

        try FileWalker(root: library.rootPath).walk(visit: { file in
            report.filesSeen += 1
            if report.filesSeen % progressInterval == 0 { progress?(report) }
            if let index = indexByPath[PathKey(file.relativePath)] {
                let stored = known[index]
                seen[index] = true
                if stored.status != .gone && stored.size == file.size && stored.mtimeNanoseconds == file.mtimeNanoseconds {
                    report.unchanged += 1
                    if stored.status == .failed && stored.failedUnreadable { readableAgain.append(stored.id) }
                    return
                }
                guard let hash = hashOrSkip(file, root: library.rootPath, &report) else { return }
                if hash == stored.contentHash {
                    retouches.append((stored.id, file, hash))
                } else {
                    changes.append((stored.id, file, hash))
                }
                if changes.count + retouches.count >= batchSize {
                    try write(changes: &changes, retouches: &retouches, known: known, indexByPath: indexByPath,
                              root: library.rootPath, &report)
                }
            } else if let hash = hashOrSkip(file, root: library.rootPath, &report) {
                newFiles.append((file, hash))
            }
        }, skipped: { entry in
            report.skipped.append(entry)
            // An unreadable known file keeps its row as it is: a permission glitch must not lose tags.
            if let index = indexByPath[PathKey(entry.relativePath)] { seen[index] = true }
            // So do the known files under a folder that cannot be read (the root too: prefix "").
            if entry.reason == .unreadable {
                let prefix = entry.relativePath.isEmpty ? [] : Array(entry.relativePath.utf8) + [UInt8(ascii: "/")]
                for (index, file) in known.enumerated() where !seen[index] && file.path.utf8.starts(with: prefix) { seen[index] = true }
            }
        })
        try write(changes: &changes, retouches: &retouches, known: known, indexByPath: indexByPath, root: library.rootPath, &report)
        for batch in readableAgain.chunked(batchSize) {
            report.jobsQueued += try pool.withTransaction { try JobQueue.retagAfterFileChange(trackIDs: batch, on: $0) }
        }

        // Moves: a new path whose content matches a track not seen at its old path.
        var candidates: [[UInt8]: [Int]] = [:]
        for (index, file) in known.enumerated() where !seen[index] {
            candidates[file.contentHash, default: []].append(index)
        }
        for key in candidates.keys { candidates[key]?.sort { (known[$0].status == .gone ? 1 : 0) < (known[$1].status == .gone ? 1 : 0) } }
        var moves: [(id: Int64, file: FoundFile, hash: [UInt8])] = []
        var movedGoneIDs: [Int64] = []
        var inserts: [(file: FoundFile, hash: [UInt8])] = []
        for new in newFiles {
            if var matches = candidates[new.hash], !matches.isEmpty {
                let index = matches.removeFirst()
                candidates[new.hash] = matches
                seen[index] = true
                moves.append((known[index].id, new.file, new.hash))
                if known[index].status == .gone { movedGoneIDs.append(known[index].id) }
            } else {
                inserts.append(new)
            }
        }
        report.moved = moves.count
        for batch in moves.chunked(batchSize) {
            report.jobsQueued += try pool.withTransaction { connection in
                try TrackRepository.update(batch, retag: false, on: connection)
                // A file that could not be read at its old path gets a new chance at its new one.
                return try JobQueue.retagAfterFileChange(trackIDs: batch.map(\.id), on: connection)
            }
        }
        if !movedGoneIDs.isEmpty {
            report.jobsQueued += try pool.withTransaction { connection in
                let pending = try TrackRepository.revive(ids: movedGoneIDs, on: connection)
                return try JobQueue.enqueue(kind: JobKind.tag, trackIDs: pending, on: connection)
            }
            report.revived += movedGoneIDs.count
        }
        for batch in inserts.chunked(batchSize) {
            let (inserted, queued) = try pool.withTransaction { connection in
                let rows = try TrackRepository.insert(libraryID: library.id, files: batch, on: connection)
                return (rows, try JobQueue.enqueue(kind: JobKind.tag, trackIDs: rows.map(\.0), on: connection))
            }
            report.added += inserted.count
            report.jobsQueued += queued
            readMetadata(Dictionary(uniqueKeysWithValues: inserted.map { ($0.0, library.rootPath + "/" + $0.1) }), root: library.rootPath)
            progress?(report)
        }

        let goneIDs = known.indices.filter { !seen[$0] && known[$0].status != .gone }.map { known[$0].id }
        let present = known.filter { $0.status != .gone }.count
        if !allowMassRemoval, !goneIDs.isEmpty, let device, let lastDevice, device != lastDevice {
            logger.error("scan of \(library.rootPath) refused: the root is on device \(device), was on \(lastDevice)")
            throw CatalogError.invalidArgument(
                "the library root \(library.rootPath) is on another device than at the last scan (an unmounted or "
                + "replaced disk?): the scan would mark \(goneIDs.count) of the library's \(present) tracks gone; "
                + "nothing was marked gone. Mount the library's disk, or scan again with --allow-mass-removal")
        }
        if !allowMassRemoval, !goneIDs.isEmpty,
           report.filesSeen == 0 || (goneIDs.count >= Self.massRemovalMinimum && 2 * goneIDs.count > present) {
            logger.error("scan of \(library.rootPath) refused to mark \(goneIDs.count) of \(present) tracks gone")
            throw CatalogError.invalidArgument(
                "the scan of \(library.rootPath) found \(report.filesSeen) audio files and would mark \(goneIDs.count) of the library's "
                + "\(present) tracks gone" + (report.filesSeen == 0 ? " (the folder is empty or unreadable: an unmounted disk?)" : "")
                + "; nothing was marked gone. If the files really were removed, scan again with --allow-mass-removal")
        }
        try pool.withTransaction { connection in
            try TrackRepository.markGone(ids: goneIDs, on: connection)
            try connection.query("UPDATE libraries SET last_scanned_at = now(), root_device = coalesce($2, root_device) WHERE id = $1",
                                 [library.id, device])
        }
        report.gone = goneIDs.count
        report.finished = true
        progress?(report)
        logger.info("scanned \(library.rootPath): \(report.filesSeen) files, \(report.added) new, \(report.changed) changed, \(report.moved) moved, \(report.gone) gone, \(report.jobsQueued) jobs queued")
        return report
    }

    /// st_dev of the folder, nil when it cannot be read (the walk then reports it unreadable).
    static func device(of path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(bitPattern: UInt64(info.st_dev))
    }

    /// The file is opened read-only, by descriptor, confined to the library (`ReadOnlyFile`).
    private func hashOrSkip(_ file: FoundFile, root: String, _ report: inout ScanReport) -> [UInt8]? {
        do {
            return try contentHash.hash(path: file.absolutePath, libraryRoot: root).digest
        } catch {
            report.skipped.append(SkippedEntry(relativePath: file.relativePath, reason: .unreadable, message: "\(error)"))
            return nil
        }
    }

    /// Writes pending changed and retouched known files in one transaction.
    private func write(changes: inout [(id: Int64, file: FoundFile, hash: [UInt8])],
                       retouches: inout [(id: Int64, file: FoundFile, hash: [UInt8])],
                       known: [KnownFile], indexByPath: [PathKey: Int], root: String, _ report: inout ScanReport) throws {
        guard !changes.isEmpty || !retouches.isEmpty else { return }
        let goneRetouched = retouches.compactMap { item in
            indexByPath[PathKey(item.file.relativePath)].flatMap { known[$0].status == .gone ? item.id : nil }
        }
        let changeBatch = changes, retouchBatch = retouches
        let queued = try pool.withTransaction { connection in
            try TrackRepository.update(changeBatch, retag: true, on: connection)
            try TrackRepository.update(retouchBatch, retag: false, on: connection)
            let pending = try TrackRepository.revive(ids: goneRetouched, on: connection)
            let queued = try JobQueue.enqueue(kind: JobKind.tag, trackIDs: changeBatch.map(\.id) + pending, on: connection)
            // New content: a job still waiting out a retry starts over with every attempt.
            return queued + (try JobQueue.retagAfterFileChange(trackIDs: changeBatch.map(\.id), on: connection))
        }
        report.jobsQueued += queued
        report.changed += changes.count
        report.retouched += retouches.count - goneRetouched.count
        report.revived += goneRetouched.count
        readMetadata(Dictionary(uniqueKeysWithValues: changes.map { ($0.id, $0.file.absolutePath) }), root: root)
        changes.removeAll(keepingCapacity: true)
        retouches.removeAll(keepingCapacity: true)
    }

    /// Fills the file-tag columns when a reader is plugged in; a file whose tags cannot be read keeps NULLs.
    private func readMetadata(_ paths: [Int64: String], root: String) {
        guard let metadataReader, !paths.isEmpty else { return }
        for (id, path) in paths {
            guard let metadata = metadataReader(path, root) else { continue }
            do {
                try pool.withConnection { try TrackRepository.updateMetadata(trackID: id, metadata, on: $0) }
            } catch {
                logger.warning("could not store the tags of \(path): \(error)")
            }
        }
    }
}

extension Crawler {
    /// Fewer tracks than this going at once is never called a mass removal (unless the root is empty).
    public static let massRemovalMinimum = 20
}

/// A relative path as its bytes: two names equal under Unicode canonical equivalence but
/// spelled differently are different files.
struct PathKey: Hashable {
    let bytes: [UInt8]
    init(_ path: String) { bytes = Array(path.utf8) }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: Swift.max(1, size)).map { Array(self[$0..<Swift.min($0 + Swift.max(1, size), count)]) }
    }
}
