import XCTest
@testable import Features

/// Behaviour of the log-mel front end beyond the golden numbers: threads, bad input, config.
final class LogMelBehaviourTests: XCTestCase {
    func testConcurrentCallsMatchSerialResult() throws {
        let audio = try GoldenFixtures.audio()
        let mel = try LogMelSpectrogram(SpectrogramConfig())
        let small = try LogMelSpectrogram(SpectrogramConfig(nFFT: 1024, hopLength: 256, nMels: 64))
        let serial = try mel.logMel(audio), serialSmall = try small.logMel(audio)
        let results = ResultBox(count: 16)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            // Mix instances and a freshly built one (plan cache under contention).
            let extractor = i % 4 == 3 ? (try? LogMelSpectrogram(SpectrogramConfig())) : (i % 2 == 0 ? mel : small)
            results.set(i, try? extractor?.logMel(audio))
        }
        for i in 0..<16 {
            let expected = (i % 4 == 3 || i % 2 == 0) ? serial : serialSmall
            XCTAssertEqual(results.get(i), expected, "thread \(i)")
        }
    }

    func testBadSignalsThrow() throws {
        let mel = try LogMelSpectrogram(SpectrogramConfig())
        XCTAssertThrowsError(try mel.logMel([])) { XCTAssertEqual($0 as? FeatureError, .emptySignal) }
        var x = [Float](repeating: 0.1, count: 5000)
        x[1234] = .nan
        XCTAssertThrowsError(try mel.logMel(x)) { XCTAssertEqual($0 as? FeatureError, .nonFiniteSample(index: 1234)) }
        x[1234] = 0
        x[4999] = -.infinity
        XCTAssertThrowsError(try mel.melPower(x)) { XCTAssertEqual($0 as? FeatureError, .nonFiniteSample(index: 4999)) }
        let uncentered = try LogMelSpectrogram(SpectrogramConfig(center: false))
        XCTAssertThrowsError(try uncentered.logMel([Float](repeating: 0.1, count: 2047))) {
            XCTAssertEqual($0 as? FeatureError, .signalTooShort(samples: 2047, needed: 2048))
        }
        XCTAssertFalse(String(describing: FeatureError.emptySignal).isEmpty)
    }

    func testShortAndSilentSignals() throws {
        let mel = try LogMelSpectrogram(SpectrogramConfig())
        let one = try mel.logMel([0.5])
        XCTAssertEqual(one.frames, 1)
        XCTAssertEqual(one.nMels, 128)
        let silent = try mel.logMel([Float](repeating: 0, count: 22050))
        XCTAssertEqual(silent.frames, 44)  // 1 + 22050 / 512
        XCTAssert(silent.values.allSatisfy { abs($0 + 100) < 1e-4 })  // 10 log10(amin)
        let reflect = try LogMelSpectrogram(SpectrogramConfig(padMode: .reflect)).logMel([0.1, -0.2, 0.3])
        XCTAssert(reflect.values.allSatisfy(\.isFinite))
    }

    func testInvalidConfigsThrow() {
        let bad: [(SpectrogramConfig, String)] = [
            (SpectrogramConfig(nFFT: 0), "n_fft"), (SpectrogramConfig(hopLength: 0), "hop_length"),
            (SpectrogramConfig(fmax: 12000), "fmax"), (SpectrogramConfig(sampleRate: 0), "sr"),
            (SpectrogramConfig(winLength: 4096), "win_length"), (SpectrogramConfig(power: 0), "power"),
            (SpectrogramConfig(nMels: 0), "n_mels"), (SpectrogramConfig(fmin: 5000, fmax: 4000), "fmax"),
            (SpectrogramConfig(fmin: -1), "fmin"), (SpectrogramConfig(topDB: -1), "top_db"),
            (SpectrogramConfig(amin: 0), "amin"), (SpectrogramConfig(ref: -1), "ref"),
        ]
        for (config, name) in bad {
            XCTAssertThrowsError(try LogMelSpectrogram(config)) { error in
                guard case .invalidConfig(let got, _)? = error as? FeatureError else { return XCTFail("\(error)") }
                XCTAssertEqual(got, name)
            }
        }
    }

    func testConfigCodesWithLibrosaNames() throws {
        let config = SpectrogramConfig(nFFT: 1024, hopLength: 256, nMels: 64, fmax: 8000, htk: true, norm: .none, topDB: nil)
        let data = try JSONEncoder().encode(config)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["n_fft"] as? Int, 1024)
        XCTAssertEqual(object["hop_length"] as? Int, 256)
        XCTAssertEqual(object["n_mels"] as? Int, 64)
        XCTAssertEqual(object["sr"] as? Int, 22050)
        XCTAssert(object["norm"] is NSNull)
        XCTAssert(object["top_db"] is NSNull)
        XCTAssertEqual(object["pad_mode"] as? String, "constant")
        XCTAssertEqual(try JSONDecoder().decode(SpectrogramConfig.self, from: data), config)
        let partial = #"{"sample_rate": 16000, "n_mels": 96}"#
        let decoded = try JSONDecoder().decode(SpectrogramConfig.self, from: Data(partial.utf8))
        XCTAssertEqual(decoded, SpectrogramConfig(sampleRate: 16000, nMels: 96))
        XCTAssertEqual(decoded.topDB, 80)
    }

    func testFrameCountMatchesLibrosa() {
        // librosa: 1 + len // hop when centred, 1 + (len - n_fft) // hop otherwise.
        XCTAssertEqual(SpectrogramConfig().frameCount(samples: 66273), 130)
        XCTAssertEqual(SpectrogramConfig(center: false).frameCount(samples: 66273), 126)
        XCTAssertEqual(SpectrogramConfig(center: false).frameCount(samples: 100), 0)
    }
}

/// Results written from concurrent iterations, each to its own slot.
private final class ResultBox: @unchecked Sendable {
    private var values: [Spectrogram?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: Spectrogram?) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> Spectrogram? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
