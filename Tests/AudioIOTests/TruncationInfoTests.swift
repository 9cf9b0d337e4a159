import Foundation
import XCTest
@testable import AudioIO

/// `AudioMetadata.read` (and so `timbre info`) tells a file cut short of its header from a
/// whole one without decoding it whole: a 1,000-byte cut of a 3-s FLAC is "truncated: header
/// says 3.00 s, 0.0x s decodable", and `timbre info` exits 1 on it.
final class TruncationInfoTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A 3-second stereo chord at 44.1 kHz in `format`; its bytes.
    func whole(_ format: AudioFileFormat) throws -> (path: String, bytes: [UInt8]) {
        let path = directory.appendingPathComponent("whole.\(format.rawValue)").path
        let chord = TestAudio.chord(sampleRate: 44100, seconds: 3)
        try AudioWriter.write(zip(chord, chord.reversed()).flatMap { [$0, $1] }, sampleRate: format == .opus ? 48000 : 44100,
                              channels: 2, to: path, format: format)
        return (path, try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
    }

    func cut(_ bytes: [UInt8], to count: Int, _ name: String) -> String {
        let path = directory.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes.prefix(count))))
        return path
    }

    func testA1000ByteCutOfA3SecondFLACIsTruncated() throws {
        let flac = try whole(.flac)
        let cutPath = cut(flac.bytes, to: 1000, "cut.flac")
        let metadata = try AudioMetadata.read(path: cutPath)
        let truncation = try XCTUnwrap(metadata.truncation, "a 1,000-byte cut of a \(flac.bytes.count)-byte FLAC")
        XCTAssertEqual(truncation.declaredDuration ?? 0, 3, accuracy: 0.01)
        XCTAssertLessThan(truncation.decodableDuration ?? 99, 0.5)
        XCTAssertTrue(truncation.summary.hasPrefix("header says 3.00 s, "), truncation.summary)
        XCTAssertEqual(metadata.duration, 3, accuracy: 0.01, "duration stays the header's")
        // Cut in half, about half of it decodes (to a frame).
        let half = try XCTUnwrap(try AudioMetadata.read(path: cut(flac.bytes, to: flac.bytes.count / 2, "half.flac")).truncation)
        XCTAssertEqual(half.decodableDuration ?? 0, 1.5, accuracy: 0.3)
        XCTAssertNil(try AudioMetadata.read(path: flac.path).truncation)
    }

    func testWholeFilesOfEveryFormatAreNotTruncated() throws {
        for format in AudioFileFormat.allCases {
            let file = try whole(format)
            XCTAssertNil(try AudioMetadata.read(path: file.path).truncation, "\(format)")
        }
        // Mono, and a length that is no multiple of a FLAC block.
        let path = directory.appendingPathComponent("odd.flac").path
        try AudioWriter.write(TestAudio.sine(frequency: 440, sampleRate: 22050, seconds: 1.2345), sampleRate: 22050, to: path)
        XCTAssertNil(try AudioMetadata.read(path: path).truncation)
    }

    func testEveryFormatCutInItsAudioIsTruncated() throws {
        for format in AudioFileFormat.allCases {
            let file = try whole(format)
            let path = cut(file.bytes, to: file.bytes.count * 6 / 10, "cut60.\(format.rawValue)")
            let truncation = try XCTUnwrap(try AudioMetadata.read(path: path).truncation, "\(format)")
            if let decodable = truncation.decodableDuration {
                // Ogg counts to the last whole page (libsndfile's Opus pages hold about a second).
                let ogg = format == .ogg || format == .opus
                XCTAssertEqual(decodable, ogg ? 1.3 : 1.8, accuracy: ogg ? 0.65 : 0.5, "\(format): \(truncation.summary)")
            }
            if format != .ogg && format != .opus {
                XCTAssertEqual(truncation.declaredDuration ?? 0, 3, accuracy: 0.1, "\(format): \(truncation.summary)")
            }
        }
    }

    func testTimbreInfoSaysTruncatedAndExits1() throws {
        let flac = try whole(.flac)
        let cutPath = cut(flac.bytes, to: 1000, "cut.flac")
        let binary = try TimbreProcess.binary()
        var run = try TimbreProcess.run([binary, "info", cutPath], directory: directory)
        XCTAssertEqual(run.status, 1, run.summary)
        XCTAssertTrue(run.stdout.contains("truncated") && run.stdout.contains("header says 3.00 s"), run.summary)
        XCTAssertTrue(run.stderr.contains("\(cutPath): truncated"), run.summary)
        run = try TimbreProcess.run([binary, "info", "--json", cutPath, flac.path], directory: directory)
        XCTAssertEqual(run.status, 1, run.summary)
        let files = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(files.count, 2)
        let truncation = try XCTUnwrap(files[0]["truncation"] as? [String: Any], run.stdout)
        XCTAssertEqual(truncation["declaredDuration"] as? Double ?? 0, 3, accuracy: 0.01)
        XCTAssertNil(files[1]["truncation"])
        run = try TimbreProcess.run([binary, "info", flac.path], directory: directory)
        XCTAssertEqual(run.status, 0, run.summary)
        XCTAssertFalse(run.stdout.contains("truncated"), run.summary)
    }
}
