/// Paints a grid of values (a spectrogram, a confusion matrix) as a picture through a
/// colour map, the way `librosa.display.specshow` / `matplotlib.pyplot.imshow(origin="lower")`
/// do: row 0 of the grid at the bottom, column 0 at the left, one pixel per cell
/// (times `scale`).
public struct Heatmap: Sendable {
    public var colorMap: ColorMap
    /// Values mapped to the ends of the colour map; nil uses the grid's finite
    /// minimum and maximum. Values outside clamp to the end colours.
    public var range: ClosedRange<Float>?
    /// Each cell becomes `scale`×`scale` pixels; default 1.
    public var scale: Int
    /// true (default): row 0 at the bottom, like a spectrogram's lowest frequency.
    public var originAtBottom: Bool

    public init(colorMap: ColorMap = .magma, range: ClosedRange<Float>? = nil, scale: Int = 1, originAtBottom: Bool = true) {
        self.colorMap = colorMap
        self.range = range
        self.scale = scale
        self.originAtBottom = originAtBottom
    }

    /// - Parameter values: `rows` × `columns` values, row-major (`values[row * columns + column]`).
    public func render(values: [Float], rows: Int, columns: Int) throws(ChartError) -> RasterImage {
        guard rows > 0, columns > 0 else {
            throw .invalidDimensions("a heatmap of \(rows) rows × \(columns) columns has no cells")
        }
        guard rows.multipliedReportingOverflow(by: columns) == (values.count, false) else {
            throw .invalidDimensions("\(values.count) values given for \(rows) rows × \(columns) columns")
        }
        guard scale >= 1 else { throw .invalidDimensions("scale \(scale) must be at least 1") }
        let (low, high) = range.map { ($0.lowerBound, $0.upperBound) } ?? Self.finiteExtent(values)
        // A flat grid (high == low) paints everything with the lowest colour rather than dividing by zero.
        let inverseSpan: Float = high > low ? 1 / (high - low) : 0
        let table = colorMap.words

        var image = try RasterImage(width: columns, height: rows)
        values.withUnsafeBufferPointer { src in
            table.withUnsafeBufferPointer { lut in
                image.withMutablePixels { dst in
                    for row in 0..<rows {
                        let y = originAtBottom ? rows - 1 - row : row
                        var o = y * columns * 3
                        for column in 0..<columns {
                            let word = lut[ColorMap.index(of: (src[row * columns + column] - low) * inverseSpan)]
                            dst[o] = UInt8(truncatingIfNeeded: word >> 16)
                            dst[o + 1] = UInt8(truncatingIfNeeded: word >> 8)
                            dst[o + 2] = UInt8(truncatingIfNeeded: word)
                            o += 3
                        }
                    }
                }
            }
        }
        return try image.scaled(by: scale)
    }

    /// The smallest and largest finite values; (0, 0) when there are none.
    static func finiteExtent(_ values: [Float]) -> (Float, Float) {
        var low = Float.infinity, high = -Float.infinity
        for v in values where v.isFinite {
            low = min(low, v)
            high = max(high, v)
        }
        return low <= high ? (low, high) : (0, 0)
    }
}

extension RasterImage {
    mutating func withMutablePixels<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try pixels.withUnsafeMutableBufferPointer { try body($0) }
    }
}
