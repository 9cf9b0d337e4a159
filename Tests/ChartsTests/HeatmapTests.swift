import XCTest
@testable import Charts

final class HeatmapTests: XCTestCase {
    // The ends of viridis, themselves checked against the published colours in ColorMapTests.
    private let viridisFirst = ColorMap.viridis.table[0]
    private let viridisLast = ColorMap.viridis.table[255]

    /// Row 0 (lowest frequency) is drawn at the bottom, column 0 (earliest frame) at the left.
    func testLowRowsAtTheBottomAndTimeToTheRight() throws {
        // 3 rows × 4 columns; only row 0, column 0 is the minimum, only row 2, column 3 the maximum.
        var values = [Float](repeating: 5, count: 12)
        values[0 * 4 + 0] = 0
        values[2 * 4 + 3] = 10
        let image = try Heatmap(colorMap: .viridis).render(values: values, rows: 3, columns: 4)
        XCTAssertEqual(image.width, 4)
        XCTAssertEqual(image.height, 3)
        XCTAssertEqual(image[0, 2], viridisFirst, "minimum at bottom-left")
        XCTAssertEqual(image[3, 0], viridisLast, "maximum at top-right")
        XCTAssertEqual(image[1, 1], ColorMap.viridis.table[128], "5 of 0…10 is the middle entry")
    }

    func testTopOriginKeepsRowOrder() throws {
        let image = try Heatmap(colorMap: .viridis, originAtBottom: false).render(values: [0, 1], rows: 2, columns: 1)
        XCTAssertEqual(image[0, 0], viridisFirst)
        XCTAssertEqual(image[0, 1], viridisLast)
    }

    func testFixedRangeClampsOutliers() throws {
        let image = try Heatmap(colorMap: .magma, range: -80 ... 0).render(values: [-200, -40, 30], rows: 1, columns: 3)
        XCTAssertEqual(image[0, 0], ColorMap.magma.table[0])
        XCTAssertEqual(image[1, 0], ColorMap.magma.table[128])
        XCTAssertEqual(image[2, 0], ColorMap.magma.table[255])
    }

    func testScaleMakesFlatBlocks() throws {
        let image = try Heatmap(colorMap: .viridis, scale: 3).render(values: [0, 1, 2, 3], rows: 2, columns: 2)
        XCTAssertEqual(image.width, 6)
        XCTAssertEqual(image.height, 6)
        for y in 0..<6 {
            for x in 0..<6 {
                // Cell (row, column) = (1 - y/3, x/3) because row 0 is at the bottom.
                let value = Float((1 - y / 3) * 2 + x / 3)
                XCTAssertEqual(image[x, y], ColorMap.viridis.color(at: value / 3), "pixel \(x),\(y)")
            }
        }
    }

    func testFlatAndNonFiniteGridsDoNotCrash() throws {
        let flat = try Heatmap(colorMap: .viridis).render(values: [2, 2, 2, 2], rows: 2, columns: 2)
        XCTAssertEqual(Set(flat.pixels.chunks3), [viridisFirst])
        let holes = try Heatmap(colorMap: .viridis).render(values: [.nan, 0, .infinity, 4], rows: 2, columns: 2)
        XCTAssertEqual(holes[0, 1], viridisFirst, "NaN takes the lowest colour")
        XCTAssertEqual(holes[0, 0], viridisLast, "+inf clamps to the highest colour")
        XCTAssertEqual(holes[1, 0], viridisLast)
        let allNaN = try Heatmap().render(values: [.nan], rows: 1, columns: 1)
        XCTAssertEqual(allNaN.width, 1)
    }

    func testRejectsMismatchedGrids() {
        XCTAssertThrowsError(try Heatmap().render(values: [1, 2, 3], rows: 2, columns: 2))
        XCTAssertThrowsError(try Heatmap().render(values: [], rows: 0, columns: 5))
        XCTAssertThrowsError(try Heatmap(scale: 0).render(values: [1], rows: 1, columns: 1))
    }

    func testRenderedHeatmapDecodesFromPNG() throws {
        let rows = 16, columns = 40
        let values = (0..<(rows * columns)).map { Float($0 / columns) }  // rises with the row
        let image = try Heatmap(colorMap: .magma, scale: 2).render(values: values, rows: rows, columns: columns)
        let reader = try PNGReader(image.pngData())
        XCTAssertEqual(reader.width, 80)
        XCTAssertEqual(reader.height, 32)
        let pixels = try reader.pixels()
        XCTAssertEqual(pixels, image.pixels)
        // Bottom row is the darkest (row 0), top row the lightest.
        let bottom = RGBColor(red: pixels[(31 * 80) * 3], green: pixels[(31 * 80) * 3 + 1], blue: pixels[(31 * 80) * 3 + 2])
        let top = RGBColor(red: pixels[0], green: pixels[1], blue: pixels[2])
        XCTAssertLessThan(bottom.lightness, 5)
        XCTAssertGreaterThan(top.lightness, 90)
    }
}

extension Array where Element == UInt8 {
    var chunks3: [RGBColor] {
        stride(from: 0, to: count, by: 3).map { RGBColor(red: self[$0], green: self[$0 + 1], blue: self[$0 + 2]) }
    }
}
