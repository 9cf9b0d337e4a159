import XCTest
@testable import Features

/// Log-mel against librosa 0.11 (fixtures from tools/golden/make_audio_fixtures.py).
///
/// Tolerances: dB spectrogram max abs error ≤ 1e-3 dB (every value, also with top_db=None).
/// Mel power: max abs error ≤ 1e-4 of the spectrogram's maximum, and ≤ 1e-4 relative per bin
/// for bins within 60 dB of the maximum (float32 FFT rounding is absolute, so much quieter
/// bins have a larger relative error; the dB bound covers them).
final class LogMelGoldenTests: XCTestCase {
    private func check(_ name: String, _ config: SpectrogramConfig, hasMelFixture: Bool = true, samples: Int? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let full = try GoldenFixtures.audio()
        let audio = samples.map { Array(full.prefix($0)) } ?? full
        let mel = try LogMelSpectrogram(config)
        let power = try mel.melPower(audio)
        let db = try mel.logMel(audio)
        let refDB = try GoldenFixtures.load("db_\(name)")
        XCTAssertEqual([power.nMels, power.frames], refDB.shape, "\(name): shape", file: file, line: line)
        guard [power.nMels, power.frames] == refDB.shape else { return }
        if hasMelFixture {
            let refMel = try GoldenFixtures.load("mel_\(name)")
            let peak = refMel.values.max() ?? 1
            let err = maxAbsDifference(power.values, refMel.values) / peak
            XCTAssertLessThanOrEqual(err, 1e-4, "\(name): mel power error relative to max", file: file, line: line)
            // Per bin, for bins within 60 dB of the max (lower bins: see the absolute bound).
            var perBin: Float = 0
            for i in refMel.values.indices where refMel.values[i] > peak * 1e-6 {
                perBin = max(perBin, abs(power.values[i] - refMel.values[i]) / refMel.values[i])
            }
            XCTAssertLessThanOrEqual(perBin, 1e-4, "\(name): per-bin relative mel power error", file: file, line: line)
            print("[golden] \(name): mel power max abs error / max = \(err); per-bin relative (bins > max - 60 dB) = \(perBin)")
        }
        let errDB = maxAbsDifference(db.values, refDB.values)
        XCTAssertLessThanOrEqual(errDB, 1e-3, "\(name): dB error", file: file, line: line)
        print("[golden] \(name): dB max abs error = \(errDB)")
    }

    func testDefaults() throws { try check("default", SpectrogramConfig()) }

    func testHTKWithoutNorm() throws { try check("htk_nonorm", SpectrogramConfig(htk: true, norm: .none)) }

    func testSmallFFTAndHop() throws { try check("small", SpectrogramConfig(nFFT: 1024, hopLength: 256, nMels: 64)) }

    func testNoTopDB() throws { try check("topdb_none", SpectrogramConfig(topDB: nil), hasMelFixture: false) }

    func testUncentered() throws { try check("uncentered", SpectrogramConfig(center: false)) }

    func testReflectPadShortWindowMagnitude() throws {
        try check("reflect_winlen", SpectrogramConfig(winLength: 1536, padMode: .reflect, power: 1, nMels: 96,
                                                      fmin: 50, fmax: 8000))
    }

    func testDBOptions() throws { try check("db_options", SpectrogramConfig(topDB: 40, amin: 1e-5, ref: 0.5), hasMelFixture: false) }

    /// Shorter than n_fft / 2, so the padding is longer than the signal.
    func testShortSignals() throws {
        try check("short_reflect", SpectrogramConfig(padMode: .reflect), samples: 1000)
        try check("short_constant", SpectrogramConfig(), samples: 700)
    }

    func testFilterbanks() throws {
        let dense = MelFilterbank(sampleRate: 22050, nFFT: 2048).dense
        let ref = try GoldenFixtures.load("filters_default")
        XCTAssertEqual(ref.shape, [128, 1025])
        XCTAssertLessThanOrEqual(maxAbsDifference(dense, ref.values), 1e-6)
        let htk = MelFilterbank(sampleRate: 22050, nFFT: 1024, nMels: 64, fmin: 30, fmax: 10000, htk: true, norm: .none).dense
        let refHTK = try GoldenFixtures.load("filters_htk_nonorm_small")
        XCTAssertEqual(refHTK.shape, [64, 513])
        XCTAssertLessThanOrEqual(maxAbsDifference(htk, refHTK.values), 1e-6)
    }

    func testPowerToDBStandalone() throws {
        let power = try GoldenFixtures.load("mel_default").values
        let ref = try GoldenFixtures.load("db_default").values
        XCTAssertLessThanOrEqual(maxAbsDifference(powerToDB(power), ref), 1e-4)
        let refOptions = try GoldenFixtures.load("db_db_options").values
        XCTAssertLessThanOrEqual(maxAbsDifference(powerToDB(power, ref: 0.5, amin: 1e-5, topDB: 40), refOptions), 1e-4)
    }
}
