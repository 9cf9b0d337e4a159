import AudioIO
import Catalog
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// A real `timbre serve` process on a fresh test database (on the server `scripts/test-postgres`
/// started), on a free loopback port, with its stdout in a file.
final class ServerProcess {
    let pid: pid_t
    let baseURL: String
    let loginToken: String
    let output: String

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The `timbre` executable built beside this test bundle; a test fails (not skips) without it.
    static func binary() throws -> String {
        let bundle = Bundle.main.bundleURL
        let candidates = [bundle.appendingPathComponent("timbre"), bundle.deletingLastPathComponent().appendingPathComponent("timbre")]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent("timbre") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            XCTFail("the timbre executable is not next to the test bundle (\(bundle.path)): build the package with --build-tests")
            throw CocoaError(.fileNoSuchFile)
        }
        return found.path
    }

    init(databaseURL: String, home: String, arguments: [String] = []) throws {
        output = home + "/serve-\(UUID().uuidString.prefix(6)).log"
        let argv = [try Self.binary(), "serve", "--port", "0", "--database-url", databaseURL,
                    "--migrations", Self.repositoryRoot.appendingPathComponent("migrations").path,
                    "--web", Self.repositoryRoot.appendingPathComponent("web").path, "--verbose"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TIMBRE_HOME"] = home
        pid = try spawnProcess(argv, environment: environment, output: output)
        // The server prints its login link once it listens.
        let deadline = Date().addingTimeInterval(120)
        var url: String?
        var token: String?
        while Date() < deadline {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("/#token=") }) {
                let link = line.trimmingCharacters(in: .whitespaces)
                url = String(link[..<link.range(of: "/#token=")!.lowerBound])
                token = String(link[link.range(of: "#token=")!.upperBound...])
                break
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                XCTFail("timbre serve exited early: \(text)")
                throw CocoaError(.executableLoad)
            }
            usleep(100_000)
        }
        guard let url, let token else {
            kill(pid, SIGKILL)
            XCTFail("timbre serve did not print its URL within 2 minutes")
            throw CocoaError(.executableLoad)
        }
        baseURL = url
        loginToken = token
    }

    /// SIGTERM, then the exit status.
    @discardableResult
    func stop() -> Int32 {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

/// A TCP connection to 127.0.0.1:`port` (for requests URLSession cannot make: a half-sent body).
func connectLoopback(port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    XCTAssertEqual(connected, 0, "connect to port \(port)")
    return fd
}

/// posix_spawn with an environment, stdout and stderr to `output`.
func spawnProcess(_ arguments: [String], environment: [String: String], output: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var argv = arguments.map { strdup($0) } + [nil]
    var envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, arguments[0], &actions, nil, &argv, &envp)
    guard status == 0 else {
        XCTFail("cannot start \(arguments[0]): error \(status)")
        throw CocoaError(.executableLoad)
    }
    return pid
}

/// A blocking HTTP client over URLSession, for tests.
struct HTTPClient {
    struct Answer {
        let status: Int
        let headers: [String: String]
        let body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { (json as? [String: Any]) ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
    }

    let base: String
    var key: String?

    func send(_ method: String, _ path: String, json: Any? = nil, body: Data? = nil, contentType: String? = nil,
              headers: [String: String] = [:], key overrideKey: String?? = nil) -> Answer {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.timeoutInterval = 120
        let usedKey = overrideKey ?? key
        if let usedKey { request.setValue("Bearer \(usedKey)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = try! JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let body {
            request.httpBody = body
        }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let done = DispatchSemaphore(value: 0)
        let result = Locked<(Data?, URLResponse?, Error?)>((nil, nil, nil))
        URLSession.shared.dataTask(with: request) { data, response, error in
            result.set((data, response, error))
            done.signal()
        }.resume()
        done.wait()
        let (data, response, error) = result.value
        guard let http = response as? HTTPURLResponse else {
            return Answer(status: -1, headers: [:], body: Data("\(String(describing: error))".utf8))
        }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields { headers["\(name)".lowercased()] = "\(value)" }
        return Answer(status: http.statusCode, headers: headers, body: data ?? Data())
    }

    func get(_ path: String, key: String?? = nil) -> Answer { send("GET", path, key: key) }

    /// multipart/form-data with one file part.
    func upload(_ path: String, field: String = "file", filename: String, data: Data) -> Answer {
        let boundary = "timbre-test-\(UUID().uuidString)"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        body += data
        body += Data("\r\n--\(boundary)--\r\n".utf8)
        return send("POST", path, body: body, contentType: "multipart/form-data; boundary=\(boundary)")
    }
}

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func set(_ value: Value) { lock.withLock { stored = value } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

/// A test database on the scripts/test-postgres server.
final class ScratchDatabase {
    let name: String
    let serverURL: String
    let url: String
    let pool: ConnectionPool

    init() throws {
        guard let server = ProcessInfo.processInfo.environment["TIMBRE_TEST_DATABASE_URL"], !server.isEmpty else {
            throw XCTSkip("TIMBRE_TEST_DATABASE_URL is not set; run `eval \"$(scripts/test-postgres start)\"` first")
        }
        serverURL = server
        name = "api_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try PostgresConnection(url: server).execute(script: "CREATE DATABASE \(name)")
        guard server.contains("///postgres?") else { throw XCTSkip("expected a URL like postgresql:///postgres?host=…") }
        url = server.replacingOccurrences(of: "///postgres?", with: "///\(name)?")
        pool = ConnectionPool(url: server, database: name, maximumConnections: 2)
        try Migrator(directory: ServerProcess.repositoryRoot.appendingPathComponent("migrations")).migrate(pool)
    }

    func drop() {
        pool.close()
        _ = try? PostgresConnection(url: serverURL).execute(script: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

/// Short tones the shipped model can tag: `count` files, each a mix of two partials.
func writeToneLibrary(at folder: URL, count: Int, seconds: Double = 4, prefix: String = "tone") throws -> [URL] {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let rate = 22050
    return try (0..<count).map { index in
        let f1 = 110.0 * pow(2, Double(index) / 3), f2 = f1 * (index % 2 == 0 ? 1.5 : 2.01)
        let samples = (0..<Int(seconds * Double(rate))).map { n -> Float in
            let t = Double(n) / Double(rate)
            let beat = (Int(t * Double(2 + index % 3)) % 2 == 0) ? 1.0 : 0.4
            return Float(0.3 * beat * sin(2 * .pi * f1 * t) + 0.2 * sin(2 * .pi * f2 * t))
        }
        let url = folder.appendingPathComponent("\(prefix)-\(index).\(index % 3 == 0 ? "flac" : "wav")")
        try AudioWriter.write(samples, sampleRate: rate, to: url.path)
        return url
    }
}
