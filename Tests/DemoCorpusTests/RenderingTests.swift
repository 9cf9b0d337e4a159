import XCTest
@testable import DemoCorpus

/// Renders short pieces through fluidsynth and the General MIDI soundfont that
/// scripts/setup installs (fluid-soundfont-gm).
final class RenderingTests: XCTestCase {
    private let sampleRate = 22050

    private func synth() throws -> SoundFontSynth {
        try SoundFontSynth(soundFontPath: DemoCorpusOptions(outputDirectory: "", trackCount: 1).resolvedSoundFontPath, sampleRate: sampleRate)
    }

    private func rms(_ samples: [Float]) -> Double {
        (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(samples.count, 1))).squareRoot()
    }

    private func decibels(_ value: Double) -> Double { 20 * log10(max(value, 1e-12)) }

    func testRenderedTrackHasTheRequestedLengthIsNotSilentAndNotClipped() throws {
        let synth = try synth()
        for track in 0..<4 {
            let composition = Composer.compose(seed: 2, track: track, durationRange: 4...4)
            var samples = synth.render(composition)
            XCTAssertEqual(samples.count, 2 * 4 * sampleRate)
            XCTAssertGreaterThan(decibels(rms(samples)), -50, "\(composition.labels.tags) is silent")
            Mastering.master(&samples, sampleRate: sampleRate, loudness: composition.loudness)
            let peak = samples.map { abs($0) }.max() ?? 0
            XCTAssertLessThanOrEqual(peak, Mastering.ceiling)
            XCTAssertGreaterThan(peak, 0.05)
            // The limiter only lowers the level, so the RMS is at most the target (and not far below it).
            XCTAssertLessThanOrEqual(decibels(rms(samples)), composition.loudness + 0.5)
            XCTAssertGreaterThan(decibels(rms(samples)), composition.loudness - 10)
            // Not silent for long stretches either: every second has sound in it.
            for second in 0..<3 {
                let slice = Array(samples[(2 * second * sampleRate)..<(2 * (second + 1) * sampleRate)])
                XCTAssertGreaterThan(decibels(rms(slice)), -60, "second \(second) of \(composition.labels.tags) is silent")
            }
        }
    }

    func testAFreshSynthesizerRendersATrackIdentically() throws {
        let keepsSamplesCached = try synth()
        let a = Composer.compose(seed: 3, track: 0, durationRange: 3...3)
        let first = try synth().render(a)
        _ = keepsSamplesCached.render(Composer.compose(seed: 3, track: 1, durationRange: 3...3))
        // (How cheap a second synthesizer is, is for benchmarks: a busy CI machine makes any bound flaky.)
        let fresh = try synth()
        let again = fresh.render(a)
        XCTAssertEqual(again.count, first.count)
        XCTAssertTrue(again == first, "the same track rendered differently on a fresh synthesizer")
    }

    func testEveryTaggedInstrumentIsAudibleInTheMix() throws {
        let synth = try synth()
        for track in 0..<4 {
            let composition = Composer.compose(seed: 17, track: track, durationRange: 5...5)
            let mix = rms(synth.render(composition))
            for instrument in composition.labels.instruments {
                var solo = composition
                solo.parts = composition.parts.filter { $0.instrument == instrument }
                let level = decibels(rms(synth.render(solo))) - decibels(mix)
                XCTAssertGreaterThan(level, -24, "\(instrument) is \(level) dB below the mix of \(composition.labels.tags)")
            }
        }
    }

    func testMissingAndBrokenSoundFontsAreReported() throws {
        XCTAssertThrowsError(try SoundFontSynth(soundFontPath: "/nonexistent/GM.sf2", sampleRate: sampleRate)) { error in
            XCTAssertEqual(error as? DemoCorpusError, .soundFontMissing(path: "/nonexistent/GM.sf2"))
            XCTAssertTrue("\(error)".contains("TIMBRE_SOUNDFONT"))
        }
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).sf2").path
        try Data("not a soundfont".utf8).write(to: URL(fileURLWithPath: broken))
        defer { try? FileManager.default.removeItem(atPath: broken) }
        XCTAssertThrowsError(try SoundFontSynth(soundFontPath: broken, sampleRate: sampleRate)) { error in
            XCTAssertEqual(error as? DemoCorpusError, .soundFontUnreadable(path: broken))
        }
    }

    func testLimiterKeepsPeaksUnderTheCeilingWithoutTouchingQuietAudio() {
        var loud: [Float] = (0..<2000).map { Float(sin(Double($0) * 0.05)) * ($0 > 1000 ? 3 : 0.5) }
        let quietBefore = Array(loud[0..<600])
        loud.withUnsafeMutableBufferPointer { Mastering.limit($0, frames: 1000, sampleRate: 22050) }
        XCTAssertLessThanOrEqual(loud.map { abs($0) }.max() ?? 0, Mastering.ceiling)
        // Far ahead of the loud part (beyond the 5 ms look-ahead) the signal is untouched.
        XCTAssertEqual(Array(loud[0..<600]), quietBefore)
    }
}
