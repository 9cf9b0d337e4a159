import XCTest
@testable import Charts

final class LineChartTests: XCTestCase {
    private func trainingChart() -> LineChart {
        LineChart(
            title: "Loss per epoch", xLabel: "epoch", yLabel: "BCE loss",
            series: [
                .init(name: "train", y: [1.0, 0.6, 0.4, 0.2]),
                .init(name: "validation", y: [1.0, 0.8, 0.6, 0.6], dashed: true),
            ])
    }

    func testIsWellFormedXMLWithTitleAxesLabelsAndLegend() throws {
        let doc = try SVGDocument(trainingChart().svg())
        XCTAssertEqual(doc.elements.first?.name, "svg")
        XCTAssertEqual(doc.all("text", inClass: "title").map(\.text), ["Loss per epoch"])
        XCTAssertEqual(doc.all("text", inClass: "xlabel").map(\.text), ["epoch"])
        XCTAssertEqual(doc.all("text", inClass: "ylabel").map(\.text), ["BCE loss"])
        XCTAssertEqual(doc.all("text", inClass: "legend").map(\.text), ["train", "validation"])
        XCTAssertEqual(doc.all("g").filter { $0.attributes["class"] == "series" }.compactMap { $0.attributes["data-name"] }, ["train", "validation"])
        XCTAssertEqual(doc.all("text", inClass: "xtick").map(\.text), ["1", "2", "3", "4"])
        XCTAssertEqual(doc.all("text", inClass: "ytick").map(\.text), ["0.2", "0.4", "0.6", "0.8", "1.0"])
        // A grid line for every tick of both axes.
        XCTAssertEqual(doc.all("line", inClass: "grid").count, 4 + 5)
        // The dashed series is dashed in the plot and in the legend.
        let dashedLines = doc.elements.filter { $0.attributes["stroke-dasharray"] != nil }
        XCTAssertEqual(dashedLines.count, 2)
    }

    /// Every data point lands exactly where the axes say its value is.
    func testPointsSitOnTheirTickPositions() throws {
        let doc = try SVGDocument(trainingChart().svg())
        let xPixel = Dictionary(uniqueKeysWithValues: doc.all("text", inClass: "xtick").map { (Double($0.text)!, Double($0.attributes["x"]!)!) })
        // Tick labels are drawn 4 px below their line to centre the text on it.
        let yPixel = Dictionary(uniqueKeysWithValues: doc.all("text", inClass: "ytick").map { (Double($0.text)!, Double($0.attributes["y"]!)! - 4) })
        let expected: [String: [(Double, Double)]] = [
            "train": [(1, 1.0), (2, 0.6), (3, 0.4), (4, 0.2)],
            "validation": [(1, 1.0), (2, 0.8), (3, 0.6), (4, 0.6)],
        ]
        for (name, points) in expected {
            let polylines = doc.all("polyline").filter { $0.series == name }
            XCTAssertEqual(polylines.count, 1, name)
            let drawn = try XCTUnwrap(polylines.first?.attributes["points"]).split(separator: " ").map { pair in
                pair.split(separator: ",").map { Double($0)! }
            }
            XCTAssertEqual(drawn.count, points.count, name)
            for (pixel, point) in zip(drawn, points) {
                XCTAssertEqual(pixel[0], try XCTUnwrap(xPixel[point.0]), accuracy: 0.011, "\(name) x of \(point)")
                XCTAssertEqual(pixel[1], try XCTUnwrap(yPixel[point.1]), accuracy: 0.011, "\(name) y of \(point)")
            }
            XCTAssertEqual(doc.all("circle").filter { $0.series == name }.count, points.count, "markers of \(name)")
        }
        // Higher values are drawn higher up (smaller SVG y).
        XCTAssertLessThan(yPixel[1.0]!, yPixel[0.2]!)
    }

    func testNonFiniteValuesBreakTheLine() throws {
        let chart = LineChart(title: "t", series: [.init(name: "loss", y: [3, 2, .nan, 1.5, 1, .infinity, 0.5])])
        let doc = try SVGDocument(chart.svg())
        let polylines = doc.all("polyline").filter { $0.series == "loss" }
        XCTAssertEqual(polylines.map { $0.attributes["points"]!.split(separator: " ").count }, [2, 2, 1])
        XCTAssertEqual(doc.all("circle").count, 5)
        XCTAssertEqual(doc.all("text", inClass: "ytick").map(\.text), ["0", "1", "2", "3"])  // 0.5…3: step 1
    }

    func testNamesAreEscapedAndReadBackIntact() throws {
        let name = "loss <train> & \"val\" 'x'"
        let chart = LineChart(title: "A & B < C", series: [.init(name: name, y: [1, 2])])
        let doc = try SVGDocument(chart.svg())
        XCTAssertEqual(doc.all("text", inClass: "title").first?.text, "A & B < C")
        XCTAssertEqual(doc.all("text", inClass: "legend").first?.text, name)
        XCTAssertEqual(doc.all("g").first { $0.attributes["class"] == "series" }?.attributes["data-name"], name)
    }

    func testEmptyAndSinglePointChartsStillDraw() throws {
        let empty = try SVGDocument(LineChart(title: "nothing yet").svg())
        XCTAssertEqual(empty.all("polyline").count, 0)
        XCTAssertFalse(empty.all("text", inClass: "ytick").isEmpty)
        let single = try SVGDocument(LineChart(title: "one", series: [.init(name: "acc", y: [0.7])]).svg())
        XCTAssertEqual(single.all("circle").count, 1)
        let ticks = single.all("text", inClass: "ytick").map { Double($0.text)! }
        XCTAssertLessThan(ticks.first!, 0.7)
        XCTAssertGreaterThan(ticks.last!, 0.7)
    }

    func testFixedRangeAndExplicitColours() throws {
        let chart = LineChart(title: "acc", series: [.init(name: "val", x: [0, 10], y: [0.5, 0.9], color: RGBColor(hex: 0x123456))], yRange: 0 ... 1)
        let doc = try SVGDocument(chart.svg())
        XCTAssertEqual(doc.all("text", inClass: "ytick").map(\.text), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(doc.all("polyline").first?.attributes["stroke"], "#123456")
    }

    func testMismatchedSeriesThrows() {
        let chart = LineChart(title: "bad", series: [.init(name: "s", x: [1, 2, 3], y: [1, 2])])
        XCTAssertThrowsError(try chart.svg()) { error in
            guard case ChartError.invalidDimensions = error else { return XCTFail("\(error)") }
        }
    }

    func testWritesSVGFile() throws {
        let path = NSTemporaryDirectory() + "/chart-\(UUID().uuidString).svg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try trainingChart().writeSVG(to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertNoThrow(try SVGDocument(text))
    }
}

final class AxisTicksTests: XCTestCase {
    /// Heckbert's loose labelling, worked by hand: span → nice(span), step → nice(span / 5, rounded).
    func testNiceTicks() {
        assertTicks(AxisTicks(low: 0, high: 1), lower: 0, upper: 1, step: 0.2)
        assertTicks(AxisTicks(low: 3, high: 97), lower: 0, upper: 100, step: 20)
        assertTicks(AxisTicks(low: -2.5, high: 7.3), lower: -4, upper: 8, step: 2)
        assertTicks(AxisTicks(low: 1, high: 4), lower: 1, upper: 4, step: 1)
        let small = AxisTicks(low: 0.0013, high: 0.0087)
        XCTAssertEqual(small.step, 0.002, accuracy: 1e-15)
    }

    private func assertTicks(_ ticks: AxisTicks, lower: Double, upper: Double, step: Double, line: UInt = #line) {
        XCTAssertEqual(ticks.lower, lower, accuracy: 1e-12, line: line)
        XCTAssertEqual(ticks.upper, upper, accuracy: 1e-12, line: line)
        XCTAssertEqual(ticks.step, step, accuracy: 1e-12, line: line)
    }

    func testValuesAndLabels() {
        let ticks = AxisTicks(low: -0.3, high: 0.3)
        XCTAssertEqual(ticks.values.map(ticks.label), ["-0.4", "-0.2", "0.0", "0.2", "0.4"])
        let big = AxisTicks(low: 0, high: 3_000_000)
        XCTAssertEqual(big.label(2_000_000), "2e+06")
        XCTAssertEqual(AxisTicks(low: 5, high: 5).values.first.map { $0 < 5 }, true)
    }
}
