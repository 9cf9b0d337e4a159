import XCTest
@testable import Features

/// Timing of the front end, not a pass/fail benchmark: runs only with
/// TIMBRE_FEATURES_TIMING=1 (use a release build), and prints milliseconds per call.
final class LogMelTimingTests: XCTestCase {
    func testLogMelOf60Seconds() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TIMBRE_FEATURES_TIMING"] == "1",
                          "set TIMBRE_FEATURES_TIMING=1 to time log-mel")
        let clip = try GoldenFixtures.audio()
        var audio = [Float]()
        while audio.count < 60 * 22050 { audio += clip }
        audio = Array(audio.prefix(60 * 22050))
        let mel = try LogMelSpectrogram(SpectrogramConfig())
        _ = try mel.logMel(audio)  // warm-up
        let runs = 20
        var best = Double.infinity, total = 0.0
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            let spec = try mel.logMel(audio)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            XCTAssertEqual(spec.frames, 1 + 60 * 22050 / 512)
            best = min(best, ms)
            total += ms
        }
        print(String(format: "[timing] log-mel of 60 s (22050 Hz, defaults): best %.2f ms, mean %.2f ms over %d runs",
                     best, total / Double(runs), runs))
    }
}

extension LogMelTimingTests {
    /// Stage breakdown, for tuning (same switch).
    func testStageBreakdown() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TIMBRE_FEATURES_TIMING"] == "1")
        let frames = 2584
        func time(_ label: String, _ body: () -> Void) {
            body()
            var best = Double.infinity
            for _ in 0..<10 {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            print(String(format: "[timing] %@: %.2f ms", label, best))
        }
        let fft = try XCTUnwrap(RealFFT.shared(size: 2048))
        let input = FFTWBuffer(count: 2048), spectrum = FFTWBuffer(count: 2050)
        for i in 0..<2048 { input.pointer[i] = Float(i % 37) * 0.01 }
        time("fft x\(frames)") { for _ in 0..<frames { fft.forward(input, spectrum) } }
        let bank = MelFilterbank(sampleRate: 22050, nFFT: 2048)
        var out = [Float](repeating: 1e-3, count: 128 * frames)
        let tile = FFTWBuffer(count: 8 * 1025)
        time("filterbank x\(frames)") {
            out.withUnsafeMutableBufferPointer { o in
                for t in stride(from: 0, to: frames, by: 8) {
                    bank.apply8(UnsafeRawPointer(tile.pointer), to: o.baseAddress! + t, melStride: frames, lanes: min(8, frames - t))
                }
            }
        }
        time("power_to_db \(128 * frames)") { _ = powerToDB(out) }
        let audio = [Float](repeating: 0.1, count: 60 * 22050)
        let reader = FrameReader(nFFT: 2048, hop: 512, center: true, padMode: .constant)
        let window = Window.analysis(nFFT: 2048, winLength: 2048)
        time("fill x\(frames)") {
            audio.withUnsafeBufferPointer { x in
                window.withUnsafeBufferPointer { w in
                    for t in 0..<frames { reader.fill(frame: t, from: x, window: w.baseAddress!, into: input.pointer) }
                }
            }
        }
        time("checkSignal 60 s") { audio.withUnsafeBufferPointer { try? LogMelSpectrogram.checkSignal($0) } }
    }
}

