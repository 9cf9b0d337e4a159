import Charts
import Features
import Service
import XCTest

final class SpectrogramPictureTests: XCTestCase {
    /// A long spectrogram is drawn at most `maximumWidth` wide, each column the mean of its
    /// frames and each band two pixels high; a short one (or `nil`) keeps one pixel per frame.
    func testLongSpectrogramsArePooledToTheWidthAndShortOnesKeepEveryFrame() throws {
        let bands = 4, frames = 1000
        // Band 1 is loud in the second half of the track only.
        var values = [Float](repeating: -80, count: bands * frames)
        for frame in 500..<frames { values[1 * frames + frame] = 0 }
        let pooled = try SpectrogramPicture.picture(values: values, bands: bands, frames: frames, maximumWidth: 100)
        XCTAssertEqual(pooled.width, 100)
        XCTAssertEqual(pooled.height, 2 * bands)
        // Band 1 is rows 5 and 6 from the top (band 0 at the bottom); dark left, bright right.
        let dark = pooled[10, pooled.height - 1 - 2].lightness, bright = pooled[90, pooled.height - 1 - 2].lightness
        XCTAssertGreaterThan(bright, dark + 20)
        XCTAssertEqual(pooled[90, pooled.height - 1 - 2], pooled[90, pooled.height - 1 - 3], "each band is two pixels high")

        let full = try SpectrogramPicture.picture(values: values, bands: bands, frames: frames, maximumWidth: nil)
        XCTAssertEqual(full.width, frames)
        XCTAssertEqual(full.height, bands)
        let short = try SpectrogramPicture.picture(values: values, bands: bands, frames: frames, maximumWidth: 2000)
        XCTAssertEqual(short.width, frames, "a track narrower than the cap is drawn one pixel per frame")
    }

    /// The axes frame the plot unchanged, with tick labels on the left (Hz on the mel scale,
    /// 1 kHz at mel 15 of ~49.9 on Slaney's scale for 11025 Hz) and along the bottom.
    func testAxesFrameThePlotAndLabelFrequencyAtItsMelPosition() throws {
        let plot = try SpectrogramPicture.picture(values: (0..<(128 * 300)).map { Float($0 % 300) - 300 }, bands: 128, frames: 300,
                                                  maximumWidth: 200)
        let framed = try SpectrogramPicture.withAxes(plot, seconds: 60, config: SpectrogramConfig())
        XCTAssertEqual(framed.width, plot.width + 58)
        XCTAssertEqual(framed.height, plot.height + 28)
        for (x, y) in [(0, 0), (100, 128), (199, 255)] { XCTAssertEqual(framed[50 + x, 6 + y], plot[x, y]) }
        // The 1 kHz tick: u = 15 / 49.91 of the height from the bottom.
        let u = 15.0 / (15 + 27 * log(11.025) / log(6.4))
        let tickY = 6 + Int(((1 - u) * Double(plot.height - 1)).rounded())
        XCTAssertNotEqual(framed[48, tickY], framed[48, 2], "a tick mark beside the plot at 1 kHz")
        let labelPixels = (0..<44).flatMap { x in (max(0, tickY - 3)..<(tickY + 4)).map { framed[x, $0] } }.filter { $0.lightness > 70 }
        XCTAssertGreaterThan(labelPixels.count, 20, "the 1 kHz label is drawn left of its tick")
        let bottomInk = (0..<framed.width).flatMap { x in ((framed.height - 14)..<framed.height).map { framed[x, $0] } }.filter { $0.lightness > 70 }
        XCTAssertGreaterThan(bottomInk.count, 50, "time labels along the bottom")
    }
}
