import XCTest
@testable import AudioIO

/// The resampler against the analytic sine at the output rate (the reference is exact math,
/// not another resampler).
final class ResamplerTests: XCTestCase {
    func assertSineSNR(from: Int, to: Int, frequencies: [Double], minimum: Double = 80,
                       quality: Resampler.Quality = .high, seconds: Double = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        let resampler = try Resampler(from: from, to: to, quality: quality)
        for f in frequencies {
            let input = TestAudio.sine(frequency: f, sampleRate: from, seconds: seconds, phase: 0.3)
            let output = resampler.process(input)
            XCTAssertEqual(output.count, (input.count * to + from - 1) / from, file: file, line: line)
            let expected = TestAudio.sine(frequency: f, sampleRate: to, seconds: Double(output.count) / Double(to), phase: 0.3)
            // The filter is centered, so only its half-length at each end sees the zero padding.
            let edge = to / 20
            let snr = TestAudio.snr(output, expected, range: edge..<(output.count - edge))
            print("Resampler \(from)→\(to) Hz, \(f) Hz sine: SNR \(String(format: "%.1f", snr)) dB")
            XCTAssertGreaterThanOrEqual(snr, minimum, "\(from)→\(to) Hz at \(f) Hz", file: file, line: line)
        }
    }

    func testDownsample44100To22050KeepsSinesAbove80dB() throws {
        try assertSineSNR(from: 44100, to: 22050, frequencies: [100, 1000, 5000, 9000])
    }

    func testDownsample48000To22050KeepsSinesAbove80dB() throws {
        try assertSineSNR(from: 48000, to: 22050, frequencies: [100, 1000, 5000, 9000])
    }

    func testUpsampleAndOtherCommonRatesKeepSines() throws {
        try assertSineSNR(from: 16000, to: 22050, frequencies: [100, 1000, 5000])
        try assertSineSNR(from: 96000, to: 22050, frequencies: [440, 7000])
        try assertSineSNR(from: 88200, to: 22050, frequencies: [440, 9000])  // two half-band stages
        try assertSineSNR(from: 22050, to: 44100, frequencies: [1000, 9000])
    }

    func testLongSignalsSplitAcrossThreadsStayContinuous() throws {
        // 8 s → 176400 outputs: processed in blocks on multi-core machines; the SNR over the
        // whole signal would collapse at a misplaced block boundary.
        try assertSineSNR(from: 48000, to: 22050, frequencies: [3000], seconds: 8)
        try assertSineSNR(from: 44100, to: 22050, frequencies: [3000], seconds: 8)
    }

    func testIrrationalLookingRatioUsesInterpolatedPhasesAndStaysAccurate() throws {
        // 44100 → 22051 has 22051 phases: above the exact-table limit.
        try assertSineSNR(from: 44100, to: 22051, frequencies: [1000, 5000], minimum: 75)
    }

    func testAboveNyquistIsRemovedNotAliased() throws {
        // 15 kHz at 44.1 kHz would alias to 7.05 kHz at 22.05 kHz without the low-pass.
        let output = try Resampler(from: 44100, to: 22050).process(TestAudio.sine(frequency: 15000, sampleRate: 44100, seconds: 1))
        let interior = output[1000..<(output.count - 1000)]
        let rms = (interior.map { Double($0) * Double($0) }.reduce(0, +) / Double(interior.count)).squareRoot()
        XCTAssertLessThan(20 * log10(rms / (0.5 / 2.squareRoot())), -85)
    }

    /// RMS of the output, in dB relative to the input sine's, away from the ends.
    func aliasLevel(from: Int, frequency: Double, quality: Resampler.Quality) throws -> Double {
        let output = try Resampler(from: from, to: 22050, quality: quality)
            .process(TestAudio.sine(frequency: frequency, sampleRate: from, seconds: 1))
        let interior = output[1000..<(output.count - 1000)]
        let rms = (interior.map { Double($0) * Double($0) }.reduce(0, +) / Double(interior.count)).squareRoot()
        return 20 * log10(max(rms, 1e-30) / (0.5 / 2.squareRoot()))
    }

    func testHighQualityStopBandStartsAt115PercentOfNyquist() throws {
        // 1.15 · 11025 Hz = 12679 Hz; 44.1 kHz goes through one half-band stage, 96 kHz through
        // a half-band stage then the 48 kHz polyphase bank, 48 kHz through that bank alone.
        for rate in [44100, 48000, 96000] {
            for f in [12800.0, 13000, 15000, 20000] {
                let level = try aliasLevel(from: rate, frequency: f, quality: .high)
                XCTAssertLessThan(level, -85, "\(rate) Hz, \(f) Hz sine")
            }
        }
    }

    func testAliasFreeQualityKeepsSinesAndStopsAtNyquist() throws {
        for rate in [44100, 48000] {
            try assertSineSNR(from: rate, to: 22050, frequencies: [100, 1000, 5000, 9000], quality: .aliasFree)
            // Just above the output Nyquist frequency: `.high` lets this fold into its
            // transition band; `.aliasFree` must not.
            let level = try aliasLevel(from: rate, frequency: 11500, quality: .aliasFree)
            XCTAssertLessThan(level, -85, "\(rate) Hz, 11.5 kHz sine")
        }
        try assertSineSNR(from: 88200, to: 22050, frequencies: [440, 9000], quality: .aliasFree)  // folded kernel
    }

    func testOutputLengthIsCeilingOfScaledInputForAnyLength() throws {
        // Half-band stages round up at each halving; the result must still be ⌈n·to/from⌉,
        // and the grouped kernel's leftover outputs (fewer than four) must be computed.
        for from in [44100, 48000, 88200, 96000] {
            let resampler = try Resampler(from: from, to: 22050)
            for n in 1...41 {
                let input = [Float](repeating: 0.25, count: n)
                let output = resampler.process(input)
                XCTAssertEqual(output.count, (n * 22050 + from - 1) / from, "\(from) Hz, \(n) samples")
                XCTAssertTrue(output.allSatisfy { $0.isFinite && abs($0) < 1 }, "\(from) Hz, \(n) samples")
            }
        }
        // Every output of a constant signal, away from the ends, is that constant (unit DC gain
        // of every phase and of the grouped rows).
        for from in [44100, 48000, 96000] {
            let output = try Resampler(from: from, to: 22050).process([Float](repeating: 0.25, count: from))
            for value in output[200..<(output.count - 200)] { XCTAssertEqual(value, 0.25, accuracy: 1e-4) }
        }
    }

    func testRejectsStopBandOutsideItsRange() {
        XCTAssertThrowsError(try Resampler(from: 44100, to: 22050, quality: .init(passband: 0.85, attenuation: 90, stopband: 0.95)))
        XCTAssertThrowsError(try Resampler(from: 44100, to: 22050, quality: .init(passband: 0.85, attenuation: 90, stopband: 1.3)))
    }

    func testSameRateIsIdentityAndEmptyStaysEmpty() throws {
        let input: [Float] = [0.1, -0.2, 0.3]
        XCTAssertEqual(try Resampler(from: 22050, to: 22050).process(input), input)
        XCTAssertEqual(try Resampler(from: 44100, to: 22050).process([]), [])
    }

    func testRejectsBadRates() {
        XCTAssertThrowsError(try Resampler(from: 0, to: 22050))
        XCTAssertThrowsError(try Resampler(from: 44100, to: -1))
        XCTAssertThrowsError(try Resampler(from: 1_000_000_000, to: 22050))
    }

    func testFastQualityIsStillReasonable() throws {
        try assertSineSNR(from: 48000, to: 22050, frequencies: [1000, 5000], minimum: 60, quality: .fast)
    }
}
