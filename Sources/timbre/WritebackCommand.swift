import ArgumentParser
import Catalog
import Foundation
import Writeback

/// `timbre writeback`: the one command that writes into a library's files (tags only, opt-in
/// per library). The logic is `Writeback.LibraryWriteback`; this only wires and prints.
struct WritebackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "writeback",
        abstract: "Write effective tags into a library's files (one tag field; needs `timbre library set L --writeback on`)."
    )

    @Argument(help: "A library id or a path inside a library (default: the only library).") var library: String?
    @Option(help: "The field to write: genre, grouping, comment or custom:NAME.") var field = "genre"
    @Option(help: "Predicted tags count from this probability up (corrections always count).") var minProbability: Float = 0.8
    @Option(help: "How the tags are spelled; {tags} is the tags joined by \"; \".") var format = TagValueFormat.defaultTemplate
    @Flag(help: "Print what would be written (file, field, old value → new value) and write nothing.") var dryRun = false
    @Flag(help: "Only tracks the library's owner corrected.") var includeCorrectedOnly = false
    @Flag(help: "Write over a field holding the file's own value (the old value is kept in the catalog for --undo).") var replace = false
    @Flag(help: "Put back the values the last write-back of --field replaced.") var undo = false
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (0...1).contains(minProbability) else { throw ValidationError("--min-probability must be between 0 and 1") }
        if undo && replace { throw ValidationError("--undo and --replace do not go together") }
        do { _ = try TagField(parsing: field); _ = try TagValueFormat(format) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let options: WritebackOptions
        do {
            options = WritebackOptions(field: try TagField(parsing: field), minProbability: minProbability, format: try TagValueFormat(format),
                                       includeCorrectedOnly: includeCorrectedOnly, replace: replace, undo: undo)
        } catch { throw ValidationError("\(error)") }
        try database.withDatabase { db in
            let target = try resolveLibrary(db)
            let writeback = LibraryWriteback(pool: db.pool)
            let plan: WritebackPlan
            do { plan = try writeback.plan(library: target, options: options) } catch let error as WritebackError {
                throw CommandFailure("\(error)")
            }
            let verb = undo ? "undo" : "write"
            for item in plan.skipped.prefix(50) { print("skipped \(printable(item.path)): \(printable(item.reason))") }
            if plan.skipped.count > 50 { print("… and \(plan.skipped.count - 50) more skipped") }
            print("\(plan.writes.count) files to \(verb) (\(options.field)); \(plan.unchanged) already up to date, "
                  + "\(plan.withoutTags) without tags at \(minProbability), \(plan.skipped.count) skipped")
            if dryRun {
                for item in plan.writes {
                    print("\(printable(item.path)): \(options.field) \(printable(LibraryWriteback.show(item.old))) → \(printable(LibraryWriteback.show(item.new)))")
                }
                if !plan.writes.isEmpty { print("dry run: nothing was written") }
                return
            }
            guard !plan.writes.isEmpty else {
                if plan.changedSinceScan > 0 {
                    throw CommandFailure("\(plan.changedSinceScan) files changed since the last scan were not written; run `timbre scan`, then write back again")
                }
                return
            }
            let report = writeback.apply(plan, library: target) { item, error in
                if let error {
                    print("failed \(printable(item.path)): \(printable("\(error)"))")
                } else {
                    print("wrote \(printable(item.path)): \(options.field) \(printable(LibraryWriteback.show(item.old))) → \(printable(LibraryWriteback.show(item.new)))")
                }
            }
            print("\(report.written) files written, \(report.failed.count) failed")
            if !report.failed.isEmpty {
                throw CommandFailure("\(report.failed.count) files could not be written and were left as they were (see above)")
            }
            if plan.changedSinceScan > 0 {
                throw CommandFailure("\(plan.changedSinceScan) files changed since the last scan were not written; run `timbre scan`, then write back again")
            }
        }
    }

    private func resolveLibrary(_ db: Database) throws -> Library {
        if let library {
            if let id = Int64(library), let found = try db.libraries.find(id: id) { return found }
            if let found = try db.libraries.find(containing: library) { return found }
            throw ValidationError("\(library) is neither a library id nor inside a library")
        }
        let all = try db.libraries.list()
        guard all.count == 1 else {
            throw ValidationError(all.isEmpty ? "no libraries yet; add one with `timbre library add PATH`"
                                              : "several libraries: say which (an id from `timbre library list`, or a path)")
        }
        return all[0]
    }
}
