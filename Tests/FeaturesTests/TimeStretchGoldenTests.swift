import XCTest
@testable import Features

/// Phase-vocoder time stretch against `librosa.effects.time_stretch` on a 1 s clip.
final class TimeStretchGoldenTests: XCTestCase {
    private func check(rate: Double, fixture: String) throws {
        let clip = try GoldenFixtures.load("stretch_input").values
        let ref = try GoldenFixtures.load(fixture).values
        let out = try AudioAugmentation().timeStretch(clip, rate: rate)
        XCTAssertEqual(out.count, ref.count, "length round(len / rate)")
        guard out.count == ref.count else { return }
        let err = maxAbsDifference(out, ref)
        print("[golden] time_stretch rate \(rate): max abs error = \(err) (peak \(ref.map(abs).max() ?? 0))")
        XCTAssertLessThanOrEqual(err, 1e-3)
    }

    func testRate1_25() throws { try check(rate: 1.25, fixture: "stretch_1_25") }

    func testRate0_8() throws { try check(rate: 0.8, fixture: "stretch_0_8") }

    func testRejectsBadRate() {
        XCTAssertThrowsError(try AudioAugmentation().timeStretch([0.1, 0.2], rate: 0))
        XCTAssertThrowsError(try AudioAugmentation().timeStretch([0.1, 0.2], rate: .nan))
        XCTAssertThrowsError(try AudioAugmentation().timeStretch([], rate: 1.1))
    }
}
