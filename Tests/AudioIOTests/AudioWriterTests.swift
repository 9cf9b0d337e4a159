import XCTest
@testable import AudioIO

final class AudioWriterTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func testWritesEveryFormatWithTheRightContainer() throws {
        let signal = TestAudio.chord(sampleRate: 44100, seconds: 0.3)
        let magic: [AudioFileFormat: (offset: Int, text: String)] = [
            .wav: (8, "WAVE"), .flac: (0, "fLaC"), .ogg: (29, "vorbis"), .opus: (28, "OpusHead"), .aiff: (8, "AIFF"),
        ]
        for format in AudioFileFormat.allCases {
            let path = directory.appendingPathComponent("out.\(format.rawValue)").path
            try AudioWriter.write(signal, sampleRate: 44100, to: path)  // format from the extension
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            if let (offset, text) = magic[format] {
                XCTAssertEqual(String(decoding: bytes[offset..<(offset + text.utf8.count)], as: UTF8.self), text, "\(format)")
            } else {  // MP3: a frame sync (or ID3) at the start
                XCTAssertTrue(bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0 || bytes.starts(with: Array("ID3".utf8)), "\(format)")
            }
            let decoded = try AudioDecoder.decode(path: path, options: DecodeOptions(targetSampleRate: nil))
            XCTAssertEqual(decoded.sourceFormat, format)
            // Opus stores 48 kHz: the writer resampled.
            XCTAssertEqual(decoded.sampleRate, format == .opus ? 48000 : 44100, "\(format)")
            XCTAssertEqual(decoded.duration, 0.3, accuracy: 0.001, "\(format)")
        }
    }

    func testPCMClipsInsteadOfWrappingAround() throws {
        let path = directory.appendingPathComponent("loud.wav").path
        try AudioWriter.write([1.5, -1.5, 0.25], sampleRate: 8000, to: path)
        let decoded = try AudioDecoder.decode(path: path, options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(decoded.samples[0], 1, accuracy: 1e-3)
        XCTAssertEqual(decoded.samples[1], -1, accuracy: 1e-3)
        XCTAssertEqual(decoded.samples[2], 0.25, accuracy: 1e-3)
    }

    func testRejectsBadParametersAndLeavesNoFile() {
        let path = directory.appendingPathComponent("bad.wav").path
        XCTAssertThrowsError(try AudioWriter.write([0, 0, 0], sampleRate: 44100, channels: 2, to: path))
        XCTAssertThrowsError(try AudioWriter.write([0], sampleRate: 0, to: path))
        XCTAssertThrowsError(try AudioWriter.write([0], sampleRate: 44100, to: directory.appendingPathComponent("x.xyz").path))
        // LAME only takes MPEG rates.
        XCTAssertThrowsError(try AudioWriter.write([0, 0], sampleRate: 96000, to: directory.appendingPathComponent("x.mp3").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
