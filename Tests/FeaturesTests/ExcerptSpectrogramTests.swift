import XCTest
@testable import Features

/// Frames of a spectrogram computed from an excerpt of the signal equal the same frames of
/// the whole signal's spectrogram.
final class ExcerptSpectrogramTests: XCTestCase {
    /// Columns `frames` of a whole spectrogram.
    func columns(_ spec: Spectrogram, _ frames: Range<Int>) -> [Float] {
        (0..<spec.nMels).flatMap { m in (frames).map { spec[m, $0] } }
    }

    func assertExcerptsMatch(_ config: SpectrogramConfig, file: StaticString = #filePath, line: UInt = #line) throws {
        let audio = try GoldenFixtures.audio()
        let mel = try LogMelSpectrogram(config)
        let whole = try mel.melPower(audio)
        let spans = [0..<5, 0..<whole.frames, 17..<40, (whole.frames - 9)..<whole.frames, whole.frames / 2..<(whole.frames / 2 + 1)]
        for span in spans {
            let needed = mel.samplesRead(frames: span, signalLength: audio.count)
            let excerpt = Array(audio[needed])
            let part = try excerpt.withUnsafeBufferPointer {
                try mel.melPower(frames: span, of: $0, at: needed.lowerBound, signalLength: audio.count)
            }
            XCTAssertEqual(part.frames, span.count)
            XCTAssertEqual(part.values, columns(whole, span), "\(config.padMode) center \(config.center) frames \(span)", file: file, line: line)
            // An excerpt one sample short of what the frames read is refused.
            if needed.count > 1 {
                let short = Array(audio[(needed.lowerBound + 1)..<needed.upperBound])
                XCTAssertThrowsError(try short.withUnsafeBufferPointer {
                    try mel.melPower(frames: span, of: $0, at: needed.lowerBound + 1, signalLength: audio.count)
                }, file: file, line: line)
            }
        }
        XCTAssertThrowsError(try audio.withUnsafeBufferPointer {
            try mel.melPower(frames: 0..<(whole.frames + 1), of: $0, at: 0, signalLength: audio.count)
        })
    }

    func testZeroPaddedFramesFromExcerpts() throws { try assertExcerptsMatch(SpectrogramConfig()) }
    func testReflectPaddedFramesFromExcerpts() throws { try assertExcerptsMatch(SpectrogramConfig(padMode: .reflect)) }
    func testUncenteredFramesFromExcerpts() throws { try assertExcerptsMatch(SpectrogramConfig(center: false)) }

    func testToDBIsPowerToDBWithTheConfig() throws {
        let mel = try LogMelSpectrogram(SpectrogramConfig(topDB: 60))
        var values: [Float] = [1e-12, 1e-3, 0.5, 2, 40]
        let expected = powerToDB(values, ref: 1, amin: 1e-10, topDB: 60)
        values.withUnsafeMutableBufferPointer { mel.toDB($0) }
        XCTAssertEqual(values, expected)
    }
}
