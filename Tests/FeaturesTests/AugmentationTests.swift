import XCTest
@testable import Features

final class AugmentationTests: XCTestCase {
    private func ramp(_ nMels: Int, _ frames: Int) -> Spectrogram {
        Spectrogram(nMels: nMels, frames: frames, values: (0..<(nMels * frames)).map { Float($0 % 97) - 40 })
    }

    // MARK: Xoshiro256StarStar

    func testSeededGeneratorIsDeterministicAndSeedDependent() {
        var a = Xoshiro256StarStar(seed: 42), b = Xoshiro256StarStar(seed: 42), c = Xoshiro256StarStar(seed: 43)
        let sa = (0..<8).map { _ in a.next() }, sb = (0..<8).map { _ in b.next() }, sc = (0..<8).map { _ in c.next() }
        XCTAssertEqual(sa, sb)
        XCTAssertNotEqual(sa, sc)
        XCTAssertEqual(Set(sa).count, 8)
    }

    func testUniformDrawsLookUniform() {
        var rng = Xoshiro256StarStar(seed: 7)
        let n = 100_000
        var sum = 0.0, below = 0
        for _ in 0..<n {
            let u = RandomDistributions.openUnit(using: &rng)
            XCTAssert(u > 0 && u < 1)
            sum += u
            if u < 0.25 { below += 1 }
        }
        XCTAssertEqual(sum / Double(n), 0.5, accuracy: 0.005)
        XCTAssertEqual(Double(below) / Double(n), 0.25, accuracy: 0.005)
    }

    func testGammaMeanAndVariance() {
        var rng = Xoshiro256StarStar(seed: 11)
        for shape in [0.2, 1.0, 3.5] {
            let n = 50_000
            let xs = (0..<n).map { _ in RandomDistributions.gamma(shape: shape, using: &rng) }
            let mean = xs.reduce(0, +) / Double(n)
            let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
            XCTAssertEqual(mean, shape, accuracy: 0.03 * max(1, shape), "Gamma(\(shape)) mean")
            XCTAssertEqual(variance, shape, accuracy: 0.08 * max(1, shape), "Gamma(\(shape)) variance")
        }
    }

    // MARK: SpecAugment

    func testSpecAugmentMasksHaveConfiguredCountsAndWidths() throws {
        let original = ramp(64, 100)
        let aug = SpecAugment(frequencyMasks: 3, maxFrequencyWidth: 10, timeMasks: 2, maxTimeWidth: 25, maskValue: .constant(-999))
        var rng = Xoshiro256StarStar(seed: 1)
        var sawWideMask = false
        for _ in 0..<50 {
            var spec = original
            let masks = try aug.apply(to: &spec, using: &rng)
            XCTAssertEqual(masks.filter { $0.axis == .frequency }.count, 3)
            XCTAssertEqual(masks.filter { $0.axis == .time }.count, 2)
            var masked = Set<Int>()
            for mask in masks {
                let size = mask.axis == .frequency ? 64 : 100
                XCTAssert((0...(mask.axis == .frequency ? 10 : 25)).contains(mask.width))
                XCTAssert(mask.start >= 0 && mask.start + mask.width <= size)
                if mask.width >= 8 { sawWideMask = true }
                for i in mask.start..<(mask.start + mask.width) {
                    if mask.axis == .frequency { (0..<100).forEach { masked.insert(i * 100 + $0) } }
                    else { (0..<64).forEach { masked.insert($0 * 100 + i) } }
                }
            }
            for i in spec.values.indices {
                XCTAssertEqual(spec.values[i], masked.contains(i) ? -999 : original.values[i])
            }
        }
        XCTAssert(sawWideMask, "widths should span the configured range")
    }

    func testSpecAugmentIsDeterministicForASeedAndUsesTheMean() throws {
        let original = ramp(32, 50)
        let aug = SpecAugment(frequencyMasks: 1, maxFrequencyWidth: 32, timeMasks: 0, maxTimeWidth: 0)
        var r1 = Xoshiro256StarStar(seed: 99), r2 = Xoshiro256StarStar(seed: 99)
        var a = original, b = original
        let ma = try aug.apply(to: &a, using: &r1), mb = try aug.apply(to: &b, using: &r2)
        XCTAssertEqual(ma, mb)
        XCTAssertEqual(a, b)
        var r3 = Xoshiro256StarStar(seed: 5)
        var c = original
        var m = try aug.apply(to: &c, using: &r3)
        while m[0].width == 0 { c = original; m = try aug.apply(to: &c, using: &r3) }
        XCTAssertEqual(c[m[0].start, 0], original.mean)
        XCTAssertThrowsError(try SpecAugment(timeMasks: -1).apply(to: &c, using: &r3))
    }

    func testSpecAugmentCodesWithSnakeCaseKeys() throws {
        let aug = SpecAugment(frequencyMasks: 1, maxFrequencyWidth: 8, timeMasks: 3, maxTimeWidth: 30, maskValue: .constant(-80))
        let data = try JSONEncoder().encode(aug)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["freq_masks"] as? Int, 1)
        XCTAssertEqual(object["max_time_width"] as? Int, 30)
        XCTAssertEqual(object["mask_value"] as? Double, -80)
        XCTAssertEqual(try JSONDecoder().decode(SpecAugment.self, from: data), aug)
        let mean = try JSONDecoder().decode(SpecAugment.self, from: Data(
            #"{"freq_masks":2,"max_freq_width":15,"time_masks":2,"max_time_width":20,"mask_value":"mean"}"#.utf8))
        XCTAssertEqual(mean, SpecAugment())
    }

    // MARK: Mixup

    func testMixupLambdaDistribution() throws {
        var rng = Xoshiro256StarStar(seed: 2024)
        let n = 20_000
        let lambdas = try (0..<n).map { _ in try Mixup.sampleLambda(alpha: 0.2, using: &rng) }
        let mean = lambdas.reduce(0, +) / Float(n)
        XCTAssertEqual(mean, 0.5, accuracy: 0.01)
        XCTAssert(lambdas.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Beta(0.2, 0.2) is U-shaped: variance 1 / (4 (2α + 1)) = 0.1786, most mass near 0 and 1.
        let variance = lambdas.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(n)
        XCTAssertEqual(variance, 0.25 / 1.4, accuracy: 0.01)
        let large = try (0..<n).map { _ in try Mixup.sampleLambda(alpha: 5, using: &rng) }
        let lv = large.map { ($0 - 0.5) * ($0 - 0.5) }.reduce(0, +) / Float(n)
        XCTAssertEqual(lv, 0.25 / 11, accuracy: 0.003)  // Beta(5,5): 1 / (4 · 11)
        XCTAssertThrowsError(try Mixup.sampleLambda(alpha: 0, using: &rng))
    }

    func testMixupBlendsSpectrogramAndLabelsWithTheSameLambda() throws {
        let a = ramp(4, 5), b = Spectrogram(nMels: 4, frames: 5, repeating: 3)
        var rng = Xoshiro256StarStar(seed: 3)
        let result = try Mixup.mix(a, labels: [1, 0, 1], with: b, labels: [0, 1, 1], alpha: 0.4, using: &rng)
        let l = result.lambda
        XCTAssertEqual(result.labels[0], l, accuracy: 1e-6)
        XCTAssertEqual(result.labels[1], 1 - l, accuracy: 1e-6)
        XCTAssertEqual(result.labels[2], 1, accuracy: 1e-6)
        for i in a.values.indices {
            XCTAssertEqual(result.spectrogram.values[i], l * a.values[i] + (1 - l) * 3, accuracy: 1e-4)
        }
        var again = Xoshiro256StarStar(seed: 3)
        XCTAssertEqual(try Mixup.mix(a, labels: [1, 0, 1], with: b, labels: [0, 1, 1], alpha: 0.4, using: &again), result)
        XCTAssertThrowsError(try Mixup.mix(a, labels: [1], with: ramp(4, 6), labels: [0], using: &rng))
        XCTAssertThrowsError(try Mixup.mix(a, labels: [1], with: b, labels: [0, 1], using: &rng))
    }

    // MARK: Noise

    func testNoiseHitsTheTargetSNR() throws {
        let audio = try GoldenFixtures.audio()
        var signalPower = 0.0
        for v in audio { signalPower += Double(v) * Double(v) }
        for snr: Float in [0, 10, 30] {
            var rng = Xoshiro256StarStar(seed: UInt64(snr))
            let noisy = try AudioAugmentation().addNoise(audio, snrDB: snr, using: &rng)
            var noisePower = 0.0, noiseMean = 0.0
            for i in audio.indices {
                let d = Double(noisy[i]) - Double(audio[i])
                noisePower += d * d
                noiseMean += d
            }
            XCTAssertEqual(10 * log10(signalPower / noisePower), Double(snr), accuracy: 0.5)
            XCTAssertEqual(noiseMean / Double(audio.count), 0, accuracy: 0.01 * (noisePower / Double(audio.count)).squareRoot())
            var again = Xoshiro256StarStar(seed: UInt64(snr))
            XCTAssertEqual(try AudioAugmentation().addNoise(audio, snrDB: snr, using: &again), noisy)
        }
        var rng = Xoshiro256StarStar(seed: 0)
        XCTAssertThrowsError(try AudioAugmentation().addNoise([], snrDB: 10, using: &rng))
        XCTAssertThrowsError(try AudioAugmentation().addNoise([1, .nan], snrDB: 10, using: &rng))
    }
}
