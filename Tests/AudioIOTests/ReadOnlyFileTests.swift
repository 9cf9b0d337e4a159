import Foundation
import XCTest
@testable import AudioIO

/// Library files are opened read-only by descriptor and refused unless they are regular files
/// inside the library root; nothing here may block (each open runs under a deadline).
final class ReadOnlyFileTests: XCTestCase {
    var root: URL!
    var outside: URL!

    override func setUp() {
        root = TestAudio.scratchDirectory().resolvingSymlinksInPath()
        outside = TestAudio.scratchDirectory().resolvingSymlinksInPath()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: outside)
    }

    private func wav(_ url: URL) throws {
        try AudioWriter.write(TestAudio.sine(frequency: 440, sampleRate: 16000, seconds: 0.5), sampleRate: 16000, to: url.path, format: .wav)
    }

    /// Opens `path` confined to the root on another thread; fails the test if that takes over 5 s.
    private func openConfined(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> Result<ReadOnlyFile, AudioError> {
        let result = LockedResult()
        let done = DispatchSemaphore(value: 0)
        let root = self.root.path
        Thread.detachNewThread {
            do throws(AudioError) { result.value = .success(try ReadOnlyFile(path: path, confinedTo: root)) } catch { result.value = .failure(error) }
            done.signal()
        }
        guard done.wait(timeout: .now() + 5) == .success, let value = result.value else {
            XCTFail("opening \(path) blocked", file: file, line: line)
            return .failure(.unreadable(path: path, reason: "blocked"))
        }
        return value
    }

    private func assertRefused(_ path: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        switch openConfined(path, file: file, line: line) {
        case .success: XCTFail("\(path) was opened", file: file, line: line)
        case .failure(let error):
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "\(error) should say \(fragment)", file: file, line: line)
            }
        }
    }

    func testARegularFileInsideTheRootOpensAndDecodesFromItsDescriptor() throws {
        let url = root.appendingPathComponent("a.wav")
        try wav(url)
        let file = try openConfined(url.path).get()
        XCTAssertEqual(file.size, Int64(try Data(contentsOf: url).count))
        // Decoding, excerpts and metadata all read the descriptor: the path may go away.
        try FileManager.default.removeItem(at: url)
        XCTAssertEqual(try AudioDecoder.decode(file: file, options: DecodeOptions(targetSampleRate: nil)).samples.count, 8000)
        XCTAssertEqual(try AudioMetadata.read(file: file).duration, 0.5, accuracy: 1e-9)
        XCTAssertEqual(try AudioDecoder.decodeExcerpts(file: file, options: DecodeOptions(targetSampleRate: nil)) { _ in [0..<100] }
            .excerpts.first?.samples.count, 100)
    }

    func testASymlinkInsideTheRootIsOpenedAtItsTarget() throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try wav(root.appendingPathComponent("sub/real.wav"))
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("link.wav").path, withDestinationPath: "sub/real.wav")
        XCTAssertNoThrow(try openConfined(root.appendingPathComponent("link.wav").path).get())
    }

    func testSymlinksOutOfTheRootAreRefused() throws {
        try wav(outside.appendingPathComponent("secret.wav"))
        let link = root.appendingPathComponent("a.wav").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside.appendingPathComponent("secret.wav").path)
        assertRefused(link, ["symbolic link", "outside the library", "not opened"])
        let zero = root.appendingPathComponent("zero.wav").path
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        assertRefused(zero, ["symbolic link to /dev/zero", "outside the library"])
        let broken = root.appendingPathComponent("broken.wav").path
        try FileManager.default.createSymbolicLink(atPath: broken, withDestinationPath: root.appendingPathComponent("none.wav").path)
        assertRefused(broken, ["broken symbolic link"])
    }

    /// A folder inside the root swapped for a symlink out of it: O_NOFOLLOW only covers the last
    /// component, so the descriptor's real path is what catches this.
    func testAFileReachedThroughAFolderLinkedOutOfTheRootIsRefused() throws {
        try wav(outside.appendingPathComponent("b.wav"))
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("album").path, withDestinationPath: outside.path)
        assertRefused(root.appendingPathComponent("album/b.wav").path, ["lies at \(outside.path)/b.wav", "outside the library"])
    }

    func testFIFOsAndDevicesAreRefusedWithoutBlocking() throws {
        let fifo = root.appendingPathComponent("pipe.wav").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0, String(cString: strerror(errno)))
        assertRefused(fifo, ["FIFO", "not a regular file"])
        // A path the user names (timbre info) follows symlinks but still never waits on a FIFO.
        XCTAssertThrowsError(try ReadOnlyFile(path: fifo)) { XCTAssertTrue("\($0)".contains("FIFO"), "\($0)") }
        XCTAssertThrowsError(try AudioDecoder.decode(path: "/dev/zero")) { XCTAssertTrue("\($0)".contains("character device"), "\($0)") }
        assertRefused(root.path, ["a folder"])
        // A device node inside the library (root may create one; elsewhere this part is skipped).
        let device = root.appendingPathComponent("zero.flac").path
        if mknod(device, S_IFCHR | 0o644, dev_t(1 << 8 | 5)) == 0 {
            assertRefused(device, ["character device", "not opened"])
        }
    }

    func testMissingFilesSayNoSuchFile() {
        assertRefused(root.appendingPathComponent("none.wav").path, ["no such file"])
    }
}

private final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<ReadOnlyFile, AudioError>?
    var value: Result<ReadOnlyFile, AudioError>? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
