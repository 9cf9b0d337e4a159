import ArgumentParser
import Catalog
import CommandLineProgress
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

    @Option(help: "Seconds one file's decode may take, plus 1 s per minute of audio; a decode past it is abandoned and its job retried later on its own (0: no limit).")
    var fileTimeout: Double = 120

    @Option(help: "Seconds before a file that could not be read (missing, no permission, an I/O error, the disk away) is tried again; doubled on each later attempt.")
    var retryDelay: Double = 30

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
        guard fileTimeout >= 0, fileTimeout.isFinite else { throw ValidationError("--file-timeout must be 0 (no limit) or more") }
        options.fileTimeout = fileTimeout
        guard retryDelay >= 0, retryDelay.isFinite else { throw ValidationError("--retry-delay must be 0 or more") }
        options.retryDelay = retryDelay
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

/// Remote inference for `timbre worker`: another Timbre server tags the files when the active
/// model's file is not on this machine (or always, with `--inference remote`).
struct RemoteInferenceOptions: ParsableArguments {
    @Option(name: .customLong("remote-url"),
            help: "A Timbre server (http://host:port) whose POST /api/v1/analysis/predict tags for this worker when the active model's file is not here (default: $TIMBRE_INFERENCE_REMOTE_URL).")
    var remoteURL: String?

    @Option(name: .customLong("remote-key"), help: "An API key of a user on that server (default: $TIMBRE_INFERENCE_REMOTE_KEY).")
    var remoteKey: String?

    @Option(help: "Where the network runs: auto (this machine when the active model's file is here, else --remote-url), local or remote (default: $TIMBRE_INFERENCE, else auto).")
    var inference: String?

    @Option(name: .customLong("remote-timeout"), help: "Seconds one request to the server may take, from connecting to the last byte of the answer.")
    var remoteTimeout: Double = 60

    @Option(name: .customLong("remote-connect-timeout"), help: "Seconds to connect to the server.")
    var remoteConnectTimeout: Double = 5

    @Option(name: .customLong("remote-retries"), help: "Retries of a request after a connection error, a timeout, a 5xx or a 429 (exponential back-off with jitter).")
    var remoteRetries = 2

    @Option(name: .customLong("remote-cool-down"), help: "Seconds without sending after 5 failed attempts in a row (the circuit breaker) or a batch handed back, before one probe.")
    var remoteCoolDown: Double = 30

    @Option(name: .customLong("remote-concurrency"), help: "Files in flight to the server at once.")
    var remoteConcurrency = 2

    /// Fills `options.remote` and `options.inference` from the flags and the environment.
    func apply(to options: inout WorkerOptions) throws {
        let environment = ProcessInfo.processInfo.environment
        func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        let modeText = nonEmpty(inference) ?? nonEmpty(environment["TIMBRE_INFERENCE"]) ?? "auto"
        guard let mode = InferenceMode(rawValue: modeText.lowercased()) else {
            throw ValidationError("--inference must be auto, local or remote, not \(modeText)")
        }
        options.inference = mode
        guard remoteTimeout > 0, remoteConnectTimeout > 0, remoteRetries >= 0, remoteCoolDown >= 0, remoteConcurrency >= 1 else {
            throw ValidationError("--remote-timeout and --remote-connect-timeout must be > 0, --remote-retries and --remote-cool-down ≥ 0, --remote-concurrency ≥ 1")
        }
        options.remoteConcurrency = remoteConcurrency
        guard let url = nonEmpty(remoteURL) ?? nonEmpty(environment["TIMBRE_INFERENCE_REMOTE_URL"]) else {
            if mode == .remote { throw ValidationError("--inference remote needs --remote-url (or $TIMBRE_INFERENCE_REMOTE_URL)") }
            return
        }
        guard mode != .local else { return }
        var settings = RemoteInferenceSettings(server: url, apiKey: nonEmpty(remoteKey) ?? nonEmpty(environment["TIMBRE_INFERENCE_REMOTE_KEY"]))
        settings.timeout = remoteTimeout
        settings.connectTimeout = remoteConnectTimeout
        settings.retries = remoteRetries
        settings.coolDown = remoteCoolDown
        do { _ = try ServerAddress(url) } catch { throw ValidationError("\(error)") }
        options.remote = settings
    }
}

/// `timbre worker`: runs tagging jobs until stopped (or, with --drain, until the queue is empty).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Tag queued tracks with the active model; run any number, on any machines sharing the database.",
        discussion: """
            Where the active model's file is not on this machine, --remote-url sends each file to \
            another Timbre server's POST /api/v1/analysis/predict instead; while that server cannot \
            be used, jobs are handed back to the queue without spending an attempt.

            A file that cannot be read right now (missing, no permission, an I/O error, the \
            library's disk away) is retried after --retry-delay seconds, doubling, until its \
            attempts are used up; a readable file that does not decode fails at once. A decode \
            that runs past --file-timeout is abandoned and its job retried alone, as is every job \
            of a batch whose worker died.
            """
    )

    @OptionGroup var tagging: TaggingOptions
    @OptionGroup var remote: RemoteInferenceOptions
    @Flag(help: "Exit once no tagging job is queued or running.") var drain = false
    @Option(help: "Write what this worker did (counts, seconds, time per stage) to this JSON file when it stops.")
    var stats: String?
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        var options = try tagging.workerOptions()
        try remote.apply(to: &options)
        let stopping = StopFlag()
        try database.withDatabase(stopping: stopping) { db in
            guard let worker = try makeWorker(db, options: options, stopping: stopping) else { return }
            // SIGTERM (a scale-down, a rollout) ends the run after the current batch, and what is
            // still leased to this worker goes back to the queue without spending an attempt.
            defer { _ = try? db.jobs.release(owner: options.owner) }
            print("worker \(options.owner): model \(worker.model.version.version), inference \(worker.model.path), "
                  + "\(options.concurrency) decode threads, batches of \(options.batchSize), lease \(options.lease) s")
            if case .remote = worker.model.path, options.runsRetraining {
                print("retraining jobs are left to workers that have the model files")
            }
            fflush(nil)
            let started = Date()
            let done = try worker.run(drain: drain, shouldStop: { stopping.isSet }, progress: { progress in
                let rate = Double(progress.tagged + progress.failed) / max(Date().timeIntervalSince(started), 1e-3)
                var line = "tagged \(progress.tagged), failed \(progress.failed) (\(String(format: "%.1f", rate)) tracks/s)"
                if progress.retrying > 0 { line += "; \(progress.retrying) to retry later" }
                if progress.taggedRemotely > 0 || progress.handedBack > 0 {
                    line += "; \(progress.taggedRemotely) tagged remotely, \(progress.handedBack) handed back"
                }
                FileHandle.standardError.write(Data((line + "\n").utf8))
            })
            let seconds = Date().timeIntervalSince(started)
            var summary = "done: \(done.tagged) tagged, \(done.failed) failed, \(done.skipped) skipped in \(done.batches) batches, "
                + String(format: "%.1f s", seconds)
            if done.retrying > 0 || done.timedOut > 0 {
                summary += "; \(done.retrying) jobs queued to retry later (file unreadable now or --file-timeout, \(done.timedOut) timed out)"
            }
            if done.taggedRemotely > 0 || done.handedBack > 0 || worker.remote != nil {
                summary += "; \(done.taggedRemotely) tagged through \(worker.remote?.server.description ?? "the remote server"), "
                    + "\(done.handedBack) jobs handed back while it could not be used"
            }
            print(summary)
            print(timeSplit(done.timings))
            if let stats {
                try WorkerStats(progress: done, seconds: seconds, concurrency: options.concurrency, inference: worker.model.path).write(to: stats)
            }
        }
    }

    /// The worker for the catalog's active model (registering the default model file on a fresh
    /// catalog). With a remote server and no model anywhere yet, waits for one to be activated
    /// (the server registers its default on its first tagging); nil when stopped meanwhile.
    private func makeWorker(_ db: Database, options: WorkerOptions, stopping: StopFlag) throws -> Worker? {
        var said = false
        while true {
            if let active = try db.models.active() { return try Worker(pool: db.pool, activeModel: active, options: options) }
            let (path, _) = tagging.defaultModel
            if path != nil || options.remote == nil {
                return try Worker(pool: db.pool, model: try tagging.loadModel(db), options: options)
            }
            if !said {
                print("the catalog has no active model yet and there is no model file here; waiting for one to be activated "
                      + "(the server at \(options.remote!.server) registers its model when it first tags)")
                fflush(nil)
                said = true
            }
            if stopping.wait(seconds: 2) { return nil }
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
    if done.retrying > 0 {
        print("\(done.retrying) files could not be read now (or took longer than --file-timeout): their jobs stay queued "
              + "for a later attempt by `timbre worker`, `timbre serve` or the next scan")
    }
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
    /// "local" or "remote": where the network ran (the last model's path).
    var inference: String
    /// The model file (local) or the server (remote).
    var inferenceSource: String
    var taggedRemotely: Int
    var handedBack: Int
    /// Jobs handed back to be tried later, and of them the files that outlived --file-timeout.
    var retrying: Int
    var timedOut: Int

    enum CodingKeys: String, CodingKey {
        case tagged, failed, skipped, batches, seconds, concurrency, timings, inference, retrying
        case inferenceSource = "inference_source", taggedRemotely = "tagged_remotely", handedBack = "handed_back"
        case timedOut = "timed_out"
    }

    init(progress: WorkerProgress, seconds: Double, concurrency: Int, inference: InferencePath? = nil) {
        tagged = progress.tagged; failed = progress.failed; skipped = progress.skipped; batches = progress.batches
        self.seconds = seconds
        self.concurrency = concurrency
        timings = progress.timings
        switch inference {
        case let .remote(server): self.inference = "remote"; inferenceSource = server
        case let .local(file): self.inference = "local"; inferenceSource = file
        case nil: self.inference = "local"; inferenceSource = ""
        }
        taggedRemotely = progress.taggedRemotely
        handedBack = progress.handedBack
        retrying = progress.retrying
        timedOut = progress.timedOut
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
