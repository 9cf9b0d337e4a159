import Catalog
import Foundation
import Service

/// What `timbre writeback` is asked to do.
public struct WritebackOptions: Sendable {
    public var field: TagField
    /// Predicted labels count from here up (corrections always count).
    public var minProbability: Float
    public var format: TagValueFormat
    /// Only tracks the library's owner corrected.
    public var includeCorrectedOnly: Bool
    /// Write over a field that holds the user's own value (which the catalog keeps for `--undo`).
    public var replace: Bool
    /// Put back what the last write replaced, instead of writing.
    public var undo: Bool

    public init(field: TagField = .genre, minProbability: Float = 0.8, format: TagValueFormat, includeCorrectedOnly: Bool = false,
                replace: Bool = false, undo: Bool = false) {
        self.field = field; self.minProbability = minProbability; self.format = format
        self.includeCorrectedOnly = includeCorrectedOnly; self.replace = replace; self.undo = undo
    }
}

/// One file to write: its field goes from `old` to `new`.
public struct PlannedWrite: Sendable, Equatable {
    public var trackID: Int64
    /// Relative to the library root.
    public var path: String
    public var absolutePath: String
    public var old: [String]
    public var new: [String]
    /// What an undo of this write will restore (the value before Timbre first wrote the field).
    public var previous: [String]
    /// The file as the last scan saw it, and as it still is.
    public var stamp: FileStamp
}

/// A file left alone, and why.
public struct SkippedFile: Sendable, Equatable {
    public var path: String
    public var reason: String
}

/// What a write-back would do to a library; nothing is written making it.
public struct WritebackPlan: Sendable {
    public var field: TagField
    public var undo: Bool
    public var writes: [PlannedWrite] = []
    /// Files whose field already says what it would be made to say.
    public var unchanged = 0
    /// Tracks with no effective tag at the threshold (nothing to write).
    public var withoutTags = 0
    /// Left alone: the user's own value (without --replace), changed since the scan, unreadable.
    public var skipped: [SkippedFile] = []
    /// Of `skipped`, those changed since the last scan.
    public var changedSinceScan = 0
}

/// What applying a plan did.
public struct WritebackReport: Sendable {
    public var written = 0
    public var failed: [SkippedFile] = []
}

/// `timbre writeback`: effective tags (`TrackTags`: the owner's corrections first, then
/// predictions of the active model from `minProbability` up) written into one field of a
/// library's files, most likely first, in the configured format; or, with `undo`, the values
/// the last writes replaced put back. Refused unless the library has write-back switched on.
///
/// A field is written when it is empty or holds only Timbre's own value (the format's shape, or
/// exactly what the catalog records writing there); a field with the user's own value is left
/// alone unless `replace`, and then its old value is recorded for `--undo`. A file whose field
/// already holds the value is not touched, so a second run writes nothing. Every file goes
/// through `TagFileWriter` (copy, write, verify, rename) and `WritebackRepository.commit`.
public struct LibraryWriteback {
    public let pool: ConnectionPool
    public init(pool: ConnectionPool) { self.pool = pool }

    public func plan(library: Library, options: WritebackOptions) throws -> WritebackPlan {
        guard try WritebackRepository(pool: pool).isEnabled(libraryID: library.id) else {
            throw WritebackError.notEnabled(libraryID: library.id, root: library.rootPath)
        }
        let key = options.field.tagKey
        let tracks = try TrackRepository(pool: pool).tracks(libraryID: library.id).filter { $0.status != .gone }
        let ids = tracks.map(\.id)
        let records = try WritebackRepository(pool: pool).latest(trackIDs: ids, tagKey: key)
        var predicted: [Int64: [String: Float]] = [:]
        if let model = try ModelRepository(pool: pool).active() {
            predicted = try PredictionStore(pool: pool).probabilities(trackIDs: ids, modelID: model.id)
        }
        let corrections = try CorrectionRepository(pool: pool).latest(trackIDs: ids, userID: library.ownerID)

        var plan = WritebackPlan(field: options.field, undo: options.undo)
        for track in tracks {
            let absolutePath = library.rootPath + "/" + track.path
            let record = records[track.id]
            var wanted: [String]
            if options.undo {
                guard let record, record.action == .write else { continue }
                wanted = record.previousValue
            } else {
                let trackCorrections = corrections[track.id] ?? [:]
                if options.includeCorrectedOnly && trackCorrections.isEmpty { continue }
                let tags = TrackTags(predicted: predicted[track.id] ?? [:], corrections: trackCorrections,
                                     threshold: options.minProbability).effective.map(\.label)
                if tags.isEmpty {
                    plan.withoutTags += 1
                    continue
                }
                wanted = [options.format.render(tags)]
            }
            let current: [String]
            let stamp: FileStamp
            do {
                let read = try TagFileWriter.currentValues(path: absolutePath, libraryRoot: library.rootPath, key: key)
                guard let values = read.values else {
                    plan.skipped.append(SkippedFile(path: track.path, reason: "TagLib cannot read its tags"))
                    continue
                }
                current = values
                stamp = read.stamp
            } catch {
                plan.skipped.append(SkippedFile(path: track.path, reason: "\(error)"))
                continue
            }
            let scanned = FileStamp(size: track.size, mtimeNanoseconds: track.mtimeNanoseconds)
            guard stamp == scanned else {
                plan.skipped.append(SkippedFile(path: track.path, reason: "changed since the last scan (\(TagFileWriter.difference(scanned, stamp))); "
                                                + "run `timbre scan` first, then write back again"))
                plan.changedSinceScan += 1
                continue
            }
            if current == wanted {
                plan.unchanged += 1
                continue
            }
            let previous: [String]
            if options.undo {
                // Only what Timbre itself left there is taken back out.
                guard current == record?.value else {
                    plan.skipped.append(SkippedFile(path: track.path, reason: "its \(options.field) changed since Timbre wrote it (now \(Self.show(current))); not undone"))
                    continue
                }
                previous = current
            } else if let record, record.action == .write, current == record.value {
                previous = record.previousValue  // Timbre's own earlier value: undo still goes back to the user's
            } else if current.isEmpty || current.allSatisfy({ options.format.matches($0) }) {
                previous = current
            } else if options.replace {
                previous = current
            } else {
                plan.skipped.append(SkippedFile(path: track.path, reason: "its \(options.field) holds its own value \(Self.show(current)); left alone "
                                                + "(--replace writes over it, keeping the old value in the catalog for `timbre writeback --undo`)"))
                continue
            }
            plan.writes.append(PlannedWrite(trackID: track.id, path: track.path, absolutePath: absolutePath, old: current,
                                            new: wanted, previous: previous, stamp: scanned))
        }
        return plan
    }

    /// Writes the plan's files one by one; a file that fails is left as it was and reported,
    /// and the others are still written. `progress` is called after each file.
    public func apply(_ plan: WritebackPlan, library: Library,
                      progress: ((_ write: PlannedWrite, _ error: Error?) -> Void)? = nil) -> WritebackReport {
        var report = WritebackReport()
        let repository = WritebackRepository(pool: pool)
        for write in plan.writes {
            do {
                let prepared = try TagFileWriter.prepare(path: write.absolutePath, libraryRoot: library.rootPath,
                                                         key: plan.field.tagKey, values: write.new, expected: write.stamp)
                defer { prepared.discard() }
                let record = WritebackRecord(trackID: write.trackID, field: plan.field.description, tagKey: plan.field.tagKey,
                                             action: plan.undo ? .undo : .write, value: write.new, previousValue: write.previous,
                                             size: prepared.stamp.size, mtimeNanoseconds: prepared.stamp.mtimeNanoseconds,
                                             contentHash: prepared.contentHash)
                try repository.commit(record, expectedSize: write.stamp.size, expectedMtimeNanoseconds: write.stamp.mtimeNanoseconds,
                                      genre: plan.field == .genre ? .some(prepared.genre) : nil) {
                    try prepared.replaceOriginal()
                }
                report.written += 1
                progress?(write, nil)
            } catch {
                report.failed.append(SkippedFile(path: write.path, reason: "\(error)"))
                progress?(write, error)
            }
        }
        return report
    }

    /// `"Rock"`, `"a" / "b"`, or `(none)`.
    public static func show(_ values: [String]) -> String {
        values.isEmpty ? "(none)" : values.map { "\"\($0)\"" }.joined(separator: " / ")
    }
}
