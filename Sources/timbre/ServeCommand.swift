import ArgumentParser
import Catalog
import Foundation
import Logging
import Server

/// `timbre serve`: the HTTP API and web UI, with a tagging worker and the library watcher.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API and the web UI (and tag what arrives).",
        discussion: """
            Prints a one-time login link for the web UI. Stop with Ctrl-C or SIGTERM: requests in \
            flight are answered first.
            """
    )

    @Option(help: "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed).") var port = 8000
    @Option(help: "Tagging threads of the built-in worker (0: leave tagging to `timbre worker` processes).")
    var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    @Option(help: "HTTP threads: requests answered at once (similarity queries that arrive together share one pass, so more threads also batch better).")
    var threads = 32
    @Option(name: .customLong("max-upload-mb"), help: "Largest audio upload, in MB.") var maxUploadMB = 200
    @Option(name: .customLong("max-json-kb"), help: "Largest JSON body, in KB.") var maxJSONKB = 1024
    @Option(help: "Seconds between full rescans of every library (0: never).") var rescanInterval: Double = 3600
    @Flag(inversion: .prefixedNo, help: "Scan the libraries at start and watch their folders (inotify), scanning what changes.") var watch = true
    @Option(help: "The web UI's folder (default: web/ beside the executable or above it; $TIMBRE_WEB).") var web: String?
    @Option(help: "The model file a fresh catalog starts with (default: the shipped models/default/model.safetensors).")
    var model: String?
    @Option(help: "Built-in worker: seconds one file's decode may take, plus 1 s per minute of audio; past it the decode is abandoned and its job retried alone (0: no limit).")
    var fileTimeout: Double = 120
    @Option(help: "Built-in worker: seconds before a file that could not be read (missing, no permission, an I/O error, the disk away) is tried again; doubled each time.")
    var retryDelay: Double = 30
    @Option(help: "Live prediction streams (WebSocket, /api/v1/stream) open at once; one more is answered 503.") var maxStreams = 4
    @Option(help: "Seconds a live stream may stay silent before it is closed.") var streamIdleTimeout: Double = 30
    @Option(help: "Seconds one message to a live stream may take to leave; a client that stops reading is dropped after it.")
    var streamSendTimeout: Double = 10
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard maxStreams >= 0, streamIdleTimeout > 0, streamIdleTimeout.isFinite, streamSendTimeout > 0, streamSendTimeout.isFinite else {
            throw ValidationError("--max-streams must be ≥ 0 (0: no streams); --stream-idle-timeout and --stream-send-timeout > 0")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard fileTimeout >= 0, fileTimeout.isFinite, retryDelay >= 0, retryDelay.isFinite else {
            throw ValidationError("--file-timeout must be 0 (no limit) or more, --retry-delay 0 or more")
        }
        guard workers >= 0, threads >= 1, maxUploadMB >= 1, maxJSONKB >= 1, rescanInterval >= 0 else {
            throw ValidationError("--workers must be ≥ 0; --threads, --max-upload-mb and --max-json-kb ≥ 1; --rescan-interval ≥ 0")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = database.verbose ? .info : .notice
            return handler
        }
        let db = try Database.open(url: database.databaseURL, migrate: true, migrationsDirectory: database.migrations,
                                   maximumConnections: min(threads + 4, 24), applicationName: "timbre-serve",
                                   verbose: database.verbose ? true : nil)
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.threads = threads
        configuration.limits.audio = maxUploadMB << 20
        configuration.maxStreams = maxStreams
        configuration.streamIdleTimeout = streamIdleTimeout
        configuration.streamSendTimeout = streamSendTimeout
        configuration.limits.json = maxJSONKB << 10
        configuration.webDirectory = WebDirectory.locate(explicit: web)
        configuration.schemaVersion = (try? Migrator(directory: Migration.locateDirectory(explicit: database.migrations)).migrations.last?.version) ?? 0
        let server = TimbreServer(database: db, configuration: configuration, metrics: ServerMetrics())
        let stopping = StopFlag()

        // The built-in worker registers the shipped model on a fresh catalog and tags the queue.
        var threadsToJoin: [Thread] = []
        if workers > 0 {
            let path = model ?? defaultModelPath()
            var options = WorkerOptions()
            options.concurrency = workers
            options.fileTimeout = fileTimeout
            options.retryDelay = retryDelay
            options.owner += ":serve"
            let loaded = try ActiveModel.load(models: db.models, defaultPath: FileManager.default.fileExists(atPath: path) ? path : nil,
                                              searched: [path])
            nonisolated(unsafe) let worker = try Worker(pool: db.pool, model: loaded, options: options)
            let queue = db.jobs, owner = options.owner
            threadsToJoin.append(StopFlag.start(name: "tagging") {
                do { try worker.run(drain: false, shouldStop: { stopping.isSet }) } catch {
                    Logger(label: "timbre.worker").error("the built-in worker stopped: \(error)")
                }
                // Anything still leased to this worker goes back to the queue, no attempt spent.
                _ = try? queue.release(owner: owner)
            })
        }
        try server.refreshIndex()
        let daemon = MicroHTTPDaemon(handler: server)
        try daemon.start(host: host, port: port, threads: threads, connectionTimeout: configuration.connectionTimeout)

        // New music is found by inotify (debounced), with the periodic rescan as the safety net;
        // what changed while the server was down is found by a scan at start.
        let watching = watch ? server.startWatching() : nil
        if watch { server.rescanAll() }
        if let watching { threadsToJoin.append(StopFlag.start(name: "watcher", watching.0)) }

        let refresh = configuration.indexRefreshInterval
        threadsToJoin.append(StopFlag.start(name: "index") {
            var lastRescan = Date()
            while !stopping.wait(seconds: refresh) {
                do { try server.refreshIndex() } catch { Logger(label: "timbre.server").warning("index refresh failed: \(error)") }
                watching?.2()
                if rescanInterval > 0, Date().timeIntervalSince(lastRescan) >= rescanInterval {
                    lastRescan = Date()
                    server.rescanAll()
                }
            }
        })

        let (admin, token) = try server.loginToken()
        let shownHost = host == "0.0.0.0" ? ProcessInfo.processInfo.hostName : (host.contains(":") ? "[\(host)]" : host)
        print("Timbre is serving on http://\(shownHost):\(daemon.port)/ (model: \((try? db.models.active()?.version) ?? nil ?? "none yet"), "
              + "web UI: \(configuration.webDirectory?.path ?? "not found"))")
        print("open this link to sign in as \(admin.name) (it works once):")
        print("    http://\(shownHost):\(daemon.port)/#token=\(token)")
        print("API: curl -H 'Authorization: Bearer KEY' http://\(shownHost):\(daemon.port)/api/v1/tracks   (keys: `timbre user key NAME`)")
        fflush(nil)

        // Wait for SIGINT or SIGTERM, then stop in order: no new connections, answer the
        // requests in flight, let the worker finish its batch, close the catalog.
        let signals = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopping.set() }
            source.resume()
            return source
        }
        stopping.waitForever()
        FileHandle.standardError.write(Data("timbre serve: stopping (answering requests in flight)\n".utf8))
        server.stopStreams(grace: 3)
        daemon.stop(grace: configuration.shutdownGrace)
        watching?.1()
        for thread in threadsToJoin { StopFlag.join(thread) }
        signals.forEach { $0.cancel() }
        db.close()
        FileHandle.standardError.write(Data("timbre serve: stopped\n".utf8))
    }
}
