import Charts
import Features
import Service
@testable import Tagger
import XCTest

/// The explanation picture: grey where there is no heat, the heat's colours where there is, on
/// the same grid as the spectrogram (band 0 at the bottom, two pixels per band).
final class ExplanationPictureTests: XCTestCase {
    static let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 8000, nFFT: 256, hopLength: 64, nMels: 4), chunkFrames: 4)

    func explanation(spans: [TrackExplanation.Span], totalFrames: Int) -> TrackExplanation {
        TrackExplanation(tag: "t", labelIndex: 0, probability: 0.9, stage: "layers.0", frontEnd: Self.frontEnd,
                         totalFrames: totalFrames, duration: Double(totalFrames) * 64 / 8000, chunkStarts: [2], spans: spans)
    }

    func testHeatIsDrawnInColourOnlyWhereItLies() throws {
        let bands = 4, frames = 10
        let values = (0..<(bands * frames)).map { Float($0 % frames) * -5 }   // a grey ramp, loudest on the left
        // Frames 2..<6 analysed; band 1 hot at frames 3 and 4.
        var heat = [Float](repeating: 0, count: bands * 4)
        heat[1 * 4 + 1] = 2
        heat[1 * 4 + 2] = 1
        let picture = try ExplanationPicture.picture(
            values: values, bands: bands, frames: frames,
            explanation: explanation(spans: [.init(frames: 2..<6, heat: heat)], totalFrames: frames), maximumWidth: nil)
        XCTAssertEqual(picture.width, frames)
        XCTAssertEqual(picture.height, 2 * bands)
        func isGrey(_ c: RGBColor) -> Bool { c.red == c.green && c.green == c.blue }
        let bandOneRows = [picture.height - 1 - 2, picture.height - 1 - 3]
        for y in 0..<picture.height {
            for x in 0..<frames {
                let hot = bandOneRows.contains(y) && (x == 3 || x == 4)
                XCTAssertEqual(isGrey(picture[x, y]), !hot, "pixel (\(x), \(y)): \(picture[x, y])")
            }
        }
        XCTAssertGreaterThan(picture[3, bandOneRows[0]].lightness, picture[4, bandOneRows[0]].lightness, "the peak is the lightest")
        XCTAssertEqual(picture[3, bandOneRows[0]], picture[3, bandOneRows[1]], "each band is two pixels high")
        XCTAssertGreaterThan(picture[0, 0].lightness, picture[9, 0].lightness, "the grey follows the spectrogram")

        // Pooled to 5 columns, the heat stays in the columns of its frames.
        let pooled = try ExplanationPicture.picture(
            values: values, bands: bands, frames: frames,
            explanation: explanation(spans: [.init(frames: 2..<6, heat: heat)], totalFrames: frames), maximumWidth: 5)
        XCTAssertEqual(pooled.width, 5)
        XCTAssertEqual((0..<5).map { !isGrey(pooled[$0, bandOneRows[0]]) }, [false, true, true, false, false])

        XCTAssertThrowsError(try ExplanationPicture.picture(values: [0, 0], bands: 2, frames: 1,
                                                            explanation: explanation(spans: [], totalFrames: 1), maximumWidth: nil))
    }

    /// Shares of time spans, bands and regions, and their units, on a known heat map.
    func testRegionsNameTheHotSpanBandsAndBox() throws {
        // Frames 0..<8, band 2 hot at frames 4...5 (heat 4), a little heat all along band 0.
        var heat = [Float](repeating: 0, count: 4 * 8)
        for t in 0..<8 { heat[0 * 8 + t] = 0.4 }
        heat[2 * 8 + 4] = 4
        heat[2 * 8 + 5] = 4
        let regions = HeatRegions(explanation(spans: [.init(frames: 0..<8, heat: heat)], totalFrames: 8))
        let total = 8 * 0.4 + 8.0
        let spf = 64.0 / 8000
        XCTAssertEqual(regions.timeSpans.count, 1)
        XCTAssertEqual(regions.timeSpans[0].startSeconds, 3.5 * spf, accuracy: 1e-9)
        XCTAssertEqual(regions.timeSpans[0].endSeconds, 5.5 * spf, accuracy: 1e-9)
        XCTAssertEqual(regions.timeSpans[0].share, 8.8 / total, accuracy: 1e-6)
        XCTAssertEqual(regions.melBands.map(\.firstBand), [2])
        XCTAssertEqual(regions.melBands[0].share, 8 / total, accuracy: 1e-6)
        let edges = HeatRegions.bandEdges(Self.frontEnd.spectrogram)
        XCTAssertEqual(regions.melBands[0].lowHz, edges[2].low)
        XCTAssertEqual(edges[1].high, edges[2].low, accuracy: 1e-9, "bands tile the frequency axis")
        XCTAssertEqual(regions.regions.count, 1)
        XCTAssertEqual(regions.regions[0].firstBand, 2)
        XCTAssertEqual(regions.regions[0].lastBand, 2)
        XCTAssertEqual(regions.regions[0].share, 8 / total, accuracy: 1e-6)
        XCTAssertEqual(HeatRegions(explanation(spans: [.init(frames: 0..<8, heat: [Float](repeating: 0, count: 32))], totalFrames: 8)).regions, [])
    }
}
