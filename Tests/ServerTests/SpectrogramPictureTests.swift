import Charts
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
}
