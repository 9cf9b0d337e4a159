import XCTest
@testable import AudioIO

/// Writes a known signal in each format with `AudioWriter`, decodes it back and compares.
final class DecoderRoundTripTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Minimum SNR (lossless) or correlation (lossy) of the decoded signal, per format.
    func assertRoundTrip(_ format: AudioFileFormat, rate: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let written = TestAudio.chord(sampleRate: rate, seconds: 1)
        let target = path("chord.\(format.rawValue)")
        try AudioWriter.write(written, sampleRate: rate, to: target, format: format, quality: 0.9)
        let decoded = try AudioDecoder.decode(path: target, options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(decoded.sourceFormat, format)
        XCTAssertEqual(decoded.sampleRate, rate)
        XCTAssertEqual(decoded.sourceSampleRate, rate)
        XCTAssertEqual(decoded.sourceChannels, 1)
        XCTAssertEqual(decoded.sourceDuration ?? 0, 1, accuracy: 0.03, "\(format)")
        if format.isLossy {
            // Codecs may shift by their delay when not gapless; align before comparing.
            let alignment = TestAudio.bestAlignment(written, decoded.samples, maxLag: 100)
            print("\(format): lag \(alignment.lag), correlation \(alignment.correlation), \(decoded.samples.count) of \(written.count) samples")
            XCTAssertGreaterThan(alignment.correlation, 0.98, "\(format)", file: file, line: line)
            XCTAssertEqual(decoded.samples.count, written.count, "\(format) length")
        } else {
            XCTAssertEqual(decoded.samples.count, written.count)
            // 16-bit PCM: quantisation noise sits near -98 dBFS.
            XCTAssertGreaterThan(TestAudio.snr(decoded.samples, written, range: 0..<written.count), 80, "\(format)", file: file, line: line)
        }
        // The same bytes decode identically from memory.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: target)))
        let fromMemory = try AudioDecoder.decode(bytes: bytes, name: "upload", options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(fromMemory.samples, decoded.samples, "\(format) from memory")
    }

    func testWAVRoundTrip() throws { try assertRoundTrip(.wav, rate: 44100) }
    func testFLACRoundTrip() throws { try assertRoundTrip(.flac, rate: 44100) }
    func testAIFFRoundTrip() throws { try assertRoundTrip(.aiff, rate: 22050) }
    func testOggVorbisRoundTrip() throws { try assertRoundTrip(.ogg, rate: 44100) }
    func testOpusRoundTrip() throws { try assertRoundTrip(.opus, rate: 48000) }
    func testMP3RoundTripIsGapless() throws { try assertRoundTrip(.mp3, rate: 44100) }

    func testResamplesToTheTargetRate() throws {
        let file = path("tone.flac")
        try AudioWriter.write(TestAudio.sine(frequency: 1000, sampleRate: 48000, seconds: 1), sampleRate: 48000, to: file)
        let decoded = try AudioDecoder.decode(path: file)  // default 22050
        XCTAssertEqual(decoded.sampleRate, 22050)
        XCTAssertEqual(decoded.sourceSampleRate, 48000)
        XCTAssertEqual(decoded.samples.count, 22050)
        let expected = TestAudio.sine(frequency: 1000, sampleRate: 22050, seconds: 1)
        // 16-bit source: the bound is the quantisation noise, not the resampler.
        XCTAssertGreaterThan(TestAudio.snr(decoded.samples, expected, range: 1000..<21000), 75)
    }

    func testStereoIsDownmixedToTheMeanOfChannels() throws {
        let left = TestAudio.sine(frequency: 440, sampleRate: 44100, seconds: 0.5, amplitude: 0.6)
        let right = TestAudio.sine(frequency: 1320, sampleRate: 44100, seconds: 0.5, amplitude: 0.2)
        let interleaved = zip(left, right).flatMap { [$0, $1] }
        for format in [AudioFileFormat.wav, .flac] {
            let file = path("stereo.\(format.rawValue)")
            try AudioWriter.write(interleaved, sampleRate: 44100, channels: 2, to: file)
            let decoded = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil))
            XCTAssertEqual(decoded.sourceChannels, 2)
            let mean = zip(left, right).map { ($0 + $1) / 2 }
            XCTAssertGreaterThan(TestAudio.snr(decoded.samples, mean, range: 0..<mean.count), 80, "\(format)")
        }
        // Lossy stereo (MP3 joint stereo): the mean survives, not the channels' difference.
        let file = path("stereo.mp3")
        try AudioWriter.write(interleaved, sampleRate: 44100, channels: 2, to: file, quality: 0.9)
        let decoded = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(decoded.sourceChannels, 2)
        let mean = zip(left, right).map { ($0 + $1) / 2 }
        XCTAssertGreaterThan(TestAudio.bestAlignment(mean, decoded.samples, maxLag: 100).correlation, 0.98)
    }

    /// MP3 is mixed to mono inside mpg123 (one synthesis filter bank instead of two): the
    /// result must equal decoding both channels and averaging them.
    func testMP3MonoMixEqualsTheMeanOfTheDecodedChannels() throws {
        let left = TestAudio.sine(frequency: 440, sampleRate: 44100, seconds: 1, amplitude: 0.6)
        let right = TestAudio.chord(sampleRate: 44100, seconds: 1)
        let file = path("mix.mp3")
        try AudioWriter.write(zip(left, right).flatMap { [$0, $1] }, sampleRate: 44100, channels: 2, to: file, quality: 0.9)
        let reader = try MP3Reader(source: ByteSource(path: file))
        XCTAssertEqual(reader.channels, 2)
        var stereo = [Float](repeating: 0, count: 2 * 4096)
        var mean: [Float] = []
        while true {
            let n = try stereo.withUnsafeMutableBufferPointer { try reader.read(into: $0.baseAddress!, frames: 4096) }
            if n == 0 { break }
            for i in 0..<n { mean.append((stereo[2 * i] + stereo[2 * i + 1]) / 2) }
        }
        let mixed = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(mixed.sourceChannels, 2)
        XCTAssertEqual(mixed.samples.count, mean.count)
        let peak = mean.map(abs).max() ?? 0
        let worst = zip(mixed.samples, mean).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertGreaterThan(peak, 0.3)
        XCTAssertLessThan(worst, 1e-5 * peak, "mono mix vs mean of channels")
    }

    /// Opus decodes straight at 24 kHz when the target is 22050 Hz: same length, same audio
    /// below 11 kHz as decoding at 48 kHz and resampling, and the source still reads 48 kHz.
    func testOpusDecodesAtTheLowestRateThatKeepsTheTargetBand() throws {
        let rate = 48000
        let tone = TestAudio.sine(frequency: 1000, sampleRate: rate, seconds: 2, amplitude: 0.5)
        let high = TestAudio.sine(frequency: 15000, sampleRate: rate, seconds: 2, amplitude: 0.2)
        let file = path("tones.opus")
        try AudioWriter.write(zip(tone, high).map { $0 + $1 }, sampleRate: rate, to: file, quality: 0.9)
        let reader = try SndFileReader(source: ByteSource(path: file), decodeRateAtLeast: 22050)
        XCTAssertEqual(reader.sampleRate, 24000)
        XCTAssertEqual(reader.sourceSampleRate, 48000)
        XCTAssertEqual(Double(reader.declaredFrames ?? 0) / 24000, 2, accuracy: 0.02)
        let direct = try AudioDecoder.decode(path: file)
        XCTAssertEqual(direct.sourceSampleRate, 48000)
        XCTAssertEqual(direct.samples.count, 2 * 22050)
        let full = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(full.sampleRate, 48000)
        let viaFull = try Resampler(from: 48000, to: 22050).process(full.samples)
        XCTAssertEqual(viaFull.count, direct.samples.count)
        let alignment = TestAudio.bestAlignment(viaFull, direct.samples, maxLag: 50)
        XCTAssertEqual(alignment.lag, 0)
        XCTAssertGreaterThan(alignment.correlation, 0.999)
        // The 15 kHz tone is gone, the 1 kHz one kept.
        let expected = TestAudio.sine(frequency: 1000, sampleRate: 22050, seconds: 2, amplitude: 0.5)
        XCTAssertGreaterThan(TestAudio.bestAlignment(expected, direct.samples, maxLag: 50).correlation, 0.99)
    }

    func testOffsetAndDurationSelectTheRightSamples() throws {
        // A ramp makes every sample's position visible.
        let rate = 8000
        let ramp = (0..<(rate * 4)).map { Float($0) / Float(rate * 4) - 0.5 }
        let file = path("ramp.wav")
        try AudioWriter.write(ramp, sampleRate: rate, to: file)
        let part = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil, offset: 1.5, duration: 2))
        XCTAssertEqual(part.samples.count, 2 * rate)
        XCTAssertEqual(part.samples.first ?? 0, ramp[rate * 3 / 2], accuracy: 1e-4)
        XCTAssertEqual(part.samples.last ?? 0, ramp[rate * 7 / 2 - 1], accuracy: 1e-4)
        XCTAssertEqual(part.sourceDuration ?? 0, 4, accuracy: 1e-9)
        // Past the end: nothing, not an error; a duration beyond the end stops at the end.
        XCTAssertEqual(try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil, offset: 10)).samples.count, 0)
        XCTAssertEqual(try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil, offset: 3, duration: 5)).samples.count, rate)
        // Resampled windows have the target rate's length.
        XCTAssertEqual(try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: 16000, offset: 1, duration: 1)).samples.count, 16000)
    }

    func testMP3OffsetSeeksToTheSameSamplesAsAFullDecode() throws {
        let file = path("seek.mp3")
        try AudioWriter.write(TestAudio.chord(sampleRate: 44100, seconds: 3), sampleRate: 44100, to: file)
        let whole = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil)).samples
        let part = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil, offset: 1.25, duration: 0.5)).samples
        XCTAssertEqual(part.count, 22050)
        let start = Int(1.25 * 44100)
        XCTAssertGreaterThan(TestAudio.correlation(part[...], whole[start..<(start + part.count)]), 0.999)
    }

    func testDecodedSampleCapThrowsInsteadOfGrowing() throws {
        let file = path("long.wav")
        try AudioWriter.write(TestAudio.sine(frequency: 440, sampleRate: 8000, seconds: 3), sampleRate: 8000, to: file)
        // One second of mono Float32 at the source rate.
        let cap = 8000 * 4
        XCTAssertThrowsError(try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil, maxDecodedBytes: cap))) { error in
            guard case AudioError.tooLarge = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("long.wav") && "\(error)".contains("TIMBRE_MAX_DECODED_BYTES"), "\(error)")
        }
        // Asking for less than the cap is fine.
        XCTAssertEqual(try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil, duration: 0.5, maxDecodedBytes: cap)).samples.count, 4000)
        // The resampled output counts too: 0.5 s at 8 kHz is 16,000 bytes, and 44,100 more at 22,050 Hz.
        XCTAssertThrowsError(try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: 22050, duration: 0.5, maxDecodedBytes: cap)))
    }

    func testWrongExtensionStillDecodesFromContent() throws {
        let file = path("actually-flac.mp3")
        try AudioWriter.write(TestAudio.chord(sampleRate: 22050, seconds: 0.5), sampleRate: 22050, to: file, format: .flac)
        let decoded = try AudioDecoder.decode(path: file, options: DecodeOptions(targetSampleRate: nil))
        XCTAssertEqual(decoded.sourceFormat, .flac)
        XCTAssertEqual(decoded.samples.count, 11025)
        let mp3 = path("actually-mp3.wav")
        try AudioWriter.write(TestAudio.chord(sampleRate: 44100, seconds: 0.5), sampleRate: 44100, to: mp3, format: .mp3)
        XCTAssertEqual(try AudioDecoder.decode(path: mp3).sourceFormat, .mp3)
    }

    func testDecodeThroughput() throws {
        let seconds = 30.0
        let signal = TestAudio.chord(sampleRate: 44100, seconds: seconds)
        let stereo = zip(signal, signal.reversed()).flatMap { [$0, $1] }
        for format in [AudioFileFormat.mp3, .flac, .wav, .ogg] {
            let path = path("long.\(format.rawValue)")
            try AudioWriter.write(stereo, sampleRate: 44100, channels: 2, to: path)
            let start = Date()
            let decoded = try AudioDecoder.decode(path: path)
            let elapsed = Date().timeIntervalSince(start)
            let nativeStart = Date()
            let native = try AudioDecoder.decode(path: path, options: DecodeOptions(targetSampleRate: nil))
            let nativeElapsed = Date().timeIntervalSince(nativeStart)
            print("decode \(format) 44.1 kHz stereo, \(Int(seconds)) s of audio: \(String(format: "%.1f", elapsed * 1000)) ms to 22.05 kHz mono, \(String(format: "%.1f", nativeElapsed * 1000)) ms to 44.1 kHz mono")
            XCTAssertEqual(native.samples.count, Int(seconds * 44100))
            XCTAssertEqual(decoded.samples.count, Int(seconds * 22050))
        }
    }

    func testConcurrentDecodesMatchSerialOnes() throws {
        var inputs: [String] = []
        for (i, format) in [AudioFileFormat.wav, .flac, .mp3, .ogg, .opus, .aiff].enumerated() {
            let path = path("concurrent\(i).\(format.rawValue)")
            try AudioWriter.write(TestAudio.chord(sampleRate: 48000, seconds: 0.5), sampleRate: 48000, to: path)
            inputs.append(path)
        }
        let serial = try inputs.map { try AudioDecoder.decode(path: $0).samples }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var mismatches = 0
        }
        let results = Results()
        let paths = inputs
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            let same = (try? AudioDecoder.decode(path: paths[i % paths.count]).samples) == serial[i % paths.count]
            results.lock.lock(); if !same { results.mismatches += 1 }; results.lock.unlock()
        }
        XCTAssertEqual(results.mismatches, 0)
    }

    func testZeroDurationGivesNoSamples() throws {
        let path = path("short.wav")
        try AudioWriter.write(TestAudio.sine(frequency: 440, sampleRate: 8000, seconds: 0.5), sampleRate: 8000, to: path)
        XCTAssertEqual(try AudioDecoder.decode(path: path, options: DecodeOptions(duration: 0)).samples, [])
    }
}
