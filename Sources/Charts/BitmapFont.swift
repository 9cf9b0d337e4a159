/// A 5×7 pixel font for the few characters axis labels need (digits, `:`, `.`, `k`, `H`, `z`,
/// `s`, space), drawn straight into a `RasterImage` — enough for tick labels without a font
/// library. Each glyph is 7 rows of 5 bits, most significant bit leftmost.
public enum BitmapFont {
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ":": [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00], ".": [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        "k": [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "z": [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F], "s": [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        " ": [0, 0, 0, 0, 0, 0, 0],
    ]

    /// Pixels `text` takes at `scale` (glyphs 5 wide plus 1 of spacing, 7 high).
    public static func size(of text: String, scale: Int = 1) -> (width: Int, height: Int) {
        (max(0, text.count * 6 - 1) * scale, 7 * scale)
    }

    /// Draws `text` with its top-left corner at (x, y); pixels outside the image are skipped,
    /// characters without a glyph are left blank.
    public static func draw(_ text: String, at x: Int, _ y: Int, color: RGBColor, scale: Int = 1, in image: inout RasterImage) {
        for (index, character) in text.enumerated() {
            guard let rows = glyphs[character] else { continue }
            for (row, bits) in rows.enumerated() {
                for column in 0..<5 where bits & (0x10 >> UInt8(column)) != 0 {
                    for dy in 0..<scale {
                        for dx in 0..<scale {
                            let px = x + (index * 6 + column) * scale + dx, py = y + row * scale + dy
                            if px >= 0, py >= 0, px < image.width, py < image.height { image[px, py] = color }
                        }
                    }
                }
            }
        }
    }
}
