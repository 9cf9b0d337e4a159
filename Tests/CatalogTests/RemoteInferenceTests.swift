import AudioIO
@testable import Catalog
import Features
import Foundation
import Logging
import Tagger
import XCTest

/// Remote inference: the client's retries, back-off and circuit breaker against a fake
/// transport (no real waiting), the socket transport's timeouts, and then the real thing — a
/// second `timbre serve` on a free port that `timbre predict --server` and `timbre worker
/// --remote-url` tag through, stopped and started again to see them fail over.
final class RemoteInferenceTests: XCTestCase {
    private var scratch: URL!
    private var modelPath: String!
    static let labels = ["ambient", "jazz", "rock"]

    override func setUpWithError() throws {
        scratch = try makeTemporaryDirectory("timbre-remote")
        modelPath = scratch.appendingPathComponent("model.safetensors").path
        let network = makeNetwork(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: 23)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 32),
                                chunkFrames: 32)
        try ModelBundle(network: network, labels: Self.labels, frontEnd: frontEnd,
                        normalization: InputNormalization(mean: -40, std: 20)).write(to: modelPath)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: The client, with a fake transport

    /// Answers from a script (or a closure), counting calls.
    final class FakeTransport: HTTPTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var script: [Result<HTTPResponse, TransportError>]
        private(set) var calls = 0
        /// Used once the script is used up.
        var fallback: Result<HTTPResponse, TransportError> = .failure(.connect("Connection refused"))

        init(_ script: [Result<HTTPResponse, TransportError>] = []) { self.script = script }

        func enqueue(_ result: Result<HTTPResponse, TransportError>) { lock.withLock { script.append(result) } }

        func send(_ request: HTTPRequest, to server: ServerAddress, timeouts: HTTPTimeouts) throws(TransportError) -> HTTPResponse {
            let next: Result<HTTPResponse, TransportError> = lock.withLock {
                calls += 1
                return script.isEmpty ? fallback : script.removeFirst()
            }
            return try next.get()
        }

        var callCount: Int { lock.withLock { calls } }
    }

    /// A clock tests move by hand, and the waits the client asked for (never slept).
    final class FakeTime: @unchecked Sendable {
        private let lock = NSLock()
        private var time = 1000.0
        private var waits: [TimeInterval] = []
        var now: Double { lock.withLock { time } }
        func advance(_ seconds: Double) { lock.withLock { time += seconds } }
        func sleep(_ seconds: TimeInterval) { lock.withLock { waits.append(seconds) } }
        var slept: [TimeInterval] { lock.withLock { waits } }
    }

    static func answer(version: String = "v1", embedding: Bool = true) -> HTTPResponse {
        let vector = embedding ? #", "embedding": [0.6, 0.8]"# : ""
        let body = #"{"type": "multi-label", "predicted_genres": [], "top_5": [], "all_probabilities": {"ambient": 0.25, "jazz": 0.5, "rock": 0.75}, "model_version": ""#
            + version + "\"" + vector + "}"
        return HTTPResponse(status: 200, headers: ["content-type": "application/json"], body: Array(body.utf8))
    }

    static func failure(_ status: Int, code: String, headers: [String: String] = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: Array(#"{"error": {"code": "\#(code)", "message": "test says \#(status)"}}"#.utf8))
    }

    private func client(_ transport: FakeTransport, time: FakeTime, retries: Int = 0, threshold: Int = 3,
                        coolDown: TimeInterval = 10) throws -> RemoteInferenceClient {
        var settings = RemoteInferenceSettings(server: "http://remote.example:8000", apiKey: "tmb_test")
        settings.retries = retries
        settings.failureThreshold = threshold
        settings.coolDown = coolDown
        let breaker = CircuitBreaker(threshold: threshold, coolDown: coolDown, now: { time.now })
        return try RemoteInferenceClient(settings: settings, transport: transport, breaker: breaker,
                                         sleep: { time.sleep($0) }, random: { 0.5 })
    }

    func testCircuitOpensAfterNFailuresFailsFastAndLetsOneProbeThroughAfterTheCoolDown() throws {
        let transport = FakeTransport()
        let time = FakeTime()
        let client = try client(transport, time: time, threshold: 3, coolDown: 10)
        let audio = RequestBody.bytes([1, 2, 3])
        for attempt in 1...3 {
            XCTAssertThrowsError(try client.predict(audio: audio)) { error in
                guard case RemoteInferenceError.unavailable(_, 1, let reason)? = error as? RemoteInferenceError else {
                    return XCTFail("attempt \(attempt): \(error)")
                }
                XCTAssertTrue(reason.contains("refused"), reason)
            }
        }
        XCTAssertEqual(transport.callCount, 3)
        guard case .open = client.breaker.state else { return XCTFail("open after 3 failures: \(client.breaker.state)") }

        // Open: nothing is sent, and the message says for how long.
        for _ in 0..<5 {
            XCTAssertThrowsError(try client.predict(audio: audio)) { error in
                guard case let RemoteInferenceError.circuitOpen(server, retryIn, _)? = error as? RemoteInferenceError else {
                    return XCTFail("\(error)")
                }
                XCTAssertEqual(server, "http://remote.example:8000")
                XCTAssertEqual(retryIn, 10, accuracy: 1e-9)
                XCTAssertTrue("\(error)".contains("not sending to http://remote.example:8000 for another 10 s"), "\(error)")
            }
        }
        XCTAssertEqual(transport.callCount, 3, "an open circuit sends nothing")

        // After the cool-down one probe goes; it fails, so the circuit opens again at once.
        time.advance(10)
        XCTAssertThrowsError(try client.predict(audio: audio))
        XCTAssertEqual(transport.callCount, 4, "one probe")
        XCTAssertThrowsError(try client.predict(audio: audio)) { error in
            guard case RemoteInferenceError.circuitOpen? = error as? RemoteInferenceError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(transport.callCount, 4)

        // A probe that succeeds closes it: calls go through again.
        time.advance(10)
        transport.enqueue(.success(Self.answer()))
        transport.enqueue(.success(Self.answer()))
        let answer = try client.predict(audio: audio, embedding: true)
        XCTAssertEqual(answer.modelVersion, "v1")
        XCTAssertEqual(answer.probabilities, ["ambient": 0.25, "jazz": 0.5, "rock": 0.75])
        XCTAssertEqual(answer.embedding, [0.6, 0.8])
        XCTAssertEqual(client.breaker.state, .closed)
        XCTAssertEqual(try client.predict(audio: audio).modelVersion, "v1")
        XCTAssertEqual(transport.callCount, 6)
        XCTAssertEqual(time.slept, [], "retries 0: no waiting at all")
    }

    func testWhileAProbeIsInFlightOtherCallersFailFast() {
        let time = FakeTime()
        let breaker = CircuitBreaker(threshold: 2, coolDown: 5, now: { time.now })
        XCTAssertEqual(breaker.permit(), .allowed)
        breaker.recordFailure("one")
        XCTAssertEqual(breaker.state, .closed)
        breaker.recordSuccess()
        breaker.recordFailure("one")
        XCTAssertEqual(breaker.state, .closed, "a success in between resets the count")
        breaker.recordFailure("two")
        XCTAssertEqual(breaker.state, .open(until: time.now + 5))
        XCTAssertEqual(breaker.permit(), .rejected(retryIn: 5))
        time.advance(5)
        XCTAssertEqual(breaker.permit(), .probe)
        XCTAssertEqual(breaker.state, .halfOpen)
        guard case .rejected = breaker.permit() else { return XCTFail("a second caller during the probe is refused") }
        breaker.recordSuccess()
        XCTAssertEqual(breaker.permit(), .allowed)
        XCTAssertEqual(breaker.consecutiveFailures, 0)
    }

    func testRetriesBackOffWithJitterOnServerErrorsHonourRetryAfterAndNeverRetryOther4xx() throws {
        let time = FakeTime()
        // 503 then 500 then an answer: two retries, waits 0.5·(0.5+0.5·0.5) and twice that.
        let flaky = FakeTransport([.success(Self.failure(503, code: "unavailable")), .success(Self.failure(500, code: "internal")),
                                   .success(Self.answer())])
        XCTAssertEqual(try client(flaky, time: time, retries: 2, threshold: 5).predict(audio: .bytes([1])).modelVersion, "v1")
        XCTAssertEqual(flaky.callCount, 3)
        XCTAssertEqual(time.slept, [0.375, 0.75])

        // The jitter stays within [½, 1) of the exponential step, capped at maximumBackoff.
        var settings = RemoteInferenceSettings(server: "http://h:1")
        settings.backoff = 1
        settings.maximumBackoff = 4
        for random in [0.0, 0.999] {
            let jittered = try RemoteInferenceClient(settings: settings, transport: FakeTransport(), random: { random })
            let delays = (1...5).map { jittered.delay(beforeRetry: $0) }
            for (retry, delay) in delays.enumerated() {
                let step = min(4, pow(2, Double(retry)))
                XCTAssertGreaterThanOrEqual(delay, step / 2)
                XCTAssertLessThan(delay, step)
            }
        }

        // 429 with Retry-After: waits at least that long.
        let busy = FakeTransport([.success(Self.failure(429, code: "too_many", headers: ["retry-after": "3"])), .success(Self.answer())])
        let patient = FakeTime()
        XCTAssertEqual(try client(busy, time: patient, retries: 1).predict(audio: .bytes([1])).modelVersion, "v1")
        XCTAssertEqual(patient.slept, [3])
        // … unless it asks for longer than maximumRetryAfter: then the call fails and says so.
        let tooBusy = FakeTransport([.success(Self.failure(503, code: "unavailable", headers: ["retry-after": "600"]))])
        let impatient = FakeTime()
        XCTAssertThrowsError(try client(tooBusy, time: impatient, retries: 3).predict(audio: .bytes([1]))) { error in
            XCTAssertTrue("\(error)".contains("retry after 600 s"), "\(error)")
        }
        XCTAssertEqual(impatient.slept, [])
        XCTAssertEqual(tooBusy.callCount, 1)

        // Other 4xx: one call, no wait; 401 is about the key, 422 about the audio.
        for (status, code) in [(401, "unauthorized"), (404, "not_found"), (409, "conflict"), (422, "unprocessable"), (413, "payload_too_large")] {
            let refusing = FakeTransport([.success(Self.failure(status, code: code))])
            let clock = FakeTime()
            let remote = try client(refusing, time: clock, retries: 3)
            XCTAssertThrowsError(try remote.predict(audio: .bytes([1]))) { error in
                guard let error = error as? RemoteInferenceError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.isAboutTheAudio, [413, 422].contains(status), "\(status)")
                if status == 401 {
                    guard case .refused = error else { return XCTFail("401 is a refused key: \(error)") }
                    XCTAssertTrue(error.description.contains("--api-key"), error.description)
                }
                XCTAssertTrue(error.description.contains("test says \(status)"), error.description)
            }
            XCTAssertEqual(refusing.callCount, 1, "\(status) is not retried")
            XCTAssertEqual(clock.slept, [])
            XCTAssertEqual(remote.breaker.consecutiveFailures, 0, "a 4xx shows the server is up")
        }

        // A 200 that is not a prediction, and a missing embedding that was asked for.
        let odd = FakeTransport([.success(HTTPResponse(status: 200, body: Array("<html>".utf8))), .success(Self.answer(embedding: false))])
        let remote = try client(odd, time: FakeTime())
        XCTAssertThrowsError(try remote.predict(audio: .bytes([1]))) { XCTAssertTrue("\($0)".contains("not with a Timbre prediction"), "\($0)") }
        XCTAssertThrowsError(try remote.predict(audio: .bytes([1]), embedding: true)) { XCTAssertTrue("\($0)".contains("no embedding"), "\($0)") }
    }

    func testServerAddresses() throws {
        XCTAssertEqual(try ServerAddress("http://127.0.0.1:8000").description, "http://127.0.0.1:8000")
        XCTAssertEqual(try ServerAddress("http://timbre.local/").description, "http://timbre.local:80")
        XCTAssertEqual(try ServerAddress("http://h:9/api/v1/analysis/predict").prefix, "")
        XCTAssertEqual(try ServerAddress("http://h:9/timbre/").prefix, "/timbre")
        XCTAssertEqual(try ServerAddress("http://[::1]:8000").host, "::1")
        XCTAssertEqual(try ServerAddress("http://[::1]:8000").description, "http://[::1]:8000")
        for bad in ["https://h:1", "ftp://h", "h:8000", "http://", "http://user:key@h:1"] {
            XCTAssertThrowsError(try ServerAddress(bad), bad)
        }
        XCTAssertThrowsError(try ServerAddress("https://x")) { XCTAssertTrue("\($0)".contains("plain HTTP"), "\($0)") }
    }

    // MARK: The socket transport

    /// A server that accepts connections (the kernel's backlog) but never answers: the attempt
    /// ends at the total timeout; a closed port is refused at once.
    func testSocketTransportGivesUpAtItsTimeouts() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        XCTAssertTrue(bound)
        XCTAssertEqual(listen(listener, 8), 0)
        let port = UInt16(bigEndian: address.sin_port)
        let transport = SocketHTTPTransport()
        let request = HTTPRequest(method: "POST", target: "/api/v1/analysis/predict", headers: [], body: .bytes(Array(repeating: 7, count: 1000)))
        let started = Date()
        XCTAssertThrowsError(try transport.send(request, to: try ServerAddress("http://127.0.0.1:\(port)"),
                                                timeouts: HTTPTimeouts(connect: 1, total: 1.5))) { error in
            guard case TransportError.timedOut(let reason)? = error as? TransportError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("no whole answer within 1.5 s"), reason)
        }
        let waited = Date().timeIntervalSince(started)
        XCTAssertGreaterThanOrEqual(waited, 1.4)
        XCTAssertLessThan(waited, 5)

        let closed = try freePort()
        let refusedAt = Date()
        XCTAssertThrowsError(try transport.send(request, to: try ServerAddress("http://127.0.0.1:\(closed)"),
                                                timeouts: HTTPTimeouts(connect: 1, total: 5))) { error in
            guard case TransportError.connect(let reason)? = error as? TransportError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.lowercased().contains("refused"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(refusedAt), 1)
    }

    // MARK: Against a second `timbre serve`

    /// `timbre predict --server` gives the tags local prediction gives with the same model and
    /// says it was remote; `$TIMBRE_SERVER_URL` is the fallback when there is no model file; a
    /// wrong key fails at once; a stopped server fails within the timeout, and after a few
    /// failures the circuit stops even trying.
    func testPredictThroughASecondServerGivesTheLocalTagsAndFailsCleanlyWhenItIsDown() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try Self.binary()
        let models = ModelRepository(pool: database.pool)
        let version = try ActiveModel.load(models: models, defaultPath: modelPath).version
        let key = try UserRepository(pool: database.pool).add(name: "remote-user").apiKey
        let files = try writeTones(count: 3, in: scratch.appendingPathComponent("music"))
        let port = try freePort()
        let server = try ServeProcess(binary: binary, database: database, port: port, directory: scratch, home: scratch.path)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(port)"

        let local = try run(binary, ["predict"] + files + ["--model", modelPath, "--json"])
        XCTAssertEqual(local.status, 0, local.output)
        let remote = try run(binary, ["predict"] + files + ["--server", url, "--api-key", key, "--json"])
        XCTAssertEqual(remote.status, 0, remote.output)
        let here = try Self.reports(local.stdout), there = try Self.reports(remote.stdout)
        XCTAssertEqual(there.count, files.count)
        for (a, b) in zip(here, there) {
            XCTAssertEqual(a["file"] as? String, b["file"] as? String)
            XCTAssertEqual(a["type"] as? String, "multi-label")
            XCTAssertEqual(b["type"] as? String, "multi-label")
            for key in ["predicted_genres", "top_5"] {
                let mine = try XCTUnwrap(a[key] as? [[String: Any]]), theirs = try XCTUnwrap(b[key] as? [[String: Any]])
                XCTAssertEqual(mine.map { $0["genre"] as? String }, theirs.map { $0["genre"] as? String }, key)
                for (x, y) in zip(mine, theirs) {
                    XCTAssertEqual(try XCTUnwrap(x["probability"] as? Double), try XCTUnwrap(y["probability"] as? Double), accuracy: 1e-5)
                }
            }
            let mine = try XCTUnwrap(a["all_probabilities"] as? [String: Double]), theirs = try XCTUnwrap(b["all_probabilities"] as? [String: Double])
            XCTAssertEqual(Set(mine.keys), Set(Self.labels))
            XCTAssertEqual(Set(theirs.keys), Set(Self.labels))
            for label in Self.labels { XCTAssertEqual(mine[label]!, theirs[label]!, accuracy: 1e-5, label) }
            let localPath = try XCTUnwrap(a["inference"] as? [String: String])
            XCTAssertEqual(localPath, ["path": "local", "model_file": modelPath])
            let remotePath = try XCTUnwrap(b["inference"] as? [String: String])
            XCTAssertEqual(remotePath, ["path": "remote", "server": url, "model_version": version.version])
        }

        // No model file here, the server in the environment: the fallback, said in the text too.
        let fallback = try run(binary, ["predict", files[0]],
                               environment: ["TIMBRE_MODEL": scratch.appendingPathComponent("absent.safetensors").path,
                                             "TIMBRE_SERVER_URL": url, "TIMBRE_API_KEY": key])
        XCTAssertEqual(fallback.status, 0, fallback.output)
        XCTAssertTrue(fallback.stdout.contains("by: remote \(url) (model \(version.version))"), fallback.stdout)
        let nowhere = try run(binary, ["predict", files[0]], environment: ["TIMBRE_MODEL": scratch.appendingPathComponent("absent.safetensors").path])
        XCTAssertNotEqual(nowhere.status, 0)
        XCTAssertTrue(nowhere.stderr.contains("--server URL"), nowhere.stderr)

        // A wrong key is not retried: it fails at once and says what to do.
        let started = Date()
        let wrongKey = try run(binary, ["predict", files[0], "--server", url, "--api-key", "tmb_wrong", "--json"])
        XCTAssertEqual(wrongKey.status, 1)
        XCTAssertTrue(wrongKey.stderr.contains("refused the API key (401"), wrongKey.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)

        // The server stops: each file fails within its timeout (3 attempts, back-off 0.5 s and
        // 1 s), and once 5 attempts in a row have failed the circuit fails the rest at once.
        XCTAssertEqual(server.stop(), 0)
        let downAt = Date()
        let down = try run(binary, ["predict"] + files + ["--server", url, "--api-key", key, "--timeout", "5", "--connect-timeout", "2", "--json"])
        let took = Date().timeIntervalSince(downAt)
        XCTAssertEqual(down.status, 1)
        XCTAssertLessThan(took, 15, "fails within the timeouts")
        XCTAssertTrue(down.stderr.contains("timbre predict: \(files[0]): the server \(url) gave no answer after 3 attempts"), down.stderr)
        XCTAssertTrue(down.stderr.lowercased().contains("connection refused"), down.stderr)
        XCTAssertTrue(down.stderr.contains("timbre predict: \(files[2]): not sending to \(url) for another"), down.stderr)
        XCTAssertEqual(try Self.reports(down.stdout).count, 0, "no answer is made up")
    }

    /// The multi-host case: the catalog's active model file is only where the server runs. A
    /// worker without it tags a scanned library through the server (the same predictions and
    /// embeddings a local run stores); while the server is down it hands its jobs back without
    /// spending their attempts and fails no track, and once the server is back it tags them.
    func testWorkerWithoutTheModelFileTagsThroughTheServerAndWaitsOutAnOutage() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try Self.binary()
        let library = scratch.appendingPathComponent("music")
        let files = try writeTones(count: 4, in: library)
        let libraryRow = try database.makeLibrary(root: library.path)
        _ = try Crawler(pool: database.pool, metadataReader: FileTagReader.read).scan(library: libraryRow)
        let key = try UserRepository(pool: database.pool).add(name: "remote-worker").apiKey

        // Two "hosts": the server's folder holds the model file under the path the catalog
        // names (relative), the worker's folder does not.
        let serverHost = scratch.appendingPathComponent("server-host"), workerHost = scratch.appendingPathComponent("worker-host")
        try FileManager.default.createDirectory(at: serverHost.appendingPathComponent("models"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: workerHost, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: modelPath, toPath: serverHost.appendingPathComponent("models/tiny.safetensors").path)
        let models = ModelRepository(pool: database.pool)
        let version = try models.register(version: "tiny-remote", filePath: "models/tiny.safetensors", labels: Self.labels)
        try models.promote(id: version.id)
        XCTAssertFalse(FileManager.default.fileExists(atPath: workerHost.appendingPathComponent("models/tiny.safetensors").path))

        let port = try freePort()
        let url = "http://127.0.0.1:\(port)"
        var server = try ServeProcess(binary: binary, database: database, port: port, directory: serverHost, home: scratch.path)
        defer { server.stop() }
        let stats = scratch.appendingPathComponent("stats.json").path
        let common = ["worker", "--database-url", database.processURL, "--migrations", TestDatabase.migrationsDirectory.path,
                      "--remote-url", url, "--remote-key", key, "--batch-size", "2", "--concurrency", "1"]
        let drained = try run(binary, common + ["--drain", "--stats", stats], directory: workerHost)
        XCTAssertEqual(drained.status, 0, drained.output)
        XCTAssertTrue(drained.stdout.contains("inference remote (\(url))"), drained.stdout)
        XCTAssertTrue(drained.stdout.contains("4 tagged through \(url)"), drained.stdout)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stats))) as? [String: Any])
        XCTAssertEqual(report["tagged"] as? Int, 4)
        XCTAssertEqual(report["tagged_remotely"] as? Int, 4)
        XCTAssertEqual(report["handed_back"] as? Int, 0)
        XCTAssertEqual(report["inference"] as? String, "remote")
        XCTAssertEqual(report["inference_source"] as? String, url)
        try assertStored(database, version: version, library: libraryRow, files: files)
        let connection = try database.connection()
        XCTAssertEqual(try connection.query("SELECT count(*) FROM jobs WHERE kind = 'tag' AND (state <> 'done' OR attempts <> 1)").int(0, 0), 0)

        // The server goes away; every track is queued for tagging again.
        XCTAssertEqual(server.stop(), 0)
        let queue = JobQueue(pool: database.pool)
        for track in try TrackRepository(pool: database.pool).tracks(libraryID: libraryRow.id) {
            XCTAssertNotNil(try queue.enqueue(kind: JobKind.tag, trackID: track.id))
        }
        let log = scratch.appendingPathComponent("worker.log").path
        let worker = try spawnLogged(binary, common + ["--remote-retries", "0", "--remote-cool-down", "1", "--remote-connect-timeout", "1"],
                                     directory: workerHost, output: log)
        var reaped = false
        defer { if !reaped { kill(worker, SIGKILL); _ = try? waitForExit(worker) } }
        // Hand-backs are logged; wait for four (more than the jobs' 3 attempts would survive).
        let deadline = Date().addingTimeInterval(20)
        var text = ""
        while Date() < deadline {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "handed back to the queue (no attempt spent)").count > 4 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertGreaterThan(text.components(separatedBy: "handed back to the queue (no attempt spent)").count, 4, text)
        XCTAssertTrue(text.contains("remote inference failed: the server \(url) gave no answer"), text)
        let states = try connection.query("""
            SELECT count(*) FILTER (WHERE state = 'failed'), max(attempts), count(*) FILTER (WHERE state IN ('queued', 'running'))
            FROM jobs WHERE kind = 'tag' AND state <> 'done'
            """)
        XCTAssertEqual(try states.int(0, 0), 0, "no job failed because the server is down")
        XCTAssertLessThanOrEqual(try states.int(0, 1), 1, "attempts are given back")
        XCTAssertEqual(try states.int(0, 2), 4)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM tracks WHERE status = 'failed'").int(0, 0), 0)

        // The server comes back on the same address: the worker's next probe finds it and it tags the queue.
        server = try ServeProcess(binary: binary, database: database, port: port, directory: serverHost, home: scratch.path)
        let back = Date().addingTimeInterval(20)
        while Date() < back, try queue.openCount(kind: JobKind.tag) > 0 { Thread.sleep(forTimeInterval: 0.2) }
        XCTAssertEqual(try queue.openCount(kind: JobKind.tag), 0, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
        kill(worker, SIGTERM)
        XCTAssertEqual(try waitForExit(worker), 0)
        reaped = true
        text = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(text.contains("\(url) answers again"), text)
        let done = try connection.query("SELECT count(*), min(attempts), max(attempts) FROM jobs WHERE kind = 'tag' AND state = 'done'")
        XCTAssertEqual(try done.int(0, 0), 8)
        XCTAssertEqual(try done.int(0, 1), 1)
        XCTAssertEqual(try done.int(0, 2), 1, "each job ran once, however often it was handed back")
        try assertStored(database, version: version, library: libraryRow, files: files)
    }

    /// The worker's checks on a remote answer (fake transport, real catalog): an answer from
    /// another model version is not stored, the batch is handed back with its attempts and a log
    /// line says why, and no batch is claimed during the cool-down; then answers of the active
    /// version are stored as they came, and a file the server calls unusable (422) fails its track.
    func testWorkerStoresOnlyTheActiveModelsAnswersAndFailsOnlyFilesTheServerRefuses() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let files = try writeTones(count: 3, in: scratch.appendingPathComponent("music"))
        let library = try database.makeLibrary(root: scratch.appendingPathComponent("music").path)
        _ = try Crawler(pool: database.pool, metadataReader: FileTagReader.read).scan(library: library)
        let models = ModelRepository(pool: database.pool)
        let version = try models.register(version: "remote-only", filePath: "/nowhere/remote-only.safetensors", labels: Self.labels)
        try models.promote(id: version.id)

        let transport = FakeTransport()
        let client = try client(transport, time: FakeTime(), retries: 0, threshold: 5, coolDown: 0.3)
        var options = WorkerOptions()
        options.batchSize = 3
        options.remoteConcurrency = 1
        options.pollInterval = 0.05
        let lines = Locked<[String]>([])
        let logger = Logger(label: "test.worker") { _ in CapturingLogHandler(lines: lines) }
        let worker = try Worker(pool: database.pool, activeModel: version, options: options, logger: logger, remote: client)
        XCTAssertEqual(worker.model.path, .remote(server: "http://remote.example:8000"))
        XCTAssertTrue(lines.value.contains { $0.contains("cannot be loaded here; tagging through http://remote.example:8000") }, "\(lines.value)")

        // Another model version answers: nothing stored, the batch handed back untouched.
        transport.fallback = .success(Self.answer(version: "someone-else"))
        var done = try worker.runBatch()
        XCTAssertEqual(done.batches, 1)
        XCTAssertEqual(done.tagged, 0)
        XCTAssertEqual(done.handedBack, 3)
        XCTAssertEqual(transport.callCount, 1, "the first answer stops the batch")
        let connection = try database.connection()
        XCTAssertEqual(try connection.query("SELECT count(*) FROM predictions").int(0, 0), 0)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM jobs WHERE state = 'queued' AND attempts = 0").int(0, 0), 3)
        XCTAssertTrue(lines.value.contains {
            $0.hasPrefix("warning") && $0.contains("tags with model someone-else, but the catalog's active model is remote-only")
                && $0.contains("3 jobs handed back to the queue (no attempt spent)")
        }, "\(lines.value)")
        XCTAssertEqual(try worker.runBatch().batches, 0, "nothing is claimed during the cool-down")
        XCTAssertEqual(transport.callCount, 1)
        Thread.sleep(forTimeInterval: 0.35)

        // The active version answers; the second file is refused as not audio.
        transport.enqueue(.success(Self.answer(version: "remote-only")))
        transport.enqueue(.success(Self.failure(422, code: "unprocessable")))
        transport.fallback = .success(Self.answer(version: "remote-only"))
        done = try worker.runBatch()
        XCTAssertEqual([done.tagged, done.taggedRemotely, done.failed, done.handedBack], [2, 2, 1, 0])
        let tracks = TrackRepository(pool: database.pool), store = PredictionStore(pool: database.pool)
        for (index, path) in files.enumerated() {
            let track = try XCTUnwrap(try tracks.track(absolutePath: path))
            if index == 1 {
                XCTAssertEqual(track.status, .failed)
                XCTAssertTrue(track.lastError?.contains("answered 422 unprocessable: test says 422") ?? false, track.lastError ?? "")
                continue
            }
            XCTAssertEqual(track.status, .tagged)
            XCTAssertEqual(try store.probabilities(trackID: track.id, modelID: version.id), ["ambient": 0.25, "jazz": 0.5, "rock": 0.75])
            XCTAssertEqual(try store.embedding(trackID: track.id, modelID: version.id), [0.6, 0.8])
        }
        let states = try connection.query("SELECT state, attempts, count(*) FROM jobs GROUP BY state, attempts ORDER BY state")
        XCTAssertEqual(states.rowCount, 2)
        XCTAssertEqual([try states.string(0, 0), "\(try states.int(0, 1))", "\(try states.int(0, 2))"], ["done", "1", "2"])
        XCTAssertEqual([try states.string(1, 0), "\(try states.int(1, 1))", "\(try states.int(1, 2))"], ["failed", "1", "1"])
        XCTAssertFalse(try worker.runRetraining(), "a remote worker leaves retraining to workers with the model files")
    }

    /// Every file's stored probabilities and embedding are what the local Predictor computes.
    private func assertStored(_ database: TestDatabase, version: ModelVersion, library: Library, files: [String],
                              file: StaticString = #filePath, line: UInt = #line) throws {
        let predictor = try Predictor(bundle: try ModelBundle.read(from: modelPath))
        let tracks = TrackRepository(pool: database.pool)
        let store = PredictionStore(pool: database.pool)
        for path in files {
            let track = try XCTUnwrap(try tracks.track(absolutePath: path), path, file: file, line: line)
            XCTAssertEqual(track.status, .tagged, path, file: file, line: line)
            let expected = try predictor.predict(file: path)
            let stored = try store.probabilities(trackID: track.id, modelID: version.id)
            XCTAssertEqual(Set(stored.keys), Set(Self.labels), file: file, line: line)
            for (label, probability) in zip(Self.labels, expected.probabilities) {
                XCTAssertEqual(try XCTUnwrap(stored[label]), probability, accuracy: 1e-4, "\(path) \(label)", file: file, line: line)
            }
            let embedding = try XCTUnwrap(try store.embedding(trackID: track.id, modelID: version.id), file: file, line: line)
            XCTAssertEqual(embedding.count, 8, file: file, line: line)
            for (a, b) in zip(embedding, expected.embedding) { XCTAssertEqual(a, b, accuracy: 1e-4, file: file, line: line) }
        }
        _ = library
    }

    // MARK: Helpers

    /// The `timbre` executable built beside this test bundle; the test fails without it.
    static func binary() throws -> String {
        let bundle = Bundle.main.bundleURL
        let candidates = [bundle.appendingPathComponent("timbre"), bundle.deletingLastPathComponent().appendingPathComponent("timbre")]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent("timbre") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            XCTFail("the timbre executable is not next to the test bundle (\(bundle.path)): build with --build-tests")
            throw CocoaError(.fileNoSuchFile)
        }
        return found.path
    }

    /// Short distinct tones at 16 kHz (WAV, every third FLAC).
    private func writeTones(count: Int, in folder: URL) throws -> [String] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try (0..<count).map { index in
            let rate = 16000
            let frequency = 130 * Float(index + 1)
            var state: UInt32 = UInt32(index + 7) &* 2_654_435_761
            let samples = (0..<Int(1.5 * Double(rate))).map { i -> Float in
                state = state &* 1_664_525 &+ 1_013_904_223
                let noise = Float(state >> 8) / Float(1 << 24) - 0.5
                return 0.4 * sin(2 * .pi * frequency * Float(i) / Float(rate)) + 0.1 * noise
            }
            let path = folder.appendingPathComponent(String(format: "tone%02d.%@", index, index % 3 == 2 ? "flac" : "wav")).path
            try AudioWriter.write(samples, sampleRate: rate, to: path)
            return path
        }
    }

    static func reports(_ json: String) throws -> [[String: Any]] {
        let trimmed = json.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return [] }
        let value = try JSONSerialization.jsonObject(with: Data(trimmed.utf8))
        if let array = value as? [[String: Any]] { return array }
        return [try XCTUnwrap(value as? [String: Any])]
    }

    struct Finished {
        let status: Int32
        let stdout: String
        let stderr: String
        var output: String { "stdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    /// Runs the binary to its end (at most 60 s), in `directory`, with `environment` added and
    /// the remote-inference variables of this process removed.
    private func run(_ binary: String, _ arguments: [String], environment: [String: String] = [:],
                     directory: URL? = nil) throws -> Finished {
        let id = UUID().uuidString.prefix(8)
        let out = scratch.appendingPathComponent("out-\(id).txt").path, err = scratch.appendingPathComponent("err-\(id).txt").path
        let pid = try spawnProcess(binary, arguments, environment: environment, directory: directory ?? scratch, stdout: out, stderr: err)
        let deadline = Date().addingTimeInterval(60)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard Date() < deadline else {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                XCTFail("\(arguments.first ?? "") ran for more than 60 s")
                break
            }
            usleep(20_000)
        }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Finished(status: code, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                        stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    private func spawnLogged(_ binary: String, _ arguments: [String], directory: URL, output: String) throws -> pid_t {
        try spawnProcess(binary, arguments, environment: [:], directory: directory, stdout: output, stderr: output)
    }
}

/// A `timbre serve` on `port` with its working directory `directory` (where relative model paths
/// resolve), no built-in worker and no library watching, up once it answers `/healthz`.
final class ServeProcess {
    let pid: pid_t
    let log: String
    private var stopped = false

    init(binary: String, database: TestDatabase, port: UInt16, directory: URL, home: String) throws {
        log = directory.appendingPathComponent("serve-\(UUID().uuidString.prefix(6)).log").path
        pid = try spawnProcess(binary, ["serve", "--port", String(port), "--workers", "0", "--no-watch", "--rescan-interval", "0",
                                        "--database-url", database.processURL, "--migrations", TestDatabase.migrationsDirectory.path],
                               environment: ["TIMBRE_HOME": home], directory: directory, stdout: log, stderr: log)
        let address = try ServerAddress("http://127.0.0.1:\(port)")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let request = HTTPRequest(method: "GET", target: "/healthz", headers: [], body: .bytes([]))
            if let answer = try? SocketHTTPTransport().send(request, to: address, timeouts: HTTPTimeouts(connect: 1, total: 2)),
               answer.status == 200 { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                stopped = true
                XCTFail("timbre serve exited early: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                throw CocoaError(.executableLoad)
            }
            usleep(100_000)
        }
        kill(pid, SIGKILL)
        _ = try? waitForExit(pid)
        stopped = true
        XCTFail("timbre serve did not answer on port \(port) within 30 s: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        throw CocoaError(.executableLoad)
    }

    /// SIGTERM and the exit status (once; later calls return 0).
    @discardableResult
    func stop() -> Int32 {
        guard !stopped else { return 0 }
        stopped = true
        kill(pid, SIGTERM)
        return (try? waitForExit(pid)) ?? -1
    }
}

/// Keeps every log line as "level message".
struct CapturingLogHandler: LogHandler {
    let lines: Locked<[String]>
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lines.mutate { $0.append("\(event.level) \(event.message)") }
    }
}

extension TestDatabase {
    /// The libpq URL a spawned process uses for this test database.
    var processURL: String { url.replacingOccurrences(of: "///postgres?", with: "///\(name)?") }
}

/// A loopback port nothing listens on now (bound, read and closed).
func freePort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else {
        XCTFail("cannot bind a loopback port: errno \(errno)")
        throw CocoaError(.fileWriteUnknown)
    }
    return UInt16(bigEndian: address.sin_port)
}

/// posix_spawn of `binary` through `env -C directory` (so the child starts there; `env` execs it,
/// keeping the pid), with this process's environment less the Timbre server variables, plus
/// `environment`. Fails the test (never skips) when it cannot start.
func spawnProcess(_ binary: String, _ arguments: [String], environment: [String: String], directory: URL,
                  stdout: String, stderr: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    if stderr == stdout {
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    } else {
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    }
    var merged = ProcessInfo.processInfo.environment
    for name in ["TIMBRE_SERVER_URL", "TIMBRE_API_KEY", "TIMBRE_INFERENCE", "TIMBRE_INFERENCE_REMOTE_URL",
                 "TIMBRE_INFERENCE_REMOTE_KEY", "TIMBRE_MODEL", "TIMBRE_DATABASE_URL"] { merged[name] = nil }
    merged.merge(environment) { _, new in new }
    let arguments = ["/usr/bin/env", "-C", directory.path, binary] + arguments
    var argv = arguments.map { strdup($0) } + [nil]
    var envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, arguments[0], &actions, nil, &argv, &envp)
    guard status == 0 else {
        XCTFail("cannot start \(binary): error \(status)")
        throw CocoaError(.executableLoad)
    }
    return pid
}
