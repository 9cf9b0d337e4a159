import Features
import Foundation
import NeuralNet
import XCTest
@testable import Tagger

#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint or model bundle being replaced is never missing nor half written: while one
/// thread rewrites it, another keeps opening and parsing it, and inotify on its folder shows
/// that the target name is only ever renamed onto (IN_MOVED_TO), never deleted (IN_DELETE)
/// nor written in place (IN_MODIFY).
final class AtomicReplaceTests: XCTestCase {
    var directory: URL!
    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-atomic-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A trainer over 8 tiny tracks (6 train, 2 validation) with a 4-channel network.
    func tinyTrainer() throws -> Trainer {
        var spectrogram = SpectrogramConfig()
        spectrogram.nMels = 8
        let cacheDirectory = directory.appendingPathComponent("prepared").path
        let writer = try ChunkCacheWriter(directory: cacheDirectory, chunkShape: [8, 16], frontEnd: json(spectrogram))
        var splits: [String: String] = [:]
        for i in 0..<8 {
            let values = (0..<(2 * 8 * 16)).map { Float(($0 * (i + 3)) % 17) - 8 }
            try writer.append(path: "t\(i).wav", tags: [i % 2 == 0 ? "even" : "odd"], duration: 1, chunks: values)
            splits["t\(i).wav"] = i < 6 ? "train" : "val"
        }
        try writer.finish(labels: ["even", "odd"], splits: splits)
        var config = ExperimentConfig()
        config.experimentName = "atomic"
        config.outputDir = directory.appendingPathComponent("runs").path
        config.dataDir = cacheDirectory
        config.model = ArchitectureConfig(numGenres: 0, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1, 1], attentionReduction: 2)
        let trainer = try Trainer(config: config, cache: try ChunkCache(directory: cacheDirectory), observer: nil)
        try FileManager.default.createDirectory(at: trainer.runDirectory, withIntermediateDirectories: true)
        return trainer
    }

    /// Runs `replace` `times` times while a reader opens and parses `path` as fast as it can;
    /// returns what the reader and inotify saw.
    func hammer(_ path: String, times: Int, replace: () throws -> Void) throws -> (reads: Int, missing: Int, torn: Int, events: [String: UInt32]) {
        try replace()  // the file exists before the race starts
        let watch = try FolderWatch(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        let done = Flag(), counts = Counts()
        let reader = Thread {
            while !done.isSet {
                let descriptor = open(path, O_RDONLY | O_CLOEXEC)
                if descriptor < 0 {
                    counts.add(missing: errno == ENOENT ? 1 : 0, torn: errno == ENOENT ? 0 : 1)
                    continue
                }
                var info = stat()
                fstat(descriptor, &info)
                var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
                let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
                close(descriptor)
                let whole = got == bytes.count && (try? SafetensorsFile(bytes: bytes)) != nil
                counts.add(reads: 1, torn: whole ? 0 : 1)
            }
            done.finished()
        }
        reader.start()
        for _ in 0..<times { try replace() }
        done.set()
        done.waitUntilFinished()
        let name = URL(fileURLWithPath: path).lastPathComponent
        return (counts.reads, counts.missing, counts.torn, watch.events(named: name))
    }

    func assertReplacedByRenameOnly(_ result: (reads: Int, missing: Int, torn: Int, events: [String: UInt32]), _ what: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(result.reads, 0, "the reader never ran", file: file, line: line)
        XCTAssertEqual(result.missing, 0, "\(what) was missing \(result.missing) times in \(result.reads) reads", file: file, line: line)
        XCTAssertEqual(result.torn, 0, "\(what) was half written \(result.torn) times in \(result.reads) reads", file: file, line: line)
        let mask = result.events.values.reduce(0, |)
        XCTAssertEqual(mask & UInt32(IN_DELETE), 0, "\(what) was deleted: \(result.events)", file: file, line: line)
        XCTAssertEqual(mask & UInt32(IN_MODIFY), 0, "\(what) was written in place: \(result.events)", file: file, line: line)
        XCTAssertNotEqual(mask & UInt32(IN_MOVED_TO), 0, "\(what) was never renamed onto: \(result.events)", file: file, line: line)
    }

    func testACheckpointBeingReplacedIsNeverMissing() throws {
        let trainer = try tinyTrainer()
        let result = try hammer(trainer.checkpointURL.path, times: 150) { try trainer.saveCheckpoint() }
        assertReplacedByRenameOnly(result, "checkpoint.safetensors")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: trainer.runDirectory.path), ["checkpoint.safetensors"])
    }

    func testAModelBundleBeingReplacedIsNeverMissing() throws {
        let trainer = try tinyTrainer()
        let bundle = ModelBundle(network: trainer.network, labels: ["even", "odd"], frontEnd: trainer.frontEnd,
                                 normalization: trainer.normalization)
        let path = directory.appendingPathComponent("bundle/best_model.safetensors").path
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        let result = try hammer(path, times: 150) { try bundle.write(to: path) }
        assertReplacedByRenameOnly(result, "best_model.safetensors")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path),
                       ["best_model.safetensors"])
        XCTAssertEqual(try ModelBundle.read(from: path).labels, ["even", "odd"])
    }

    func testAFailedWriteLeavesTheOldFileAndNoTemporary() throws {
        let path = directory.appendingPathComponent("model.safetensors").path
        let file = SafetensorsFile(tensors: [SafetensorsTensor(name: "w", tensor: try Tensor(shape: [2], data: [1, 2]))])
        try file.write(to: URL(fileURLWithPath: path))
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        // A tensor name used twice fails while serialising; a folder made read-only fails the create.
        XCTAssertThrowsError(try SafetensorsFile(tensors: file.tensors + file.tensors).write(to: URL(fileURLWithPath: path)))
        if getuid() != 0 {
            chmod(directory.path, 0o555)
            defer { chmod(directory.path, 0o755) }
            XCTAssertThrowsError(try AtomicFile.write([1, 2, 3], to: path)) { XCTAssertTrue("\($0)".contains("cannot create"), "\($0)") }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
        // The new file takes the umask's mode, as a plain create would.
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        let mask = umask(0o022); umask(mask)
        XCTAssertEqual(info.st_mode & 0o777, 0o666 & ~mask)
    }
}

/// inotify on one folder: every event's mask, per name, since it was made.
final class FolderWatch {
    private let descriptor: Int32

    init(_ folder: String) throws {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0,
              inotify_add_watch(descriptor, folder, UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE)) >= 0 else {
            throw NSError(domain: "inotify", code: Int(errno))
        }
    }

    deinit { close(descriptor) }

    /// The masks OR-ed per name, for `name` only.
    func events(named name: String) -> [String: UInt32] {
        var seen: [String: UInt32] = [:]
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var offset = 0
            while offset + 16 <= count {
                let mask = buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = Int(buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 12, as: UInt32.self) })
                let raw = buffer[(offset + 16)..<(offset + 16 + length)]
                let eventName = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                if eventName == name { seen[eventName, default: 0] |= mask }
                offset += 16 + length
            }
        }
        return seen
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSCondition()
    private var value = false, ended = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
    func finished() { lock.lock(); ended = true; lock.broadcast(); lock.unlock() }
    func waitUntilFinished() { lock.lock(); while !ended { lock.wait() }; lock.unlock() }
}

final class Counts: @unchecked Sendable {
    private let lock = NSLock()
    private var values = (reads: 0, missing: 0, torn: 0)
    func add(reads: Int = 0, missing: Int = 0, torn: Int = 0) {
        lock.lock(); values.reads += reads; values.missing += missing; values.torn += torn; lock.unlock()
    }
    var reads: Int { lock.lock(); defer { lock.unlock() }; return values.reads }
    var missing: Int { lock.lock(); defer { lock.unlock() }; return values.missing }
    var torn: Int { lock.lock(); defer { lock.unlock() }; return values.torn }
}
