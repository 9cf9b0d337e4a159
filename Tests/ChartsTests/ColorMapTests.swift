import XCTest
@testable import Charts

final class ColorMapTests: XCTestCase {
    /// Published end and middle colours of matplotlib's maps (matplotlib's colormap
    /// reference; viridis: #440154 … #21918c … #fde725, magma: #000004 … #b73779 … #fcfdbf).
    /// The 8-bit tables truncate rather than round, so allow one step.
    func testEndsAndMiddleMatchPublishedColours() {
        let expected: [(ColorMap, UInt32, UInt32, UInt32)] = [
            (.viridis, 0x440154, 0x21918C, 0xFDE725),
            (.magma, 0x000004, 0xB73779, 0xFCFDBF),
        ]
        for (map, first, middle, last) in expected {
            XCTAssertEqual(map.table.count, 256)
            assertClose(map.color(at: 0), RGBColor(hex: first), tolerance: 1, "\(map) at 0")
            assertClose(map.color(at: 0.5), RGBColor(hex: middle), tolerance: 2, "\(map) at 0.5")
            assertClose(map.color(at: 1), RGBColor(hex: last), tolerance: 1, "\(map) at 1")
        }
    }

    /// Perceptually uniform maps have lightness that rises steadily from end to end.
    func testLightnessRisesMonotonically() {
        for map in ColorMap.allCases {
            let lightness = map.table.map(\.lightness)
            for i in 1..<lightness.count {
                // 8-bit truncation can wobble neighbouring entries by a fraction of a unit.
                XCTAssertGreaterThan(lightness[i], lightness[i - 1] - 0.5, "\(map) entry \(i)")
            }
            for i in stride(from: 8, to: 256, by: 8) {
                XCTAssertGreaterThan(lightness[i], lightness[i - 8], "\(map) entries \(i - 8)…\(i)")
            }
            XCTAssertLessThan(lightness[0], 20, "\(map) starts dark")
            XCTAssertGreaterThan(lightness[255], 85, "\(map) ends light")
        }
    }

    func testLightnessOfReferenceColours() {
        XCTAssertEqual(RGBColor(red: 0, green: 0, blue: 0).lightness, 0, accuracy: 1e-9)
        XCTAssertEqual(RGBColor(red: 255, green: 255, blue: 255).lightness, 100, accuracy: 1e-6)
        // sRGB mid grey 119 has L* ≈ 50 (CIELAB).
        XCTAssertEqual(RGBColor(red: 119, green: 119, blue: 119).lightness, 50, accuracy: 0.5)
    }

    /// Entry choice follows matplotlib: floor(t * 256), clamped; out-of-range and NaN clamp.
    func testValueToEntryFollowsMatplotlib() {
        let table = ColorMap.viridis.table
        XCTAssertEqual(ColorMap.viridis.color(at: 0.5), table[128])
        XCTAssertEqual(ColorMap.viridis.color(at: 0.499), table[127])
        XCTAssertEqual(ColorMap.viridis.color(at: 1.0 / 256), table[1])
        XCTAssertEqual(ColorMap.viridis.color(at: 0.999), table[255])
        XCTAssertEqual(ColorMap.viridis.color(at: -3), table[0])
        XCTAssertEqual(ColorMap.viridis.color(at: 7), table[255])
        XCTAssertEqual(ColorMap.viridis.color(at: .nan), table[0])
        XCTAssertEqual(ColorMap.viridis.color(at: .infinity), table[255])
        XCTAssertEqual(ColorMap(rawValue: "magma"), .magma)
        XCTAssertNil(ColorMap(rawValue: "jet"))
    }

    func testHexStringRoundTrip() {
        XCTAssertEqual(RGBColor(hex: 0x1F77B4).hexString, "#1f77b4")
        XCTAssertEqual(RGBColor(red: 0, green: 10, blue: 255).hexString, "#000aff")
    }

    private func assertClose(_ a: RGBColor, _ b: RGBColor, tolerance: Int, _ message: String, line: UInt = #line) {
        let diffs = [Int(a.red) - Int(b.red), Int(a.green) - Int(b.green), Int(a.blue) - Int(b.blue)]
        XCTAssertTrue(diffs.allSatisfy { abs($0) <= tolerance }, "\(message): \(a.hexString) vs \(b.hexString)", line: line)
    }
}
