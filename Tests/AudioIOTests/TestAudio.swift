import Foundation
import XCTest
@testable import AudioIO

/// Signals, scratch files and measures shared by the AudioIO tests.
enum TestAudio {
    static func sine(frequency: Double, sampleRate: Int, seconds: Double, amplitude: Double = 0.5, phase: Double = 0) -> [Float] {
        let count = Int((seconds * Double(sampleRate)).rounded())
        return (0..<count).map { Float(amplitude * sin(2 * Double.pi * frequency * Double($0) / Double(sampleRate) + phase)) }
    }

    /// A fresh directory under the system temporary directory, removed by the caller's teardown.
    static func scratchDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-audioio-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Signal-to-noise ratio in dB of `actual` against `expected` over `range`.
    static func snr(_ actual: [Float], _ expected: [Float], range: Range<Int>) -> Double {
        var signal = 0.0, noise = 0.0
        for i in range {
            signal += Double(expected[i]) * Double(expected[i])
            let e = Double(actual[i]) - Double(expected[i])
            noise += e * e
        }
        return 10 * log10(signal / max(noise, 1e-300))
    }

    /// Pearson correlation of two slices over their common length.
    static func correlation(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        let n = min(a.count, b.count)
        guard n > 1 else { return 0 }
        var sx = 0.0, sy = 0.0, sxy = 0.0, sxx = 0.0, syy = 0.0
        var i = a.startIndex, j = b.startIndex
        for _ in 0..<n {
            let x = Double(a[i]), y = Double(b[j])
            sx += x; sy += y; sxy += x * y; sxx += x * x; syy += y * y
            i += 1; j += 1
        }
        let count = Double(n)
        let cov = sxy - sx * sy / count, vx = sxx - sx * sx / count, vy = syy - sy * sy / count
        return cov / max((vx * vy).squareRoot(), 1e-300)
    }

    /// The lag (in samples, within ±maxLag) at which `b` best matches `a`, and the correlation there.
    static func bestAlignment(_ a: [Float], _ b: [Float], maxLag: Int) -> (lag: Int, correlation: Double) {
        var best = (lag: 0, correlation: -2.0)
        let length = min(a.count, b.count) - 2 * maxLag
        guard length > 0 else { return best }
        for lag in -maxLag...maxLag {
            let c = correlation(a[maxLag..<(maxLag + length)], b[(maxLag + lag)..<(maxLag + lag + length)])
            if c > best.correlation { best = (lag, c) }
        }
        return best
    }

    /// A test signal with structure at several frequencies (so correlation means something).
    static func chord(sampleRate: Int, seconds: Double) -> [Float] {
        let a = sine(frequency: 220, sampleRate: sampleRate, seconds: seconds, amplitude: 0.3)
        let b = sine(frequency: 660, sampleRate: sampleRate, seconds: seconds, amplitude: 0.2, phase: 1)
        let c = sine(frequency: 1500, sampleRate: sampleRate, seconds: seconds, amplitude: 0.1, phase: 2)
        return zip(zip(a, b), c).map { $0.0 + $0.1 + $1 }
    }
}
