import Foundation

/// A line chart written as SVG: title, axes with nice ticks and labels, grid lines,
/// one polyline per named series and a legend; used for training curves (loss and
/// metrics per epoch).
///
/// Points whose x or y is not finite (a NaN loss) are left out and break the line there.
public struct LineChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        /// nil picks the next colour of matplotlib's "tab10" cycle.
        public var color: RGBColor?
        public var dashed: Bool

        public init(name: String, x: [Double], y: [Double], color: RGBColor? = nil, dashed: Bool = false) {
            self.name = name
            self.x = x
            self.y = y
            self.color = color
            self.dashed = dashed
        }

        /// A series over x = 1, 2, 3 … (epochs).
        public init(name: String, y: [Double], color: RGBColor? = nil, dashed: Bool = false) {
            self.init(name: name, x: y.indices.map { Double($0 + 1) }, y: y, color: color, dashed: dashed)
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Axis extents; nil fits the data (widened to nice ticks).
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Size of the whole picture in SVG user units (pixels); defaults 720 × 440.
    public var width: Double
    public var height: Double

    public init(
        title: String, xLabel: String = "", yLabel: String = "", series: [Series] = [],
        xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
        width: Double = 720, height: Double = 440
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.xRange = xRange
        self.yRange = yRange
        self.width = width
        self.height = height
    }

    /// matplotlib's "tab10" colour cycle.
    static let palette: [UInt32] = [
        0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD, 0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF,
    ]

    /// The chart as an SVG document.
    public func svg() throws(ChartError) -> String {
        for s in series where s.x.count != s.y.count {
            throw .invalidDimensions("series \"\(s.name)\" has \(s.x.count) x values but \(s.y.count) y values")
        }
        guard width >= 200, height >= 150, width.isFinite, height.isFinite else {
            throw .invalidDimensions("a chart of \(width)×\(height) is too small to draw (at least 200×150)")
        }
        let xTicks = Self.ticks(fixed: xRange, data: series.flatMap { s in zip(s.x, s.y).filter { $0.1.isFinite }.map(\.0) })
        let yTicks = Self.ticks(fixed: yRange, data: series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite }.map(\.1) })

        // Layout: the legend gets a column to the right sized by the longest name
        // (about 0.6 em per character at 12 px).
        let longestName = series.map(\.name.count).max() ?? 0
        let legendWidth = series.isEmpty ? 0 : Double(min(longestName, 40)) * 7.2 + 44
        let plot = (left: 72.0, top: 44.0, right: width - 20 - legendWidth, bottom: height - 56)
        func px(_ x: Double) -> Double { plot.left + (x - xTicks.lower) / (xTicks.upper - xTicks.lower) * (plot.right - plot.left) }
        func py(_ y: Double) -> Double { plot.bottom - (y - yTicks.lower) / (yTicks.upper - yTicks.lower) * (plot.bottom - plot.top) }

        var svg = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="12">
        <rect class="background" x="0" y="0" width="\(f(width))" height="\(f(height))" fill="white"/>
        <text class="title" x="\(f((plot.left + plot.right) / 2))" y="26" text-anchor="middle" font-size="16" font-weight="bold">\(escape(title))</text>

        """
        // Grid lines and tick labels.
        svg += "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n"
        for v in xTicks.values { svg += "<line x1=\"\(f(px(v)))\" y1=\"\(f(plot.top))\" x2=\"\(f(px(v)))\" y2=\"\(f(plot.bottom))\"/>\n" }
        for v in yTicks.values { svg += "<line x1=\"\(f(plot.left))\" y1=\"\(f(py(v)))\" x2=\"\(f(plot.right))\" y2=\"\(f(py(v)))\"/>\n" }
        svg += "</g>\n<g class=\"axes\" stroke=\"#333333\" stroke-width=\"1\" fill=\"none\">\n"
        svg += "<rect x=\"\(f(plot.left))\" y=\"\(f(plot.top))\" width=\"\(f(plot.right - plot.left))\" height=\"\(f(plot.bottom - plot.top))\"/>\n"
        for v in xTicks.values { svg += "<line x1=\"\(f(px(v)))\" y1=\"\(f(plot.bottom))\" x2=\"\(f(px(v)))\" y2=\"\(f(plot.bottom + 5))\"/>\n" }
        for v in yTicks.values { svg += "<line x1=\"\(f(plot.left - 5))\" y1=\"\(f(py(v)))\" x2=\"\(f(plot.left))\" y2=\"\(f(py(v)))\"/>\n" }
        svg += "</g>\n<g class=\"tick-labels\" fill=\"#333333\">\n"
        for v in xTicks.values {
            svg += "<text class=\"xtick\" data-value=\"\(v)\" x=\"\(f(px(v)))\" y=\"\(f(plot.bottom + 19))\" text-anchor=\"middle\">\(xTicks.label(v))</text>\n"
        }
        for v in yTicks.values {
            svg += "<text class=\"ytick\" data-value=\"\(v)\" x=\"\(f(plot.left - 8))\" y=\"\(f(py(v) + 4))\" text-anchor=\"end\">\(yTicks.label(v))</text>\n"
        }
        svg += "</g>\n"
        let midY = (plot.top + plot.bottom) / 2
        svg += "<text class=\"xlabel\" x=\"\(f((plot.left + plot.right) / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        svg += "<text class=\"ylabel\" x=\"18\" y=\"\(f(midY))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(f(midY)))\">\(escape(yLabel))</text>\n"

        // Series, clipped to the plot so a fixed range can cut them.
        svg += "<clipPath id=\"plot-area\"><rect x=\"\(f(plot.left))\" y=\"\(f(plot.top))\" width=\"\(f(plot.right - plot.left))\" height=\"\(f(plot.bottom - plot.top))\"/></clipPath>\n"
        for (index, s) in series.enumerated() {
            let color = (s.color ?? RGBColor(hex: Self.palette[index % Self.palette.count])).hexString
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<g class=\"series\" data-name=\"\(escape(s.name))\" clip-path=\"url(#plot-area)\">\n"
            let points = zip(s.x, s.y).map { (x: $0.0, y: $0.1) }
            for run in Self.finiteRuns(points) {
                let coordinates = run.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                svg += "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash) stroke-linejoin=\"round\"/>\n"
            }
            // Markers show single points and make sparse curves (few epochs) readable.
            let finiteCount = points.lazy.filter { $0.x.isFinite && $0.y.isFinite }.count
            if finiteCount <= 60 {
                for p in points where p.x.isFinite && p.y.isFinite {
                    svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.5\" fill=\"\(color)\"/>\n"
                }
            }
            svg += "</g>\n"
        }

        // Legend.
        if !series.isEmpty {
            let legendLeft = plot.right + 14
            svg += "<g class=\"legend\">\n"
            for (index, s) in series.enumerated() {
                let color = (s.color ?? RGBColor(hex: Self.palette[index % Self.palette.count])).hexString
                let y = plot.top + 8 + Double(index) * 20
                let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
                svg += "<line x1=\"\(f(legendLeft))\" y1=\"\(f(y))\" x2=\"\(f(legendLeft + 22))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
                svg += "<text x=\"\(f(legendLeft + 28))\" y=\"\(f(y + 4))\">\(escape(s.name))</text>\n"
            }
            svg += "</g>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// Saves the chart as an SVG file at `path` (replaced atomically if it exists).
    public func writeSVG(to path: String) throws(ChartError) {
        try PNGEncoder.write(Array(svg().utf8), to: path)
    }

    static func ticks(fixed: ClosedRange<Double>?, data: [Double]) -> AxisTicks {
        if let fixed, fixed.lowerBound.isFinite, fixed.upperBound.isFinite {
            return AxisTicks(low: fixed.lowerBound, high: fixed.upperBound)
        }
        let finite = data.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max() else { return AxisTicks(low: 0, high: 1) }
        return AxisTicks(low: low, high: high)
    }

    /// The stretches of consecutive points with finite coordinates.
    static func finiteRuns(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = []
        var current: [(x: Double, y: Double)] = []
        for p in points {
            if p.x.isFinite && p.y.isFinite {
                current.append(p)
            } else if !current.isEmpty {
                runs.append(current)
                current = []
            }
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }
}

/// A coordinate with two decimals, enough for screen pixels and short to read.
private func f(_ value: Double) -> String {
    String(format: "%.2f", value)
}

/// Text made safe inside XML content and attribute values.
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        // XML 1.0 forbids most control characters even escaped; drop them.
        case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
        default:
            if scalar.value >= 0x20 { out.unicodeScalars.append(scalar) }
        }
    }
    return out
}
