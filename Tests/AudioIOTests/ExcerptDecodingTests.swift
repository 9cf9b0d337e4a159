import XCTest
@testable import AudioIO

/// `AudioDecoder.decodeExcerpts` decodes only the stretches asked for, and each equals the
/// same stretch of the whole decode.
final class ExcerptDecodingTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// 20 s of stereo music-like signal: a chord whose loudness and balance change over time,
    /// with a little seeded noise, so every stretch differs from the others.
    func signal(rate: Int, seconds: Double = 20) -> [Float] {
        let n = Int(Double(rate) * seconds)
        let chord = TestAudio.chord(sampleRate: rate, seconds: seconds)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var out = [Float](repeating: 0, count: 2 * n)
        for i in 0..<n {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let noise = Float(Int64(bitPattern: state >> 11) % 1000) / 1000 * 0.02
            let t = Double(i) / Double(rate)
            let envelope = Float(0.5 + 0.4 * sin(2 * .pi * t / 7))
            out[2 * i] = chord[i] * envelope + noise
            out[2 * i + 1] = chord[i] * (1.2 - envelope) - noise
        }
        return out
    }

    /// Five 1-second stretches at the target rate, the first at the very start and the last
    /// at the very end, as a tagger spreading its chunks would ask.
    func stretches(_ total: Int) -> [Range<Int>] {
        let length = 22050
        return (0..<5).map { i in
            let start = i * (total - length) / 4
            return start..<(start + length)
        }
    }

    /// Largest difference between each excerpt and the same samples of the whole decode.
    func assertExcerptsMatchWholeDecode(_ format: AudioFileFormat, rate: Int, tolerance: Float,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let target = directory.appendingPathComponent("music.\(format.rawValue)").path
        try AudioWriter.write(signal(rate: rate), sampleRate: rate, channels: 2, to: target, format: format, quality: 0.7)
        let whole = try AudioDecoder.decode(path: target)
        var asked: [Range<Int>] = []
        let excerpts = try AudioDecoder.decodeExcerpts(path: target) { total in
            asked = stretches(total)
            return asked
        }
        XCTAssertFalse(excerpts.decodedWhole, "\(format): five seconds of twenty are decoded alone", file: file, line: line)
        XCTAssertEqual(excerpts.sampleRate, 22050)
        XCTAssertEqual(excerpts.sourceChannels, 2)
        XCTAssertEqual(excerpts.sourceFormat, format)
        XCTAssertEqual(excerpts.totalSamples, whole.samples.count, "\(format): the length is the whole decode's", file: file, line: line)
        XCTAssertEqual(excerpts.excerpts.map(\.range), asked, "\(format)", file: file, line: line)
        var worst: Float = 0
        for excerpt in excerpts.excerpts {
            for (i, value) in excerpt.samples.enumerated() {
                worst = max(worst, abs(value - whole.samples[excerpt.start + i]))
            }
        }
        print("\(format) \(rate) Hz: excerpts differ from the whole decode by at most \(worst)")
        XCTAssertLessThanOrEqual(worst, tolerance, "\(format)", file: file, line: line)

        // An upload decodes the same.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: target)))
        let fromMemory = try AudioDecoder.decodeExcerpts(bytes: bytes, name: "upload.\(format.rawValue)") { stretches($0) }
        XCTAssertEqual(fromMemory.excerpts, excerpts.excerpts, "\(format) from memory", file: file, line: line)
    }

    // Lossless formats seek exactly and the resampler restarts in phase: rounding only
    // (measured: 0 for WAV, 3e-8 for AIFF and FLAC at 48 kHz).
    func testWAVExcerptsEqualTheWholeDecode() throws { try assertExcerptsMatchWholeDecode(.wav, rate: 44100, tolerance: 1e-6) }
    func testAIFFExcerptsEqualTheWholeDecode() throws { try assertExcerptsMatchWholeDecode(.aiff, rate: 48000, tolerance: 1e-6) }
    func testFLACExcerptsEqualTheWholeDecode() throws { try assertExcerptsMatchWholeDecode(.flac, rate: 48000, tolerance: 1e-6) }
    // Lossy decoders restart from a seek point with their pre-roll (measured: 9e-8 MP3, 0
    // Vorbis, 6e-8 Opus).
    func testMP3ExcerptsMatchTheWholeDecode() throws { try assertExcerptsMatchWholeDecode(.mp3, rate: 44100, tolerance: 1e-6) }
    func testVorbisExcerptsMatchTheWholeDecode() throws { try assertExcerptsMatchWholeDecode(.ogg, rate: 44100, tolerance: 1e-6) }
    func testOpusExcerptsMatchTheWholeDecode() throws { try assertExcerptsMatchWholeDecode(.opus, rate: 48000, tolerance: 1e-6) }

    func testStretchesCoveringMostOfTheFileDecodeItWhole() throws {
        let target = directory.appendingPathComponent("music.flac").path
        try AudioWriter.write(signal(rate: 44100, seconds: 4), sampleRate: 44100, channels: 2, to: target)
        let whole = try AudioDecoder.decode(path: target)
        let excerpts = try AudioDecoder.decodeExcerpts(path: target) { total in [0..<(total / 2), (total / 2 + 10)..<(total + 500)] }
        XCTAssertTrue(excerpts.decodedWhole)
        XCTAssertEqual(excerpts.excerpts.map(\.range), [0..<(whole.samples.count / 2), (whole.samples.count / 2 + 10)..<whole.samples.count],
                       "clipped to the track")
        XCTAssertEqual(excerpts.excerpts[1].samples, Array(whole.samples[(whole.samples.count / 2 + 10)...]))
    }

    func testTheDurationCapBoundsWhatIsDecodedNotTheFile() throws {
        let target = directory.appendingPathComponent("long.flac").path
        try AudioWriter.write(signal(rate: 44100), sampleRate: 44100, channels: 2, to: target)
        // 8 s of 44.1 kHz stereo resampled to 22,050 Hz: 2 decoded + ½ resampled samples per frame.
        let capped = DecodeOptions(maxDecodedBytes: 44100 * 8 * 10)
        XCTAssertThrowsError(try AudioDecoder.decode(path: target, options: capped)) { XCTAssertTrue("\($0)".contains("limit"), "\($0)") }
        // Five seconds of excerpts (plus margins) from a 20-second file under an 8-second cap.
        let excerpts = try AudioDecoder.decodeExcerpts(path: target, options: capped) { stretches($0) }
        XCTAssertFalse(excerpts.decodedWhole)
        XCTAssertEqual(excerpts.excerpts.count, 5)
        XCTAssertThrowsError(try AudioDecoder.decodeExcerpts(path: target, options: DecodeOptions(maxDecodedBytes: 44100 * 4 * 10)) { stretches($0) }) {
            XCTAssertTrue("\($0)".contains("limit"), "\($0)")
        }
    }

    func testOverlappingStretchesAreJoined() {
        XCTAssertEqual(AudioDecoder.normalized([30..<40, 0..<10, 5..<12, -5..<2, 50..<50, 90..<200], total: 100),
                       [0..<12, 30..<40, 90..<100])
        XCTAssertEqual(AudioDecoder.normalized([0..<10, 15..<20], total: 100, joiningWithin: 5), [0..<20])
        XCTAssertEqual(AudioDecoder.normalized([0..<10, 16..<20], total: 100, joiningWithin: 5), [0..<10, 16..<20])
    }

    func testTruncatedFileGivesTheWholeDecodesError() throws {
        let target = directory.appendingPathComponent("music.wav").path
        try AudioWriter.write(signal(rate: 44100), sampleRate: 44100, channels: 2, to: target)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: target)))
        let cut = Array(bytes.prefix(bytes.count / 3))
        XCTAssertThrowsError(try AudioDecoder.decodeExcerpts(bytes: cut, name: "cut.wav") { stretches($0) }) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
        XCTAssertThrowsError(try AudioDecoder.decodeExcerpts(path: target, options: DecodeOptions(offset: 3)) { stretches($0) }) { error in
            XCTAssertTrue("\(error)".contains("offset"), "\(error)")
        }
    }
}
