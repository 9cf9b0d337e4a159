import AudioIO
@testable import Catalog
import Features
import Foundation
import Tagger
import XCTest

/// A tiny model and a library of short tones, for tests that scan and tag against PostgreSQL.
final class TaggingFixture {
    let root: URL
    let outside: URL
    let modelPath: String

    init() throws {
        root = try makeTemporaryDirectory("timbre-safety-library")
        outside = try makeTemporaryDirectory("timbre-safety-outside")
        modelPath = outside.appendingPathComponent("model.safetensors").path
        let network = makeNetwork(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: 11)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 32),
                                chunkFrames: 32)
        try ModelBundle(network: network, labels: ["ambient", "jazz", "rock"], frontEnd: frontEnd,
                        normalization: InputNormalization(mean: -40, std: 20)).write(to: modelPath)
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: outside)
    }

    /// A one-second tone at `frequency` (WAV, or FLAC/MP3 by the name's extension).
    func writeTone(_ url: URL, frequency: Float) throws {
        let samples = (0..<16000).map { 0.4 * sin(2 * .pi * frequency * Float($0) / 16000) }
        try AudioWriter.write(samples, sampleRate: 16000, to: url.path)
    }

    func options(batchSize: Int = 8, lease: TimeInterval = 10) -> WorkerOptions {
        var options = WorkerOptions()
        options.concurrency = 2
        options.batchSize = batchSize
        options.lease = lease
        options.pollInterval = 0.2
        options.reconnectTimeout = 30
        options.runsRetraining = false
        return options
    }

    func model(_ database: TestDatabase) throws -> LoadedModel {
        try ActiveModel.load(models: ModelRepository(pool: database.pool), defaultPath: modelPath)
    }

    /// The status and last error of the track at `path`.
    func track(_ path: String, _ library: Library, _ database: TestDatabase) throws -> Track {
        try XCTUnwrap(try TrackRepository(pool: database.pool).track(libraryID: library.id, path: path), path)
    }
}

/// "Library files are only ever read": files swapped after the scan are refused, nothing
/// blocks, and a whole `timbre scan` under strace never opens a library file for writing.
final class LibraryFileSafetyTests: XCTestCase {
    private var fixture: TaggingFixture!

    override func setUpWithError() throws { fixture = try TaggingFixture() }
    override func tearDownWithError() throws { fixture.remove() }

    /// Catalogued files become a symlink to a file outside the root, a FIFO, a symlink to
    /// /dev/zero (and, where we may create one, a device node) before the worker tags them.
    func testFilesSwappedAfterTheScanFailWithAClearErrorAndNothingHangs() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let root = fixture.root
        let names = ["kept.wav", "linked.wav", "pipe.wav", "zero.wav", "device.wav"]
        for (index, name) in names.enumerated() { try fixture.writeTone(root.appendingPathComponent(name), frequency: 220 * Float(index + 1)) }
        let library = try database.makeLibrary(root: root.path)
        let report = try Crawler(pool: database.pool, metadataReader: FileTagReader.read).scan(library: library)
        XCTAssertEqual(report.added, names.count)

        let secret = fixture.outside.appendingPathComponent("secret.wav")
        try fixture.writeTone(secret, frequency: 1000)
        func replace(_ name: String, _ make: (String) -> Void) throws {
            let path = root.appendingPathComponent(name).path
            try FileManager.default.removeItem(atPath: path)
            make(path)
        }
        try replace("linked.wav") { XCTAssertEqual(symlink(secret.path, $0), 0) }
        try replace("pipe.wav") { XCTAssertEqual(mkfifo($0, 0o644), 0) }
        try replace("zero.wav") { XCTAssertEqual(symlink("/dev/zero", $0), 0) }
        var expectFailed = 3
        try replace("device.wav") { path in
            if mknod(path, S_IFCHR | 0o644, dev_t(1 << 8 | 5)) == 0 { expectFailed += 1 } else { _ = symlink("kept.wav", path) }
        }

        let worker = try Worker(pool: database.pool, model: fixture.model(database), options: fixture.options())
        let box = Unchecked(worker)
        let outcome = Locked<Result<WorkerProgress, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let result = Result<WorkerProgress, any Error> { try box.value.run(drain: true) }
            outcome.mutate { $0 = result }
            finished.signal()
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success, "the worker finished (nothing blocked on the FIFO or the device)")
        let done = try XCTUnwrap(outcome.value).get()
        XCTAssertEqual(done.failed, expectFailed)
        XCTAssertEqual(done.tagged, names.count - expectFailed)

        XCTAssertEqual(try fixture.track("kept.wav", library, database).status, .tagged)
        let expectations = [
            "linked.wav": ["symbolic link to \(secret.path)", "outside the library", "not opened"],
            "pipe.wav": ["FIFO", "not a regular file"],
            "zero.wav": ["symbolic link to /dev/zero", "outside the library"],
        ].merging(expectFailed == 4 ? ["device.wav": ["character device", "not a regular file"]] : [:]) { $1 }
        for (name, fragments) in expectations {
            let track = try fixture.track(name, library, database)
            XCTAssertEqual(track.status, .failed, name)
            for fragment in fragments {
                XCTAssertTrue(track.lastError?.contains(fragment) == true, "\(name): \(track.lastError ?? "no error") should say \(fragment)")
            }
        }
        // The file outside the library was never read into the catalog.
        let predicted = try database.connection().query("SELECT count(DISTINCT track_id) FROM predictions").int(0, 0)
        XCTAssertEqual(Int(predicted), names.count - expectFailed)
    }

    /// `timbre scan` (index, tags, hash, decode and tag) under `strace -f`: every open of a path
    /// inside the library is read-only (no O_WRONLY, O_RDWR, O_CREAT or O_TRUNC), and every file
    /// is opened with O_NOFOLLOW|O_NONBLOCK. (Before: TagLib's C API opened each file "rb+", as root.)
    func testScanUnderStraceNeverOpensALibraryFileForWriting() throws {
        let strace = "/usr/bin/strace"
        guard FileManager.default.isExecutableFile(atPath: strace) else {
            throw XCTSkip("strace is not installed (scripts/setup installs it)")
        }
        let database = try TestDatabase()
        defer { database.drop() }
        let root = fixture.root
        try FileManager.default.createDirectory(at: root.appendingPathComponent("album"), withIntermediateDirectories: true)
        for (index, name) in ["one.wav", "album/two.flac", "album/three.mp3", "four.ogg"].enumerated() {
            try fixture.writeTone(root.appendingPathComponent(name), frequency: 200 * Float(index + 1))
        }
        _ = try database.makeLibrary(root: root.path)
        var components = try XCTUnwrap(URLComponents(string: database.url))
        components.path = "/" + database.name
        let url = try XCTUnwrap(components.string)
        let binary = try WorkerTests.timbreBinary()
        let trace = fixture.outside.appendingPathComponent("trace.txt").path
        let output = fixture.outside.appendingPathComponent("scan.txt").path
        let status = try waitForExit(spawn([strace, "-f", "-qq", "-e", "trace=open,openat,openat2,creat", "-o", trace,
                                            binary.path, "scan", "--database-url", url, "--model", fixture.modelPath,
                                            "--concurrency", "2"], output: output))
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, printed)
        XCTAssertTrue(printed.contains("4 new"), printed)

        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        let library = lines.filter { $0.contains("\"" + root.path + "/") }
        XCTAssertFalse(library.isEmpty, "the trace shows the library's files being opened")
        for line in library {
            for flag in ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "creat("] {
                XCTAssertFalse(line.contains(flag), "opened for writing: \(line)")
            }
            // Folders are the walker's opendir (O_DIRECTORY); files must be opened as ReadOnlyFile does.
            if line.contains(" = ") && !line.contains("= -1") && !line.contains("O_DIRECTORY") {
                XCTAssertTrue(line.contains("O_NOFOLLOW") && line.contains("O_NONBLOCK"), "opened without O_NOFOLLOW|O_NONBLOCK: \(line)")
            }
        }
        // Every file was hashed, read for tags and decoded: three opens each, all read-only.
        for name in ["one.wav", "album/two.flac", "album/three.mp3", "four.ogg"] {
            let opens = library.filter { $0.contains("\"" + root.path + "/" + name + "\"") && !$0.contains("= -1") }
            XCTAssertGreaterThanOrEqual(opens.count, 3, "\(name): \(opens)")
        }
    }
}
