@testable import Catalog
import Foundation
import XCTest

/// A scan never empties a library by accident, and file names are the bytes they are.
final class CrawlerSafetyTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws { root = try makeTemporaryDirectory("timbre-crawl-safety") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    private func write(_ name: String, _ content: String) throws {
        XCTAssertTrue(FileManager.default.createFile(atPath: root.path + "/" + name, contents: Data(content.utf8)), name)
    }

    private func statuses(_ database: TestDatabase, _ library: Library) throws -> [TrackStatus: Int] {
        try TrackRepository(pool: database.pool).tracks(libraryID: library.id).reduce(into: [:]) { $0[$1.status, default: 0] += 1 }
    }

    /// NFC "café.flac" (U+00E9) and NFD "café.flac" (e + U+0301) are two files in one folder:
    /// two tracks, found again unchanged by the next scan — not one track flapping, not a trap.
    func testNamesThatDifferOnlyInNormalisationAreTwoTracks() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let nfc = "caf\u{E9}.flac", nfd = "cafe\u{301}.flac"
        XCTAssertEqual(nfc, nfd, "Swift calls them equal")
        XCTAssertNotEqual(Array(nfc.utf8), Array(nfd.utf8))
        try write(nfc, "composed")
        try write(nfd, "decomposed")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path).count, 2)
        let library = try database.makeLibrary(root: root.path)
        let crawler = Crawler(pool: database.pool)
        let first = try crawler.scan(library: library)
        XCTAssertEqual(first.added, 2)
        XCTAssertEqual(first.skipped.count, 0)
        let tracks = try TrackRepository(pool: database.pool).tracks(libraryID: library.id)
        XCTAssertEqual(Set(tracks.map { Array($0.path.utf8) }), [Array(nfc.utf8), Array(nfd.utf8)], "stored by their bytes")
        let second = try crawler.scan(library: library)
        XCTAssertEqual(second.filesSeen, 2)
        XCTAssertEqual(second.unchanged, 2)
        XCTAssertEqual(second.added + second.changed + second.moved + second.gone, 0)
        // Removing one of them is that one gone, the other untouched.
        try FileManager.default.removeItem(atPath: root.path + "/" + nfd)
        let third = try crawler.scan(library: library)
        XCTAssertEqual(third.gone, 1)
        XCTAssertEqual(third.unchanged, 1)
        let left = try TrackRepository(pool: database.pool).tracks(libraryID: library.id).filter { $0.status != .gone }
        XCTAssertEqual(left.map { Array($0.path.utf8) }, [Array(nfc.utf8)])
    }

    /// An empty library folder (an unmounted disk's mount point) does not mark the library
    /// gone; neither does a scan that would remove most of it; --allow-mass-removal does.
    func testMassRemovalIsRefusedUnlessAllowed() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        for i in 0..<40 { try write(String(format: "t%02d.mp3", i), "track \(i)") }
        let library = try database.makeLibrary(root: root.path)
        let crawler = Crawler(pool: database.pool)
        XCTAssertEqual(try crawler.scan(library: library).added, 40)

        // 10 of 40 removed: an ordinary scan.
        for i in 0..<10 { try FileManager.default.removeItem(atPath: root.path + String(format: "/t%02d.mp3", i)) }
        XCTAssertEqual(try crawler.scan(library: library).gone, 10)

        // 25 of the 30 left removed: refused, nothing marked gone.
        for i in 10..<35 { try FileManager.default.removeItem(atPath: root.path + String(format: "/t%02d.mp3", i)) }
        XCTAssertThrowsError(try crawler.scan(library: library)) { error in
            XCTAssertTrue("\(error)".contains("would mark 25 of the library's 30 tracks gone"), "\(error)")
            XCTAssertTrue("\(error)".contains("--allow-mass-removal"), "\(error)")
        }
        XCTAssertEqual(try statuses(database, library)[.gone], 10)

        // Everything gone from the folder: refused, with the unmounted-disk hint.
        for i in 35..<40 { try FileManager.default.removeItem(atPath: root.path + String(format: "/t%02d.mp3", i)) }
        XCTAssertThrowsError(try crawler.scan(library: library)) { error in
            XCTAssertTrue("\(error)".contains("found 0 audio files") && "\(error)".contains("unmounted disk"), "\(error)")
        }
        XCTAssertEqual(try statuses(database, library)[.gone], 10)

        crawler.allowMassRemoval = true
        XCTAssertEqual(try crawler.scan(library: library).gone, 30)
        XCTAssertEqual(try statuses(database, library)[.gone], 40)
    }

    /// A root on another device than at the last scan (the library's disk unmounted under a
    /// mount point that holds other files, or another disk in its place) marks nothing gone
    /// unless --allow-mass-removal, even for a removal far below the mass-removal count; a scan
    /// that finds every track records the new device.
    func testRootOnAnotherDeviceIsRefusedUnlessAllowed() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        for i in 0..<4 { try write("t\(i).mp3", "track \(i)") }
        let library = try database.makeLibrary(root: root.path)
        let crawler = Crawler(pool: database.pool)
        func storedDevice() throws -> Int64? {
            try database.pool.withConnection { try $0.query("SELECT root_device FROM libraries WHERE id = $1", [library.id]).optionalInt(0, 0) }
        }
        func pretendTheLastScanSawAnotherDevice() throws {
            try database.pool.withConnection { _ = try $0.query("UPDATE libraries SET root_device = root_device + 1 WHERE id = $1", [library.id]) }
        }
        XCTAssertNil(try storedDevice())
        XCTAssertEqual(try crawler.scan(library: library).added, 4)
        let device = try XCTUnwrap(Crawler.device(of: root.path))
        XCTAssertEqual(try storedDevice(), device)

        try pretendTheLastScanSawAnotherDevice()
        try FileManager.default.removeItem(atPath: root.path + "/t0.mp3")
        XCTAssertThrowsError(try crawler.scan(library: library)) { error in
            XCTAssertTrue("\(error)".contains("on another device than at the last scan"), "\(error)")
            XCTAssertTrue("\(error)".contains("would mark 1 of the library's 4 tracks gone"), "\(error)")
            XCTAssertTrue("\(error)".contains("--allow-mass-removal"), "\(error)")
        }
        XCTAssertNil(try statuses(database, library)[.gone])
        XCTAssertEqual(try storedDevice(), device + 1, "a refused scan records nothing")

        crawler.allowMassRemoval = true
        XCTAssertEqual(try crawler.scan(library: library).gone, 1)
        XCTAssertEqual(try storedDevice(), device)

        // Every track found on the other device (the library copied to a new disk): the scan
        // passes and the new device is the library's from then on.
        crawler.allowMassRemoval = false
        try pretendTheLastScanSawAnotherDevice()
        XCTAssertEqual(try crawler.scan(library: library).unchanged, 3)
        XCTAssertEqual(try storedDevice(), device)
        try FileManager.default.removeItem(atPath: root.path + "/t1.mp3")
        XCTAssertEqual(try crawler.scan(library: library).gone, 1)
    }

    /// The CLI: `timbre scan` refuses and says how to proceed; a library root with a newline and
    /// an escape character in its name prints escaped.
    func testScanCommandRefusesAndPrintsNamesEscaped() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let binary = try WorkerTests.timbreBinary()
        let odd = root.appendingPathComponent("new\nline\u{1B}[31m")
        try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: odd.path + "/a.mp3", contents: Data("a".utf8))
        let library = try database.makeLibrary(root: odd.path)
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let output = root.appendingPathComponent("out.txt").path, errors = root.appendingPathComponent("err.txt").path
        let scan = [binary.path, "scan", String(library.id), "--no-tag", "--database-url", url, "--migrations", TestDatabase.migrationsDirectory.path]
        XCTAssertEqual(try waitForExit(spawn(scan, output: output, errors: errors)), 0)
        let printed = try String(contentsOfFile: output, encoding: .utf8)
        XCTAssertTrue(printed.contains("new\\nline\\u{1B}[31m: 1 files"), printed)
        XCTAssertFalse(printed.contains("\u{1B}"), "no raw escape character reaches the terminal")

        try FileManager.default.removeItem(atPath: odd.path + "/a.mp3")
        XCTAssertEqual(try waitForExit(spawn(scan, output: output, errors: errors)), 1)
        let message = try String(contentsOfFile: errors, encoding: .utf8)
        XCTAssertTrue(message.contains("--allow-mass-removal"), message)
        XCTAssertEqual(try statuses(database, library)[.gone, default: 0], 0)
        XCTAssertEqual(try waitForExit(spawn(scan + ["--allow-mass-removal"], output: output, errors: errors)), 0)
        XCTAssertEqual(try statuses(database, library)[.gone], 1)
    }
}
