import Catalog
import Foundation
@testable import Server
import XCTest

final class ShutdownAndDocumentTests: XCTestCase {
    /// SIGTERM while a request is still uploading: the server stops listening, answers that
    /// request, and exits 0.
    func testGracefulShutdownAnswersTheRequestInFlight() throws {
        let database = try ScratchDatabase()
        defer { database.drop() }
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-stop-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let server = try ServerProcess(databaseURL: database.url, home: home.path, arguments: ["--workers", "0"])
        let port = UInt16(server.baseURL.split(separator: ":").last!)!

        let fd = connectLoopback(port: port)
        defer { close(fd) }
        let body = Array(#"{"token": "not-a-real-token"}"#.utf8)
        let head = Array("POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        func write(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } }
        write(head + body.prefix(5))
        usleep(300_000)
        kill(server.pid, SIGTERM)
        usleep(500_000)
        // New connections are refused now…
        XCTAssertEqual(HTTPClient(base: server.baseURL).get("/healthz").status, -1, "the server stopped listening")
        // …and the request in flight still gets its answer.
        write(Array(body.dropFirst(5)))
        var answer = [UInt8](repeating: 0, count: 4096)
        var received = 0
        while received < answer.count {
            let n = answer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, $0.count - received, 0) }
            if n <= 0 { break }
            received += n
        }
        let text = String(decoding: answer.prefix(received), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 401"), text)
        XCTAssertTrue(text.contains("\"unauthorized\""), text)
        var status: Int32 = 0
        while waitpid(server.pid, &status, 0) < 0 && errno == EINTR {}
        XCTAssertEqual((status >> 8) & 0xff, 0, "timbre serve exits 0 after SIGTERM")
        XCTAssertTrue(try String(contentsOfFile: server.output, encoding: .utf8).contains("timbre serve: stopped"))
    }

    /// POST /retrain is for administrators; a second request joins the open job; the job is
    /// listed for administrators only. (No worker runs here, so the job stays queued.)
    func testRetrainingRequestsMakeOneJobAndAreForAdministrators() throws {
        let database = try ScratchDatabase()
        defer { database.drop() }
        let users = UserRepository(pool: database.pool)
        let (_, adminKey) = try users.add(name: "root")
        let (_, userKey) = try users.add(name: "plain")
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-retrain-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let server = try ServerProcess(databaseURL: database.url, home: home.path, arguments: ["--workers", "0"])
        defer { server.stop() }
        let admin = HTTPClient(base: server.baseURL, key: adminKey), user = HTTPClient(base: server.baseURL, key: userKey)
        XCTAssertEqual(user.send("POST", "/api/v1/retrain").status, 403)
        let first = admin.send("POST", "/api/v1/retrain")
        XCTAssertEqual(first.status, 202, first.text)
        XCTAssertEqual(first.object["created"] as? Bool, true)
        let second = admin.send("POST", "/api/v1/retrain")
        XCTAssertEqual(second.object["created"] as? Bool, false)
        let jobID = ((first.object["job"] as? [String: Any])?["id"] as? NSNumber)?.int64Value
        XCTAssertNotNil(jobID)
        XCTAssertEqual(((second.object["job"] as? [String: Any])?["id"] as? NSNumber)?.int64Value, jobID, "one retraining at a time")
        let adminJobs = admin.get("/api/v1/jobs?kind=retrain").object["jobs"] as? [[String: Any]] ?? []
        XCTAssertEqual(adminJobs.compactMap { ($0["id"] as? NSNumber)?.int64Value }, [jobID!])
        XCTAssertEqual((user.get("/api/v1/jobs?kind=retrain").object["jobs"] as? [Any])?.count, 0)
    }

    /// The server scans its libraries at start and watches them: a file copied in later, also
    /// into a new subfolder, is found and tagged without anyone asking for a scan.
    func testNewMusicInAWatchedLibraryIsTaggedWithoutAScan() throws {
        let database = try ScratchDatabase()
        defer { database.drop() }
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-watch-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: home) }
        let music = home.appendingPathComponent("music")
        let tones = try writeToneLibrary(at: home.appendingPathComponent("source"), count: 3, seconds: 3)
        try FileManager.default.createDirectory(at: music, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: tones[0], to: music.appendingPathComponent(tones[0].lastPathComponent))
        let (owner, key) = try UserRepository(pool: database.pool).add(name: "listener")
        _ = try LibraryRepository(pool: database.pool).add(path: music.path, ownerID: owner.id)
        let server = try ServerProcess(databaseURL: database.url, home: home.path, arguments: ["--workers", "1", "--rescan-interval", "0"])
        defer { server.stop() }
        let client = HTTPClient(base: server.baseURL, key: key)
        func tagged(_ count: Int) -> Bool {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let tracks = client.get("/api/v1/tracks?status=tagged").object["tracks"] as? [[String: Any]] ?? []
                if tracks.count >= count { return true }
                usleep(200_000)
            }
            return false
        }
        XCTAssertTrue(tagged(1), "the scan at start finds the file that was there")
        // Written elsewhere and moved in, as a copy tool does: the folder sees it at once.
        try FileManager.default.copyItem(at: tones[1], to: home.appendingPathComponent(tones[1].lastPathComponent))
        try FileManager.default.moveItem(at: home.appendingPathComponent(tones[1].lastPathComponent),
                                         to: music.appendingPathComponent(tones[1].lastPathComponent))
        XCTAssertTrue(tagged(2), "a file moved into the library is tagged without a scan")
        let album = music.appendingPathComponent("new album")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        usleep(300_000)
        try FileManager.default.copyItem(at: tones[2], to: album.appendingPathComponent(tones[2].lastPathComponent))
        XCTAssertTrue(tagged(3), "a file in a folder made after the start is found too")
    }

    /// The router and openapi.json describe the same API: every served method and path is
    /// documented, and every documented one is served.
    func testEveryRouteIsDocumentedAndEveryDocumentedRouteServed() throws {
        let database = try ScratchDatabase()
        defer { database.drop() }
        let server = TimbreServer(database: Database(pool: database.pool), configuration: ServerConfiguration(), metrics: ServerMetrics())
        let served = Set(server.router.routes.filter { $0.pattern.hasPrefix("/api/") || ["/healthz", "/readyz", "/metrics"].contains($0.pattern) }
            .map { "\($0.method) \($0.pattern)" })
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: ServerProcess.repositoryRoot
            .appendingPathComponent("web/openapi.json"))) as? [String: Any])
        XCTAssertEqual(document["openapi"] as? String, "3.1.0")
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in
            operations.keys.filter { ["get", "put", "post", "delete", "patch"].contains($0) }.map { "\($0.uppercased()) \(path)" }
        })
        XCTAssertEqual(served.subtracting(documented).sorted(), [], "served but not documented")
        XCTAssertEqual(documented.subtracting(served).sorted(), [], "documented but not served")
        // Admin-only and public routes agree with the document's security.
        for route in server.router.routes where served.contains("\(route.method) \(route.pattern)") {
            let operation = paths[route.pattern]?[route.method.lowercased()] as? [String: Any]
            let isPublic = (operation?["security"] as? [Any])?.isEmpty == true
            XCTAssertEqual(isPublic, route.access == .everyone, "\(route.method) \(route.pattern)")
        }
    }
}
