import Foundation
import XCTest
@testable import AudioIO

#if canImport(Glibc)
import Glibc
#endif

/// `AudioWriter` replaces a file in one `rename(2)`: while one thread rewrites it, another
/// keeps decoding it and never finds it missing or short, inotify never shows the name
/// deleted or written in place, and a failed write leaves the old file.
final class AtomicWriteTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func testAFileBeingReplacedIsNeverMissingNorShort() throws {
        let path = directory.appendingPathComponent("replaced.wav").path
        let signal = TestAudio.sine(frequency: 440, sampleRate: 8000, seconds: 0.5)
        try AudioWriter.write(signal, sampleRate: 8000, to: path)
        let watch = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        XCTAssertGreaterThanOrEqual(watch, 0)
        defer { close(watch) }
        XCTAssertGreaterThanOrEqual(inotify_add_watch(watch, directory.path, UInt32(IN_DELETE | IN_MODIFY | IN_MOVED_TO | IN_CREATE)), 0)

        let state = ReaderState()
        let reader = Thread {
            while !state.stopping {
                do {
                    let decoded = try AudioDecoder.decode(path: path, options: DecodeOptions(targetSampleRate: nil))
                    state.record(decoded.samples.count == signal.count ? nil : "\(decoded.samples.count) samples")
                } catch {
                    state.record("\(error)")
                }
            }
            state.finish()
        }
        reader.start()
        for _ in 0..<200 { try AudioWriter.write(signal, sampleRate: 8000, to: path) }
        state.stopAndWait()
        let (reads, failures) = state.results

        XCTAssertGreaterThan(reads, 0)
        XCTAssertEqual(failures.count, 0, "\(failures.count) of \(reads + failures.count) reads failed: \(Array(Set(failures)).prefix(3))")
        var mask: UInt32 = 0
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var offset = 0
            while offset + 16 <= count {
                let length = Int(buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 12, as: UInt32.self) })
                let name = String(decoding: buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }, as: UTF8.self)
                if name == "replaced.wav" { mask |= buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 4, as: UInt32.self) } }
                offset += 16 + length
            }
        }
        XCTAssertEqual(mask & UInt32(IN_DELETE | IN_MODIFY | IN_CREATE), 0, String(mask, radix: 16))
        XCTAssertNotEqual(mask & UInt32(IN_MOVED_TO), 0, String(mask, radix: 16))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["replaced.wav"])
    }

    func testAFailedWriteLeavesWhatWasThereAndNoTemporary() throws {
        // The target is a folder: the audio is written, the rename over it fails.
        let path = directory.appendingPathComponent("taken.wav").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        XCTAssertThrowsError(try AudioWriter.write(TestAudio.sine(frequency: 440, sampleRate: 8000, seconds: 0.25), sampleRate: 8000, to: path)) { error in
            guard case AudioError.writeFailed = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains(path) && "\(error)".contains("rename"), "\(error)")
        }
        var isFolder: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["taken.wav"])
    }
}

/// What the reader thread saw, and its stop handshake.
final class ReaderState: @unchecked Sendable {
    private let condition = NSCondition()
    private var stop = false, ended = false, reads = 0, failures: [String] = []
    var stopping: Bool { condition.lock(); defer { condition.unlock() }; return stop }
    func record(_ failure: String?) {
        condition.lock(); reads += 1; if let failure { failures.append(failure) }; condition.unlock()
    }
    func finish() { condition.lock(); ended = true; condition.broadcast(); condition.unlock() }
    func stopAndWait() {
        condition.lock(); stop = true
        while !ended { condition.wait() }
        condition.unlock()
    }
    var results: (reads: Int, failures: [String]) { condition.lock(); defer { condition.unlock() }; return (reads - failures.count, failures) }
}
