import ArgumentParser
import Catalog
import Foundation
import Tagger

/// How tagging runs; shared by `timbre worker` and `timbre scan`.
struct TaggingOptions: ParsableArguments {
    @Option(help: "Model file to register and activate when the catalog has no active model (default: $TIMBRE_MODEL, else models/default/model.safetensors).")
    var model: String?

    @Option(help: "Threads decoding files (default: all cores).")
    var concurrency: Int?

    @Option(help: "Jobs claimed, run through the network and stored together.")
    var batchSize = 16

    @Option(help: "Seconds a claimed job stays leased without renewal (default: $TIMBRE_WORKER_LEASE, else 60).")
    var lease: Double?

    @Option(help: "At most this many ~3 s chunks per track, spread evenly (default 24).")
    var maxChunks: Int?

    @Option(help: .hidden) var holdAfterClaim: Double = 0

    func workerOptions() throws -> WorkerOptions {
        var options = WorkerOptions()
        if let concurrency {
            guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
            options.concurrency = concurrency
        }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        options.batchSize = batchSize
        if let lease = lease ?? ProcessInfo.processInfo.environment["TIMBRE_WORKER_LEASE"].flatMap(Double.init) {
            guard lease > 0 else { throw ValidationError("the lease must be longer than 0 s") }
            options.lease = lease
        }
        if let maxChunks { options.prediction.maxChunks = max(1, maxChunks) }
        options.holdAfterClaim = max(0, holdAfterClaim)
        return options
    }

    /// The model file a fresh catalog starts with, and every place looked at (for the message).
    var defaultModel: (path: String?, searched: [String]) {
        if let model { return (model, [model]) }
        let path = defaultModelPath()
        let searched = ([ProcessInfo.processInfo.environment["TIMBRE_MODEL"]].compactMap { $0 } + ["models/default/model.safetensors"])
        return (FileManager.default.fileExists(atPath: path) ? path : nil, searched)
    }

    func loadModel(_ db: Database) throws -> LoadedModel {
        let (path, searched) = defaultModel
        return try ActiveModel.load(models: db.models, defaultPath: path, searched: searched)
    }
}

/// `timbre worker`: runs tagging jobs until stopped (or, with --drain, until the queue is empty).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Tag queued tracks with the active model; run any number, on any machines sharing the database."
    )

    @OptionGroup var tagging: TaggingOptions
    @Flag(help: "Exit once no tagging job is queued or running.") var drain = false
    @Option(help: "Write what this worker did (counts, seconds, time per stage) to this JSON file when it stops.")
    var stats: String?
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let options = try tagging.workerOptions()
        let stopping = StopFlag()
        try database.withDatabase(stopping: stopping) { db in
            let model = try tagging.loadModel(db)
            let worker = try Worker(pool: db.pool, model: model, options: options)
            // SIGTERM (a scale-down, a rollout) ends the run after the current batch, and what is
            // still leased to this worker goes back to the queue without spending an attempt.
            defer { _ = try? db.jobs.release(owner: options.owner) }
            print("worker \(options.owner): model \(model.version.version), \(options.concurrency) decode threads, "
                  + "batches of \(options.batchSize), lease \(options.lease) s")
            let started = Date()
            let done = try worker.run(drain: drain, shouldStop: { stopping.isSet }, progress: { progress in
                let rate = Double(progress.tagged + progress.failed) / max(Date().timeIntervalSince(started), 1e-3)
                FileHandle.standardError.write(Data("tagged \(progress.tagged), failed \(progress.failed) (\(String(format: "%.1f", rate)) tracks/s)\n".utf8))
            })
            let seconds = Date().timeIntervalSince(started)
            print("done: \(done.tagged) tagged, \(done.failed) failed, \(done.skipped) skipped in \(done.batches) batches, "
                  + String(format: "%.1f s", seconds))
            print(timeSplit(done.timings))
            if let stats { try WorkerStats(progress: done, seconds: seconds, concurrency: options.concurrency).write(to: stats) }
        }
    }
}

/// Tags queued tracks in this process, with a progress bar; used by `timbre scan`.
func tagQueuedTracks(_ db: Database, tagging: TaggingOptions) throws {
    let options = try tagging.workerOptions()
    let model: LoadedModel
    do {
        model = try tagging.loadModel(db)
    } catch let error as ActiveModelError {
        let waiting = try db.jobs.openCount(kind: JobKind.tag)
        print("not tagging now: \(error)")
        print("\(waiting) tracks stay queued; `timbre worker` or another `timbre scan` tags them once a model is available")
        return
    }
    let total = try db.jobs.openCount(kind: JobKind.tag)
    guard total > 0 else { return }
    print("tagging \(total) tracks with model \(model.version.version)")
    fflush(nil)  // stdout before the progress bar on stderr, also when stdout is a pipe
    let worker = try Worker(pool: db.pool, model: model, options: options)
    let progress = ProgressReporter(label: "tagging", total: total)
    let started = Date()
    var previous = WorkerProgress()
    let done = try worker.run(drain: true, progress: { now in
        let rate = Double(now.tagged + now.failed) / max(Date().timeIntervalSince(started), 1e-3)
        progress.advance(by: now.tagged + now.failed + now.skipped - previous.tagged - previous.failed - previous.skipped,
                         note: "\(now.tagged) tagged, \(now.failed) failed, \(String(format: "%.1f", rate)) tracks/s")
        previous = now
    })
    progress.finish()
    let seconds = Date().timeIntervalSince(started)
    print("tagged \(done.tagged), failed \(done.failed) in \(String(format: "%.1f", seconds)) s "
          + "(\(String(format: "%.1f", Double(done.tagged + done.failed) / max(seconds, 1e-3))) tracks/s)")
    print(timeSplit(done.timings))
}

/// One line on where a worker's time went.
func timeSplit(_ t: WorkerTimings) -> String {
    func f(_ x: Double) -> String { String(format: "%.1f", x) }
    return "time: decode \(f(t.decode)) s + features \(f(t.features)) s on the decode threads (\(f(t.frontEnd)) s wall), "
        + "model \(f(t.model)) s, database \(f(t.claim + t.store)) s; \(f(t.audio / 60)) min of audio"
}

/// What `timbre worker --stats` writes.
struct WorkerStats: Codable {
    var tagged: Int
    var failed: Int
    var skipped: Int
    var batches: Int
    var seconds: Double
    var concurrency: Int
    var timings: WorkerTimings

    init(progress: WorkerProgress, seconds: Double, concurrency: Int) {
        tagged = progress.tagged; failed = progress.failed; skipped = progress.skipped; batches = progress.batches
        self.seconds = seconds
        self.concurrency = concurrency
        timings = progress.timings
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ValidationError("cannot write the worker's stats to \(path): \(error.localizedDescription)")
        }
    }
}
