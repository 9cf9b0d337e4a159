@testable import Catalog
import Foundation
import XCTest

final class CrawlerTests: XCTestCase {
    private var root: URL!
    private var outside: URL!

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory("timbre-library")
        outside = try makeTemporaryDirectory("timbre-outside")
    }

    override func tearDownWithError() throws {
        chmod(root.path, 0o755)
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: outside)
    }

    private func write(_ relative: String, _ content: String, in base: URL? = nil) throws {
        let url = (base ?? root).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: url)
    }

    private func link(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent(relative).path, withDestinationPath: target)
    }

    private func setMTime(_ relative: String, seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, root.appendingPathComponent(relative).path, &times, 0), 0)
    }

    private func paths(_ tracks: [Track], _ status: TrackStatus? = nil) -> Set<String> {
        Set(tracks.filter { status == nil || $0.status == status }.map(\.path))
    }

    /// A listing of the library (names, sizes, mtimes) to prove the crawl wrote nothing there.
    private func snapshot() throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var entries: [String] = []
        while let item = enumerator?.nextObject() as? String {
            var info = stat()
            lstat(root.appendingPathComponent(item).path, &info)
            entries.append("\(item) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)")
        }
        return entries.sorted()
    }

    func testScanFindsChangesMovesAndDeletions() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        try write("a.mp3", "content of a")
        try write("sub/b.flac", "content of b")
        try write("sub/deep/c.ogg", "content of c")
        try write("d.wav", "content of d")
        try write("Upper.OPUS", "content of upper")
        try write(".hidden.mp3", "hidden")
        try write(".hiddendir/e.wav", "hidden folder")
        try write("f.mp3.part", "download in progress")
        try write("notes.txt", "not audio")
        try write("x.mp3", "outside file", in: outside)
        try link("loop", to: ".")                         // a symlink loop
        try link("sub/deep/up", to: "../..")              // another, deeper
        try link("alias", to: "sub")                      // a second way into sub
        try link("outside.mp3", to: outside.appendingPathComponent("x.mp3").path)
        try link("outsidedir", to: outside.path)
        try link("broken.ogg", to: "nowhere.ogg")         // unreadable: the target is missing

        let library = try database.makeLibrary(root: root.path)
        let tracks = TrackRepository(pool: database.pool)
        let queue = JobQueue(pool: database.pool)
        let crawler = Crawler(pool: database.pool)
        let before = try snapshot()

        let first = try crawler.scan(library: library)
        XCTAssertEqual(paths(try tracks.tracks(libraryID: library.id)), ["a.mp3", "sub/b.flac", "sub/deep/c.ogg", "d.wav", "Upper.OPUS"])
        XCTAssertEqual(first.added, 5)
        XCTAssertEqual(first.jobsQueued, 5)
        XCTAssertEqual(try queue.counts()[.queued], 5)
        let skipped = Dictionary(first.skipped.map { ($0.relativePath, $0.reason) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(skipped["loop"], .symlinkLoop)
        XCTAssertEqual(skipped["sub/deep/up"], .symlinkLoop)
        XCTAssertEqual(skipped["alias"], .symlinkLoop)
        XCTAssertEqual(skipped["outside.mp3"], .outsideRoot)
        XCTAssertEqual(skipped["outsidedir"], .outsideRoot)
        XCTAssertEqual(skipped["broken.ogg"], .unreadable)
        let a = try XCTUnwrap(try tracks.track(libraryID: library.id, path: "a.mp3"))
        XCTAssertEqual(a.size, 12)
        XCTAssertEqual(a.metadata.format, "mp3")
        XCTAssertEqual(a.status, .pending)
        XCTAssertEqual(try tracks.location(trackID: a.id)?.absolutePath, root.appendingPathComponent("a.mp3").path)

        // Nothing changed: nothing hashed, nothing queued.
        let second = try crawler.scan(library: library)
        XCTAssertEqual(second.unchanged, 5)
        XCTAssertEqual(second.added + second.changed + second.moved + second.gone + second.jobsQueued, 0)

        // The worker tags a.mp3; a user corrects it.
        let model = try ModelRepository(pool: database.pool).register(version: "v1", filePath: "m.safetensors", labels: ["rock", "jazz"])
        try PredictionStore(pool: database.pool).write(trackID: a.id, modelID: model.id, probabilities: ["rock": 0.9, "jazz": 0.1],
                                                       embedding: [0.6, 0.8])
        let user = try XCTUnwrap(try UserRepository(pool: database.pool).list().first)
        try database.pool.withConnection {
            try $0.query("INSERT INTO corrections (track_id, user_id, label, action) VALUES ($1, $2, 'jazz', 'added')", [a.id, user.id])
        }

        // Rename a.mp3 into a new folder, rewrite d.wav, delete c.ogg, touch b.flac.
        try FileManager.default.createDirectory(at: root.appendingPathComponent("moved"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: root.appendingPathComponent("a.mp3"), to: root.appendingPathComponent("moved/renamed.mp3"))
        try write("d.wav", "new content of d, longer")
        try FileManager.default.removeItem(at: root.appendingPathComponent("sub/deep/c.ogg"))
        setMTime("sub/b.flac", seconds: 1_000_000_000)

        let third = try crawler.scan(library: library)
        XCTAssertEqual(third.moved, 1)
        XCTAssertEqual(third.changed, 1)
        XCTAssertEqual(third.retouched, 1)
        XCTAssertEqual(third.gone, 1)
        XCTAssertEqual(third.added, 0)
        XCTAssertEqual(third.jobsQueued, 0, "d.wav's job is still queued, so no second one")
        let renamed = try XCTUnwrap(try tracks.track(libraryID: library.id, path: "moved/renamed.mp3"))
        XCTAssertEqual(renamed.id, a.id)
        XCTAssertEqual(renamed.status, .tagged)
        XCTAssertEqual(try PredictionStore(pool: database.pool).probabilities(trackID: a.id, modelID: model.id), ["rock": 0.9, "jazz": 0.1])
        XCTAssertEqual(try PredictionStore(pool: database.pool).embedding(trackID: a.id, modelID: model.id), [0.6, 0.8])
        XCTAssertEqual(try database.pool.withConnection { try $0.query("SELECT count(*) FROM corrections WHERE track_id = $1", [a.id]).int(0, 0) }, 1)
        XCTAssertNil(try tracks.track(libraryID: library.id, path: "a.mp3"))
        XCTAssertEqual(try tracks.track(libraryID: library.id, path: "sub/deep/c.ogg")?.status, .gone)
        let d = try XCTUnwrap(try tracks.track(libraryID: library.id, path: "d.wav"))
        XCTAssertEqual(d.size, 24)
        XCTAssertEqual(d.status, .pending)
        XCTAssertEqual(try tracks.track(libraryID: library.id, path: "sub/b.flac")?.mtimeNanoseconds, 1_000_000_000 * 1_000_000_000)

        // c.ogg comes back elsewhere: the gone track is revived and, never tagged, queued again.
        let c = try XCTUnwrap(try tracks.track(libraryID: library.id, path: "sub/deep/c.ogg"))
        let cJob = try XCTUnwrap(try openJob(for: c.id, database))
        try database.pool.withConnection { _ = try $0.query("UPDATE jobs SET state = 'done' WHERE id = $1", [cJob]) }  // as a worker would
        try write("restored/c.ogg", "content of c")
        let fourth = try crawler.scan(library: library)
        XCTAssertEqual(fourth.moved, 1)
        XCTAssertEqual(fourth.revived, 1)
        XCTAssertEqual(fourth.jobsQueued, 1)
        let restored = try XCTUnwrap(try tracks.track(libraryID: library.id, path: "restored/c.ogg"))
        XCTAssertEqual(restored.id, c.id)
        XCTAssertEqual(restored.status, .pending)

        // A known file that becomes unreadable keeps its track (not gone) and is reported.
        try FileManager.default.removeItem(at: root.appendingPathComponent("sub/b.flac"))
        try link("sub/b.flac", to: "missing-disk/b.flac")
        let fifth = try crawler.scan(library: library)
        XCTAssertEqual(fifth.gone, 0)
        XCTAssertTrue(fifth.skipped.contains { $0.relativePath == "sub/b.flac" && $0.reason == .unreadable })
        XCTAssertNotEqual(try tracks.track(libraryID: library.id, path: "sub/b.flac")?.status, .gone)

        XCTAssertEqual(try tracks.counts(libraryID: library.id)[.gone], nil)
        XCTAssertNotEqual(try snapshot(), before) // sanity: our own edits show up in the listing...
        let afterEdits = try snapshot()
        _ = try crawler.scan(library: library)
        XCTAssertEqual(try snapshot(), afterEdits) // ...but scanning itself never writes into the library.
    }

    private func openJob(for trackID: Int64, _ database: TestDatabase) throws -> Int64? {
        try database.pool.withConnection { connection in
            let rows = try connection.query("SELECT id FROM jobs WHERE track_id = $1 AND state IN ('queued', 'running')", [trackID])
            return rows.rowCount == 0 ? nil : try rows.int(0, 0)
        }
    }

    /// Files the crawler may not open are reported and left out. Root reads everything, so
    /// this needs an unprivileged run (the broken-symlink case above covers root).
    func testUnreadableFileIsReportedNotStored() throws {
        try XCTSkipIf(getuid() == 0, "root can read files whatever their mode")
        let database = try TestDatabase()
        defer { database.drop() }
        try write("ok.mp3", "fine")
        try write("locked.mp3", "secret")
        try write("closed/inside.mp3", "unreachable")
        chmod(root.appendingPathComponent("locked.mp3").path, 0)
        chmod(root.appendingPathComponent("closed").path, 0)
        defer { chmod(root.appendingPathComponent("closed").path, 0o755) }
        let library = try database.makeLibrary(root: root.path)
        let report = try Crawler(pool: database.pool).scan(library: library)
        XCTAssertEqual(paths(try TrackRepository(pool: database.pool).tracks(libraryID: library.id)), ["ok.mp3"])
        XCTAssertTrue(report.skipped.contains { $0.relativePath == "locked.mp3" && $0.reason == .unreadable })
        XCTAssertTrue(report.skipped.contains { $0.relativePath == "closed" && $0.reason == .unreadable })
    }

    func testContentHashReadsSizeHeadAndTail() throws {
        // 3 MiB: the hash covers the size, the first MiB and the last MiB.
        var bytes = [UInt8](repeating: 0, count: 3 << 20)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 11) }
        let file = root.appendingPathComponent("big.wav")
        try Data(bytes).write(to: file)
        var hasher = ContentHash()
        var expected = SHA256()
        expected.update((0..<8).map { UInt8(truncatingIfNeeded: UInt64(bytes.count) >> (8 * UInt64($0))) })
        expected.update(Array(bytes[0..<(1 << 20)]))
        expected.update(Array(bytes[(2 << 20)...]))
        let result = try hasher.hash(path: file.path, libraryRoot: root.path)
        XCTAssertEqual(result.digest, expected.finalize())
        XCTAssertEqual(result.size, Int64(bytes.count))
        bytes[bytes.count - 1] ^= 1
        try Data(bytes).write(to: file)
        XCTAssertNotEqual(try hasher.hash(path: file.path, libraryRoot: root.path).digest, result.digest)
        // A small file is hashed whole.
        try Data([1, 2, 3]).write(to: file)
        var small = SHA256()
        small.update([3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
        XCTAssertEqual(try hasher.hash(path: file.path, libraryRoot: root.path).digest, small.finalize())
        XCTAssertThrowsError(try hasher.hash(path: root.appendingPathComponent("none.wav").path, libraryRoot: root.path))
    }

    func testFileNameRules() {
        XCTAssertTrue(FileWalker.isSupported("a.MP3"))
        XCTAssertTrue(FileWalker.isSupported("b.aiff"))
        XCTAssertFalse(FileWalker.isSupported("mp3"))
        XCTAssertFalse(FileWalker.isSupported("c.m4a"))
        XCTAssertTrue(FileWalker.isTemporary("song.mp3.part"))
        XCTAssertTrue(FileWalker.isTemporary("song.mp3~"))
        XCTAssertTrue(FileWalker.isTemporary("#song.mp3#"))
        XCTAssertFalse(FileWalker.isTemporary("song.mp3"))
    }
}
