import XCTest
@testable import DemoCorpus

/// The per-track production: drawn per track and deterministic, and each stage does what it says.
final class ProductionTests: XCTestCase {
    private let rate = 22050

    private func sine(_ frequency: Double, seconds: Double = 1, amplitude: Float = 0.3) -> [Float] {
        let frames = Int(seconds * Double(rate))
        var samples = [Float](repeating: 0, count: 2 * frames)
        for frame in 0..<frames {
            let value = amplitude * Float(sin(2 * Double.pi * frequency * Double(frame) / Double(rate)))
            samples[2 * frame] = value
            samples[2 * frame + 1] = value
        }
        return samples
    }

    private func rms(_ samples: ArraySlice<Float>) -> Double {
        (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(samples.count, 1))).squareRoot()
    }

    private func decibels(_ value: Double) -> Double { 20 * log10(max(value, 1e-12)) }

    /// Gain in dB of a filter at `frequency`, measured on a steady sine (the first half second dropped).
    private func gain(_ filter: Biquad, at frequency: Double) -> Double {
        var samples = sine(frequency, seconds: 1.5)
        let before = rms(samples[rate...])
        samples.withUnsafeMutableBufferPointer { filter.process($0, frames: $0.count / 2, channel: 0) }
        let left = stride(from: 0, to: samples.count, by: 2).map { samples[$0] }
        return decibels(rms(left[(rate / 2)...])) - decibels(before)
    }

    func testProductionVariesAcrossTracksAndIsTheSameForTheSameSeed() throws {
        let drawn = (0..<200).map { Production.draw(seed: 3, track: $0) }
        XCTAssertEqual(drawn, (0..<200).map { Production.draw(seed: 3, track: $0) })
        XCTAssertNotEqual(drawn, (0..<200).map { Production.draw(seed: 4, track: $0) })
        XCTAssertGreaterThan(Set(drawn.map(\.tilt)).count, 190)
        XCTAssertTrue(drawn.allSatisfy { (-4...4).contains($0.tilt) && (0.6...1.3).contains($0.width) && (0...1).contains($0.compression) })
        let highPassed = drawn.filter { $0.highPass != nil }.count, lowPassed = drawn.filter { $0.lowPass != nil }.count
        XCTAssertTrue((60...140).contains(highPassed) && (40...110).contains(lowPassed), "\(highPassed) high-passed, \(lowPassed) low-passed")
        XCTAssertTrue(drawn.compactMap(\.lowPass).allSatisfy { $0 >= 5500 }, "tags must stay audible: no muffled mixes")
        let noisy = drawn.compactMap(\.noiseSNR)
        XCTAssertTrue((60...140).contains(noisy.count) && noisy.allSatisfy { (30...60).contains($0) })
        XCTAssertTrue(drawn.contains { $0.pinkNoise } && drawn.contains { !$0.pinkNoise })
        let lowBitrate = drawn.filter { $0.quality <= 0.2 }.count
        XCTAssertTrue((25...80).contains(lowBitrate), "\(lowBitrate) low-bitrate tracks")
        XCTAssertTrue(drawn.allSatisfy { $0.quality <= 0.2 || (0.4...0.9).contains($0.quality) })
        XCTAssertTrue(drawn.contains { $0.compression == 0 } && drawn.contains { $0.compression > 0.8 })

        // The production of a track does not depend on its formats or fonts, nor its music on the production.
        let options = DemoCorpusOptions(outputDirectory: "", trackCount: 30, seed: 3)
        var wavOnly = options
        wavOnly.formats = [.wav]
        XCTAssertEqual(try TrackPlan.plans(for: options).map(\.production), try TrackPlan.plans(for: wavOnly).map(\.production))
        XCTAssertEqual(try TrackPlan.plans(for: options).map(\.production), Array(drawn.prefix(30)))
        let summaries = Set(try TrackPlan.plans(for: options).map(\.productionRow.production))
        XCTAssertEqual(summaries.count, 30)
    }

    func testFiltersHaveTheirTextbookResponses() {
        let sr = Double(rate)
        // Butterworth: −3.01 dB at the cut-off, 12 dB/octave beyond it.
        XCTAssertEqual(gain(.lowPass(frequency: 6000, sampleRate: sr), at: 6000), -3.01, accuracy: 0.15)
        XCTAssertEqual(gain(.lowPass(frequency: 6000, sampleRate: sr), at: 300), 0, accuracy: 0.05)
        XCTAssertLessThan(gain(.lowPass(frequency: 5500, sampleRate: sr), at: 10000), -15)
        XCTAssertEqual(gain(.highPass(frequency: 100, sampleRate: sr), at: 100), -3.01, accuracy: 0.15)
        XCTAssertEqual(gain(.highPass(frequency: 100, sampleRate: sr), at: 25), -24.1, accuracy: 0.6)
        XCTAssertEqual(gain(.highPass(frequency: 100, sampleRate: sr), at: 2000), 0, accuracy: 0.05)
        // Shelves: the full gain far from the corner, half of it (in dB) at the corner.
        XCTAssertEqual(gain(.lowShelf(frequency: 250, gainDB: 3, sampleRate: sr), at: 30), 3, accuracy: 0.15)
        XCTAssertEqual(gain(.lowShelf(frequency: 250, gainDB: 3, sampleRate: sr), at: 250), 1.5, accuracy: 0.1)
        XCTAssertEqual(gain(.lowShelf(frequency: 250, gainDB: 3, sampleRate: sr), at: 5000), 0, accuracy: 0.1)
        XCTAssertEqual(gain(.highShelf(frequency: 3000, gainDB: -2, sampleRate: sr), at: 9000), -2, accuracy: 0.2)
        XCTAssertEqual(gain(.highShelf(frequency: 3000, gainDB: -2, sampleRate: sr), at: 100), 0, accuracy: 0.05)
    }

    func testCompressionWidthAndNoise() {
        // A quiet then loud tone: compression narrows the difference, more with more amount.
        func dynamics(_ amount: Double) -> Double {
            var samples = sine(440, seconds: 1, amplitude: 0.05) + sine(440, seconds: 1, amplitude: 0.5)
            samples.withUnsafeMutableBufferPointer { ProductionChain.compress($0, frames: $0.count / 2, amount: amount, sampleRate: Double(rate)) }
            return decibels(rms(samples[(2 * rate + rate)...])) - decibels(rms(samples[(rate / 2)..<rate]))
        }
        XCTAssertEqual(dynamics(0.0001), 20, accuracy: 0.5)
        // The detector sits between the tone's mean power and its peak power (sin² peaks 3 dB
        // over its mean: fast attack, slow release), so the loud tone's gain reduction lies
        // between what those two levels give. Amount 0.5: 3:1 from −11 dBFS (1 dB over the
        // track's RMS), the tone at −9 (mean) to −6 dBFS (peak): 1.3–3.3 dB less.
        XCTAssertTrue((16.5...18.8).contains(dynamics(0.5)), "\(dynamics(0.5)) dB")
        // Amount 1: 5:1 from −16 dBFS: 5.6–8 dB less.
        XCTAssertTrue((11.9...14.5).contains(dynamics(1)), "\(dynamics(1)) dB")
        var noise = SeededGenerator(seed: 1)
        var wide = sine(300)
        for frame in 0..<(wide.count / 2) { wide[2 * frame + 1] *= -0.5 }
        let original = wide
        var narrow = Production.neutral
        narrow.width = 0
        wide.withUnsafeMutableBufferPointer { ProductionChain.apply(narrow, to: $0, frames: $0.count / 2, sampleRate: rate, noise: &noise) }
        for frame in stride(from: 0, to: wide.count / 2, by: 97) {
            XCTAssertEqual(wide[2 * frame], wide[2 * frame + 1])
            XCTAssertEqual(wide[2 * frame], 0.5 * (original[2 * frame] + original[2 * frame + 1]), accuracy: 1e-6)
        }

        for pink in [false, true] {
            var samples = sine(440)
            let clean = samples
            var generator = SeededGenerator(seed: 9)
            samples.withUnsafeMutableBufferPointer { ProductionChain.addNoise($0, snr: 40, pink: pink, rng: &generator) }
            let residual = zip(samples, clean).map { $0 - $1 }
            XCTAssertEqual(decibels(rms(clean[...])) - decibels(rms(residual[...])), 40, accuracy: 0.01, pink ? "pink" : "white")
        }
    }

    func testMasteringWithProductionIsDeterministicAndStaysUnderTheCeiling() throws {
        let synth = try SoundFontSynth(soundFontPath: TestFonts.csound, sampleRate: rate)
        for track in 0..<3 {
            let composition = Composer.compose(seed: 4, track: track, durationRange: 3...3)
            var production = Production.draw(seed: 4, track: track)
            production.compression = 1
            production.noiseSNR = 30
            production.width = 1.3
            let rendered = synth.render(composition)
            var first = rendered, second = rendered
            Mastering.master(&first, sampleRate: rate, loudness: composition.loudness, production: production,
                             noise: SeededGenerator(seed: 4, track: track, stream: 6))
            Mastering.master(&second, sampleRate: rate, loudness: composition.loudness, production: production,
                             noise: SeededGenerator(seed: 4, track: track, stream: 6))
            XCTAssertTrue(first == second)
            XCTAssertLessThanOrEqual(first.map { abs($0) }.max() ?? 0, Mastering.ceiling)
            XCTAssertLessThanOrEqual(decibels(rms(first[...])), composition.loudness + 0.5)
            XCTAssertGreaterThan(decibels(rms(first[...])), composition.loudness - 10)
            var neutral = rendered
            Mastering.master(&neutral, sampleRate: rate, loudness: composition.loudness)
            XCTAssertFalse(neutral == first, "the production changes the sound")
        }
    }
}
