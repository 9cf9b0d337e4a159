import ArgumentParser
import Catalog
import Foundation

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Index libraries (new, changed, moved and deleted files) and tag what is queued with the active model."
    )

    @Argument(help: "A library id or a path inside a library (default: every library).") var library: String?
    @Flag(help: "Only index and queue; leave tagging to `timbre worker`.") var noTag = false
    @Flag(help: "Let this scan mark most of a library (or all of it, from an empty folder, or any of it from a root on another device than last time) gone; without it such a scan marks nothing gone.")
    var allowMassRemoval = false
    @OptionGroup var tagging: TaggingOptions
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        try database.withDatabase { db in
            let libraries: [Library]
            if let library {
                if let id = Int64(library), let found = try db.libraries.find(id: id) {
                    libraries = [found]
                } else if let found = try db.libraries.find(containing: library) {
                    libraries = [found]
                } else {
                    throw ValidationError("\(library) is neither a library id nor inside a library; add it with `timbre library add`")
                }
            } else {
                libraries = try db.libraries.list()
                if libraries.isEmpty { throw ValidationError("no libraries yet; add one with `timbre library add PATH`") }
            }
            let crawler = Crawler(pool: db.pool, metadataReader: FileTagReader.read)
            crawler.allowMassRemoval = allowMassRemoval
            var refused: [String] = []
            for library in libraries {
                let progress = ScanProgressLine(root: library.rootPath)
                let started = Date()
                let report: ScanReport
                do { report = try crawler.scan(library: library) { progress.show($0) } } catch CatalogError.invalidArgument(let why) {
                    // A refused mass removal: the other libraries are still scanned.
                    progress.finish()
                    FileHandle.standardError.write(Data("error: \(printable(why))\n".utf8))
                    refused.append(library.rootPath)
                    continue
                }
                progress.finish()
                let seconds = Date().timeIntervalSince(started)
                print("\(printable(library.rootPath)): \(report.filesSeen) files in \(String(format: "%.1f", seconds)) s: "
                      + "\(report.added) new, \(report.changed) changed, \(report.moved) moved, \(report.gone) gone, "
                      + "\(report.unchanged + report.retouched) unchanged; \(report.jobsQueued) tagging jobs queued")
                for entry in report.skipped.prefix(20) { print("  skipped \(printable(entry.relativePath)): \(printable(entry.message))") }
                if report.skipped.count > 20 { print("  … and \(report.skipped.count - 20) more skipped") }
            }
            if noTag {
                let queued = try db.jobs.counts(kind: JobKind.tag)[.queued] ?? 0
                print("\(queued) tracks are waiting to be tagged")
            } else {
                try tagQueuedTracks(db, tagging: tagging)
            }
            if !refused.isEmpty {
                throw CommandFailure("not scanned to the end: \(refused.map(printable).joined(separator: ", ")) (see above)")
            }
        }
    }
}

/// One updating line on a terminal, a plain line every 10,000 files otherwise.
private final class ScanProgressLine {
    private let root: String
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastPlain = 0

    init(root: String) { self.root = root }

    func show(_ report: ScanReport) {
        let text = "scanning \(root): \(report.filesSeen) files, \(report.added) new, \(report.changed) changed"
        if isTerminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
        } else if report.filesSeen >= lastPlain + 10_000 {
            lastPlain = report.filesSeen
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
