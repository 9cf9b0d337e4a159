import Catalog
import Foundation

extension TimbreServer {
    /// Walks the library on a thread of its own, reporting progress in the job; new and
    /// changed files are queued for the tagging workers.
    func runScan(library: Library, jobID: Int64) {
        let database = self.database, logger = self.logger
        Thread.detachNewThread { [weak self] in
            let crawler = Crawler(pool: database.pool, metadataReader: FileTagReader.read)
            crawler.progressInterval = 200
            do {
                let report = try crawler.scan(library: library) { report in
                    try? database.jobs.reportProgress(jobID: jobID, done: report.filesSeen, total: report.filesSeen)
                }
                try database.jobs.reportProgress(jobID: jobID, done: report.filesSeen, total: report.filesSeen)
                try database.libraries.markScanned(id: library.id)
                try database.jobs.finish(jobID: jobID)
                logger.info("scan of \(library.rootPath): \(report.filesSeen) files, \(report.added) new, \(report.changed) changed, \(report.gone) gone")
                try? self?.refreshIndex()
                if self?.rescans.take(library.id) == true { self?.scanSoon(libraryID: library.id) }
            } catch {
                logger.error("scan of \(library.rootPath) failed: \(error)")
                try? database.jobs.finish(jobID: jobID, error: "\(error)")
            }
        }
    }

    /// The periodic safety net: every library is scanned again (what inotify would have missed).
    public func rescanAll() {
        guard let libraries = try? database.libraries.list() else { return }
        for library in libraries { scanSoon(libraryID: library.id) }
    }

    /// A scan of the library unless one is running already (then that one will see the change…
    /// unless it has passed the folder: the watcher asks again after the next quiet spell).
    public func scanSoon(libraryID: Int64) {
        guard let library = try? database.libraries.find(id: libraryID) else { return }
        if let jobID = try? database.jobs.startScan(libraryID: library.id, owner: owner) {
            runScan(library: library, jobID: jobID)
        } else {
            // A scan is running and may have passed the change already: scan again after it.
            rescans.mark(libraryID)
        }
    }

    /// Watches every library's folders (and libraries added later, on the next call) with
    /// inotify; returns the watcher's thread body, or nil without inotify.
    public func startWatching() -> (@Sendable () -> Void, @Sendable () -> Void, @Sendable () -> Void)? {
        guard let watcher = LibraryWatcher(logger: logger, onChange: { [weak self] id in self?.scanSoon(libraryID: id) }) else {
            logger.warning("inotify is not available: new music is found by the periodic rescan only")
            return nil
        }
        let database = self.database
        let refresh: @Sendable () -> Void = { for library in (try? database.libraries.list()) ?? [] { watcher.watch(library) } }
        refresh()
        return ({ watcher.run() }, { watcher.stop() }, refresh)
    }
}

/// Libraries that changed while their scan ran, to scan once more when it ends.
final class PendingRescans: @unchecked Sendable {
    private var wanted: Set<Int64> = []
    private let lock = NSLock()
    func mark(_ id: Int64) { lock.withLock { _ = wanted.insert(id) } }
    func take(_ id: Int64) -> Bool { lock.withLock { wanted.remove(id) != nil } }
}
