import XCTest
@testable import AudioIO

/// `StreamingResampler`: a signal resampled in pieces of any size equals `Resampler.process`
/// over the whole signal at once.
final class StreamingResamplerTests: XCTestCase {
    func signal(_ count: Int, rate: Double) -> [Float] {
        var state: UInt64 = 12345
        return (0..<count).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let noise = Float(Int64(bitPattern: state >> 11) % 1000) / 20000
            return Float(0.5 * sin(2 * .pi * 440 * Double(i) / rate) + 0.2 * sin(2 * .pi * 3100 * Double(i) / rate)) + noise
        }
    }

    func testPiecesEqualTheWholeSignal() throws {
        for (from, to) in [(44100, 22050), (48000, 22050), (16000, 22050), (22050, 22050)] {
            let input = signal(from * 3 + 77, rate: Double(from))
            let whole = try Resampler(from: from, to: to).process(input)
            var streaming = try StreamingResampler(from: from, to: to)
            var output: [Float] = []
            var at = 0
            var sizes = [1, 100, 4096, 333, 17, 9000, 2048]
            while at < input.count {
                let n = min(sizes[0], input.count - at)
                sizes.append(sizes.removeFirst())
                output += streaming.append(Array(input[at..<(at + n)]))
                at += n
            }
            output += streaming.finish()
            XCTAssertEqual(output.count, whole.count, "\(from) → \(to)")
            let worst = zip(output, whole).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(from) → \(to)")
            XCTAssertEqual(streaming.finish(), [], "a second finish gives nothing")
        }
    }

    func testTheDownMixIsTheDecodersAndZeroesNonFiniteSamples() {
        var mono: [Float] = []
        [Float(0.5), -0.25, .nan, 1, 0.125, 0.375].withUnsafeBufferPointer { AudioDecoder.appendMonoMix($0, channels: 2, to: &mono) }
        XCTAssertEqual(mono, [0.125, 0, 0.25])
    }
}
