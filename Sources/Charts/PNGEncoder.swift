import CZlib
import Foundation

/// How the bytes of one pixel are laid out.
public enum PixelFormat: Sendable {
    /// Red, green, blue: 3 bytes a pixel.
    case rgb8
    /// Red, green, blue, alpha (straight, not premultiplied): 4 bytes a pixel.
    case rgba8

    public var bytesPerPixel: Int {
        switch self {
        case .rgb8: return 3
        case .rgba8: return 4
        }
    }

    /// PNG's colour type for IHDR (ISO/IEC 15948 §11.2.2): 2 truecolour, 6 truecolour with alpha.
    var pngColorType: UInt8 {
        switch self {
        case .rgb8: return 2
        case .rgba8: return 6
        }
    }
}

/// Encodes 8-bit RGB/RGBA pixels as a PNG file (ISO/IEC 15948, W3C PNG 2nd ed.).
///
/// Each row gets the filter (None, Sub, Up, Average or Paeth) whose output has the
/// smallest sum of absolute byte values, libpng's heuristic (PNG spec §12.8), then
/// the whole stream is deflated once with zlib `compress2`. Chunk CRCs are zlib's `crc32`.
public enum PNGEncoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// - Parameters:
    ///   - pixels: `height` rows of `width` pixels, top row first, no padding.
    ///   - compressionLevel: zlib level 0 (store) … 9 (smallest); default 6.
    /// - Returns: the bytes of a complete PNG file.
    public static func encode(
        width: Int, height: Int, format: PixelFormat, pixels: [UInt8], compressionLevel: Int32 = 6
    ) throws(ChartError) -> [UInt8] {
        // PNG stores dimensions as 31-bit unsigned integers.
        guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max) else {
            throw .invalidDimensions("\(width)×\(height): a PNG needs at least one pixel and at most 2^31-1 on a side")
        }
        let (rowBytes, overflowRow) = width.multipliedReportingOverflow(by: format.bytesPerPixel)
        let (total, overflowTotal) = rowBytes.multipliedReportingOverflow(by: height)
        guard !overflowRow, !overflowTotal, pixels.count == total else {
            throw .invalidDimensions("\(pixels.count) bytes given for \(width)×\(height) pixels of \(format.bytesPerPixel) bytes")
        }
        let filtered = filterRows(pixels, rowBytes: rowBytes, height: height, bytesPerPixel: format.bytesPerPixel)
        let compressed = try deflate(filtered, level: compressionLevel)

        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [8, format.pngColorType, 0, 0, 0]  // bit depth, colour type, deflate, adaptive filtering, no interlace

        var png = signature
        png.reserveCapacity(compressed.count + 64)
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", compressed, to: &png)
        appendChunk("IEND", [], to: &png)
        return png
    }

    /// Prefixes each row with its filter type byte and filters it (PNG spec §9).
    static func filterRows(_ pixels: [UInt8], rowBytes: Int, height: Int, bytesPerPixel bpp: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        let zeroRow = [UInt8](repeating: 0, count: rowBytes)
        pixels.withUnsafeBufferPointer { src in
            zeroRow.withUnsafeBufferPointer { zeros in
                out.withUnsafeMutableBufferPointer { dst in
                    candidate.withUnsafeMutableBufferPointer { trial in
                        for y in 0..<height {
                            let row = UnsafeBufferPointer(rebasing: src[(y * rowBytes)..<((y + 1) * rowBytes)])
                            let above = y == 0 ? zeros : UnsafeBufferPointer(rebasing: src[((y - 1) * rowBytes)..<(y * rowBytes)])
                            let outRow = UnsafeMutableBufferPointer(rebasing: dst[(y * (rowBytes + 1) + 1)..<((y + 1) * (rowBytes + 1))])
                            var bestType: UInt8 = 0
                            var bestCost = Int.max
                            for type: UInt8 in 0...4 {
                                let cost = applyFilter(type, row: row, above: above, bpp: bpp, into: trial)
                                if cost < bestCost {
                                    bestCost = cost
                                    bestType = type
                                    _ = outRow.update(fromContentsOf: trial)
                                }
                            }
                            dst[y * (rowBytes + 1)] = bestType
                        }
                    }
                }
            }
        }
        return out
    }

    /// Filters one row with `type` into `out`; returns the sum of the outputs read as
    /// signed bytes, the cost libpng minimises.
    @inline(__always)
    static func applyFilter(
        _ type: UInt8, row: UnsafeBufferPointer<UInt8>, above: UnsafeBufferPointer<UInt8>,
        bpp: Int, into out: UnsafeMutableBufferPointer<UInt8>
    ) -> Int {
        var cost = 0
        for i in 0..<row.count {
            let x = row[i]
            let a = i >= bpp ? row[i - bpp] : 0
            let b = above[i]
            let c = i >= bpp ? above[i - bpp] : 0
            let predictor: UInt8
            switch type {
            case 0: predictor = 0
            case 1: predictor = a
            case 2: predictor = b
            case 3: predictor = UInt8((Int(a) + Int(b)) / 2)
            default: predictor = paeth(a, b, c)
            }
            let value = x &- predictor
            out[i] = value
            cost += value < 128 ? Int(value) : 256 - Int(value)
        }
        return cost
    }

    /// The Paeth predictor (PNG spec §9.4): whichever of a, b, c is nearest to a + b - c.
    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    static func deflate(_ data: [UInt8], level: Int32) throws(ChartError) -> [UInt8] {
        var capacity = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &capacity, src.baseAddress, uLong(src.count), min(max(level, 0), 9))
            }
        }
        guard status == Z_OK else { throw .compressionFailed(status: status) }
        out.removeSubrange(Int(capacity)...)
        return out
    }

    static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        png.appendBigEndian(UInt32(data.count))
        png += typeBytes
        png += data
        // The CRC covers type and data (PNG spec §5.3). zlib's crc32 returns 0 for a null
        // buffer, so an empty data part (IEND) must not be passed to it.
        var crc = typeBytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        if !data.isEmpty {
            crc = data.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        }
        png.appendBigEndian(UInt32(truncatingIfNeeded: crc))
    }

    /// Writes `bytes` to `path`, replacing any file there atomically.
    static func write(_ bytes: [UInt8], to path: String) throws(ChartError) {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
