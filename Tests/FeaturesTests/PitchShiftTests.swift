import XCTest
@testable import Features

final class PitchShiftTests: XCTestCase {
    /// Frequency of the strongest rfft bin, refined by parabolic interpolation of log power.
    private func dominantFrequency(_ y: [Float], sampleRate: Double) throws -> Double {
        let n = 8192
        let stft = try ComplexSTFT.forward(Array(y[2048..<(2048 + n)]), nFFT: n, hop: n, center: false)
        var power = [Double](repeating: 0, count: stft.bins)
        for k in 0..<stft.bins {
            let re = Double(stft.data[2 * k]), im = Double(stft.data[2 * k + 1])
            power[k] = re * re + im * im
        }
        let k = (1..<(stft.bins - 1)).max { power[$0] < power[$1] }!
        let a: Double = log(power[k - 1]), b: Double = log(power[k]), c: Double = log(power[k + 1])
        let offset: Double = 0.5 * (a - c) / (a - 2 * b + c)
        return (Double(k) + offset) * sampleRate / Double(n)
    }

    func testToneMovesByTheRequestedSemitones() throws {
        let sr = 22050.0
        let tone = (0..<22050).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / sr)) }
        let aug = AudioAugmentation()
        for steps in [2.0, -3.0] {
            let shifted = try aug.pitchShift(tone, semitones: steps)
            XCTAssertEqual(shifted.count, tone.count)
            let f = try dominantFrequency(shifted, sampleRate: sr)
            let expected = 440 * pow(2, steps / 12)
            XCTAssertEqual(12 * log2(f / 440), steps, accuracy: 0.05, "measured \(f) Hz, expected \(expected) Hz")
        }
        XCTAssertEqual(try aug.pitchShift(tone, semitones: 0), tone)
        XCTAssertThrowsError(try aug.pitchShift(tone, semitones: .infinity))
        XCTAssertThrowsError(try aug.pitchShift([], semitones: 1))
    }

    /// Against librosa.effects.pitch_shift(n_steps=2). The resamplers differ (soxr_hq there,
    /// AudioIO's Kaiser sinc here), so the bound is on the relative RMS error.
    func testCloseToLibrosa() throws {
        let clip = try GoldenFixtures.load("stretch_input").values
        let ref = try GoldenFixtures.load("pitch_shift_2").values
        let out = try AudioAugmentation().pitchShift(clip, semitones: 2)
        XCTAssertEqual(out.count, ref.count)
        // Skip the edges, where the two resamplers' treatments of the signal's ends differ.
        var err = 0.0, energy = 0.0
        for i in 1024..<(ref.count - 1024) {
            err += Double(out[i] - ref[i]) * Double(out[i] - ref[i])
            energy += Double(ref[i]) * Double(ref[i])
        }
        let relative = (err / energy).squareRoot()
        print("[golden] pitch_shift +2: relative RMS error vs librosa = \(relative), max abs = \(maxAbsDifference(out, ref))")
        XCTAssertLessThan(relative, 0.015)  // measured 0.007
    }
}

final class RandomAudioAugmentationTests: XCTestCase {
    func testDrawsAreInRangeAndReproducible() throws {
        let clip = Array(try GoldenFixtures.load("stretch_input").values.prefix(8192))
        let aug = AudioAugmentation()
        var a = Xoshiro256StarStar(seed: 8), b = Xoshiro256StarStar(seed: 8)
        let p1 = try aug.randomPitchShift(clip, maxSemitones: 1.5, using: &a)
        let p2 = try aug.randomPitchShift(clip, maxSemitones: 1.5, using: &b)
        XCTAssertEqual(p1.audio, p2.audio)
        XCTAssert(abs(p1.semitones) <= 1.5)
        let s = try aug.randomTimeStretch(clip, rates: 0.8...0.9, using: &a)
        XCTAssert((0.8...0.9).contains(s.rate))
        XCTAssertEqual(s.audio.count, Int((Double(clip.count) / s.rate).rounded(.toNearestOrEven)))
        var c = Xoshiro256StarStar(seed: 21), d = Xoshiro256StarStar(seed: 21), e = Xoshiro256StarStar(seed: 22)
        let n1 = try aug.randomNoise(clip, snrDB: 5...6, using: &c), n2 = try aug.randomNoise(clip, snrDB: 5...6, using: &d)
        XCTAssertEqual(n1.audio, n2.audio)
        XCTAssertNotEqual(n1.audio, clip)
        XCTAssert((5...6).contains(n1.snrDB))
        XCTAssertNotEqual(try aug.randomNoise(clip, snrDB: 5...6, using: &e).audio, n1.audio)
        XCTAssertThrowsError(try aug.randomTimeStretch(clip, rates: 0...1, using: &a))
    }
}
