/// An RGB picture held in memory, top row first, saved as PNG.
public struct RasterImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `height` rows of `width` pixels, 3 bytes (R, G, B) each, top row first.
    public internal(set) var pixels: [UInt8]

    /// A picture filled with `background`.
    public init(width: Int, height: Int, background: RGBColor = RGBColor(red: 0, green: 0, blue: 0)) throws(ChartError) {
        guard width > 0, height > 0 else {
            throw .invalidDimensions("\(width)×\(height): a picture needs at least one pixel")
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height * 3)
        guard !overflow, count < 1 << 31 else {
            throw .invalidDimensions("\(width)×\(height) is too large for one picture (at most 2 GiB of pixels)")
        }
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: count)
        if background != RGBColor(red: 0, green: 0, blue: 0) {
            for i in stride(from: 0, to: count, by: 3) {
                pixels[i] = background.red
                pixels[i + 1] = background.green
                pixels[i + 2] = background.blue
            }
        }
    }

    /// The pixel at column `x`, row `y` (row 0 at the top).
    public subscript(x: Int, y: Int) -> RGBColor {
        get {
            let i = (y * width + x) * 3
            return RGBColor(red: pixels[i], green: pixels[i + 1], blue: pixels[i + 2])
        }
        set {
            let i = (y * width + x) * 3
            pixels[i] = newValue.red
            pixels[i + 1] = newValue.green
            pixels[i + 2] = newValue.blue
        }
    }

    /// Each pixel becomes a `factor`×`factor` block (nearest neighbour, no smoothing,
    /// so one cell of a heatmap stays one flat block).
    public func scaled(by factor: Int) throws(ChartError) -> RasterImage {
        guard factor >= 1 else { throw .invalidDimensions("scale factor \(factor) must be at least 1") }
        if factor == 1 { return self }
        var out = try RasterImage(width: width * factor, height: height * factor)
        let outRowBytes = out.width * 3
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let firstOutRow = y * factor * outRowBytes
                    var o = firstOutRow
                    for x in 0..<width {
                        let s = (y * width + x) * 3
                        for _ in 0..<factor {
                            dst[o] = src[s]
                            dst[o + 1] = src[s + 1]
                            dst[o + 2] = src[s + 2]
                            o += 3
                        }
                    }
                    for copy in 1..<factor {
                        let target = firstOutRow + copy * outRowBytes
                        for i in 0..<outRowBytes { dst[target + i] = dst[firstOutRow + i] }
                    }
                }
            }
        }
        return out
    }

    /// The picture as the bytes of a PNG file.
    public func pngData() throws(ChartError) -> [UInt8] {
        try PNGEncoder.encode(width: width, height: height, format: .rgb8, pixels: pixels)
    }

    /// Saves the picture as a PNG file at `path` (replaced atomically if it exists).
    public func writePNG(to path: String) throws(ChartError) {
        try PNGEncoder.write(pngData(), to: path)
    }
}
