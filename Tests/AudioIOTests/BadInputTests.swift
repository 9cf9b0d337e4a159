import SeededRandom
import XCTest
@testable import AudioIO

/// Damaged and hostile input gives a typed `AudioError` naming the input, never a crash,
/// a hang or an allocation sized by a lying header.
final class BadInputTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func write(_ bytes: [UInt8], _ name: String) -> String {
        let url = directory.appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        return url.path
    }

    /// Asserts that both the path and the in-memory decode fail, naming the input.
    func assertFails(_ bytes: [UInt8], _ name: String, mentioning words: [String] = [],
                     file: StaticString = #filePath, line: UInt = #line) {
        let path = write(bytes, name)
        do {
            let decoded = try AudioDecoder.decode(path: path)
            XCTFail("\(name) decoded to \(decoded.samples.count) samples", file: file, line: line)
        } catch {
            XCTAssertTrue(error.description.contains(path), "\(error)", file: file, line: line)
            for word in words { XCTAssertTrue(error.description.contains(word), "\(error) lacks “\(word)”", file: file, line: line) }
        }
        do {
            _ = try AudioDecoder.decode(bytes: bytes, name: "upload-\(name)")
            XCTFail("\(name) decoded from memory", file: file, line: line)
        } catch {
            XCTAssertTrue(error.description.contains("upload-\(name)"), "\(error)", file: file, line: line)
        }
    }

    /// A canonical 44-byte WAV header (PCM) with every field settable, then `payload`.
    static func wav(channels: UInt16 = 1, rate: UInt32 = 44100, bits: UInt16 = 16, fmtSize: UInt32 = 16,
                    dataSize: UInt32? = nil, riffSize: UInt32? = nil, payload: [UInt8] = [UInt8](repeating: 0, count: 4000)) -> [UInt8] {
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let blockAlign = UInt16(truncatingIfNeeded: Int(channels) * Int(bits) / 8)
        let byteRate = UInt32(truncatingIfNeeded: Int(rate) * Int(blockAlign))
        var out = Array("RIFF".utf8) + le32(riffSize ?? UInt32(36 + payload.count)) + Array("WAVE".utf8)
        out += Array("fmt ".utf8) + le32(fmtSize) + le16(1) + le16(channels) + le32(rate) + le32(byteRate) + le16(blockAlign) + le16(bits)
        out += Array("data".utf8) + le32(dataSize ?? UInt32(payload.count)) + payload
        return out
    }

    func testSanityTheHeaderBuilderMakesAValidWAV() throws {
        let decoded = try AudioDecoder.decode(bytes: Self.wav(), options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(decoded.samples.count, 2000)
        XCTAssertEqual(decoded.sourceSampleRate, 44100)
    }

    func testMissingFileAndDirectory() {
        XCTAssertThrowsError(try AudioDecoder.decode(path: directory.appendingPathComponent("nope.wav").path)) { error in
            guard case AudioError.fileNotFound = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try AudioDecoder.decode(path: directory.path)) { error in
            guard case AudioError.unreadable = error else { return XCTFail("\(error)") }
        }
    }

    func testZeroLength() {
        for ext in ["wav", "flac", "mp3", "ogg", "opus", "aiff"] { assertFails([], "empty.\(ext)", mentioning: ["empty"]) }
    }

    func testTextAndRandomBytesAreNotAudio() {
        let text = Array("This is not audio at all, just some words in a file.\n".utf8)
        assertFails(text, "notes.wav", mentioning: ["not a supported audio format"])
        assertFails(text, "notes.flac")
        var generator = SeededGenerator(seed: 42)
        let noise = (0..<65536).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        assertFails(noise, "noise.wav")
        assertFails(noise, "noise.bin")
        assertFails(noise, "noise.ogg")
        assertFails(noise, "noise.mp3")
    }

    func testTruncatedFiles() throws {
        let rate = 22050
        let signal = TestAudio.chord(sampleRate: rate, seconds: 1)
        for format in [AudioFileFormat.wav, .flac, .aiff, .ogg, .mp3] {
            let path = directory.appendingPathComponent("whole.\(format.rawValue)").path
            try AudioWriter.write(signal, sampleRate: rate, to: path, format: format)
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            // Cut inside the header: nothing decodable is left.
            for cut in [3, 11, 30] { assertFails(Array(bytes.prefix(cut)), "cut\(cut).\(format.rawValue)") }
        }
        // A FLAC cut in its frames falls short of the length its STREAMINFO declares.
        let flac = directory.appendingPathComponent("whole.flac").path
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: flac)))
        assertFails(Array(bytes.prefix(bytes.count / 2)), "half.flac", mentioning: ["truncated"])
        // Cut in the audio data: every format notices the end comes before its header said.
        for format in [AudioFileFormat.wav, .aiff, .ogg, .mp3] {
            let path = directory.appendingPathComponent("whole.\(format.rawValue)").path
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            assertFails(Array(bytes.prefix(bytes.count * 6 / 10)), "cut60.\(format.rawValue)")
        }
    }

    func testHugeHeaderSizesDoNotAllocateFromTheHeader() throws {
        // 2^31 frames declared, 2000 present: decodes what exists (or fails), without a 8 GB buffer.
        for bytes in [Self.wav(dataSize: 0xFFFF_FFF0), Self.wav(dataSize: 0xFFFF_FFF0, riffSize: 0xFFFF_FFFF)] {
            do {
                let decoded = try AudioDecoder.decode(bytes: bytes, options: DecodeOptions(targetSampleRate: nil))
                XCTAssertLessThanOrEqual(decoded.samples.count, 2000)
            } catch {
                XCTAssertTrue(error.description.contains("<memory>"))
            }
        }
        assertFails(Self.wav(fmtSize: 0x7FFF_FFF0), "hugefmt.wav")
    }

    func testZeroChannelsAndAbsurdSampleRates() {
        assertFails(Self.wav(channels: 0), "nochannels.wav")
        assertFails(Self.wav(channels: 5000), "manychannels.wav")
        for rate: UInt32 in [0, 1, 1_000_000_000] {
            assertFails(Self.wav(rate: rate), "rate\(rate).wav")
        }
        assertFails(Self.wav(bits: 0), "nobits.wav")
    }

    func testBadOptionsAreRejected() {
        let bytes = Self.wav()
        for options in [DecodeOptions(offset: -1), DecodeOptions(offset: .nan), DecodeOptions(duration: -2),
                        DecodeOptions(duration: .infinity), DecodeOptions(maxDecodedBytes: 0), DecodeOptions(targetSampleRate: 0)] {
            XCTAssertThrowsError(try AudioDecoder.decode(bytes: bytes, options: options)) { error in
                guard case AudioError.invalidParameters = error else { return XCTFail("\(error)") }
            }
        }
        // Huge but finite values saturate instead of overflowing a frame count.
        XCTAssertEqual(try AudioDecoder.decode(bytes: bytes, options: DecodeOptions(offset: 1e30)).samples, [])
        XCTAssertEqual(try AudioDecoder.decode(bytes: bytes, options: DecodeOptions(targetSampleRate: nil, duration: 1e30, maxDecodedBytes: Int.max)).samples.count, 2000)
    }

    func testCorruptPayloadsNeverCrash() throws {
        // An MP3 whose frames after the first are overwritten with junk, and an Ogg with a damaged page.
        for format in [AudioFileFormat.mp3, .ogg, .flac] {
            let path = directory.appendingPathComponent("c.\(format.rawValue)").path
            try AudioWriter.write(TestAudio.chord(sampleRate: 44100, seconds: 1), sampleRate: 44100, to: path, format: format)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            var generator = SeededGenerator(seed: 7)
            for i in stride(from: 200, to: bytes.count, by: 3) { bytes[i] = UInt8(truncatingIfNeeded: generator.next()) }
            do {
                let decoded = try AudioDecoder.decode(bytes: bytes, name: "junk.\(format.rawValue)")
                XCTAssertTrue(decoded.samples.allSatisfy(\.isFinite))
            } catch {
                XCTAssertTrue(error.description.contains("junk.\(format.rawValue)"))
            }
        }
    }
}
