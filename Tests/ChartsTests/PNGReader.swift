import CZlib
import XCTest

/// A minimal, independent PNG reader for the tests: splits chunks, checks their CRCs
/// with zlib, inflates IDAT with `uncompress` and undoes the row filters following
/// the PNG specification (§9), so the encoder is checked against the spec, not itself.
struct PNGReader {
    struct Chunk {
        let type: String
        let data: [UInt8]
        let storedCRC: UInt32
        let computedCRC: UInt32
    }

    let chunks: [Chunk]
    let width: Int
    let height: Int
    let bitDepth: UInt8
    let colorType: UInt8
    let interlace: UInt8
    /// IDAT inflated: height rows of (1 filter byte + width * bpp).
    let inflated: [UInt8]

    var bytesPerPixel: Int { colorType == 6 ? 4 : 3 }

    init(_ png: [UInt8]) throws {
        let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        guard png.count > 8, Array(png[0..<8]) == signature else { throw ReadError("bad signature") }
        var chunks: [Chunk] = []
        var at = 8
        func u32(_ i: Int) -> UInt32 {
            UInt32(png[i]) << 24 | UInt32(png[i + 1]) << 16 | UInt32(png[i + 2]) << 8 | UInt32(png[i + 3])
        }
        while at < png.count {
            guard at + 12 <= png.count else { throw ReadError("truncated chunk header at \(at)") }
            let length = Int(u32(at))
            guard at + 12 + length <= png.count else { throw ReadError("truncated chunk at \(at)") }
            let type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            let data = Array(png[(at + 8)..<(at + 8 + length)])
            let typeAndData = Array(png[(at + 4)..<(at + 8 + length)])
            let computed = typeAndData.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            chunks.append(Chunk(type: type, data: data, storedCRC: u32(at + 8 + length), computedCRC: computed))
            at += 12 + length
        }
        self.chunks = chunks
        guard let header = chunks.first, header.type == "IHDR", header.data.count == 13 else { throw ReadError("IHDR is not first") }
        let h = header.data
        width = Int(UInt32(h[0]) << 24 | UInt32(h[1]) << 16 | UInt32(h[2]) << 8 | UInt32(h[3]))
        height = Int(UInt32(h[4]) << 24 | UInt32(h[5]) << 16 | UInt32(h[6]) << 8 | UInt32(h[7]))
        bitDepth = h[8]
        colorType = h[9]
        interlace = h[12]
        let compressed = chunks.filter { $0.type == "IDAT" }.flatMap(\.data)
        let expected = height * (1 + width * (h[9] == 6 ? 4 : 3))
        var out = [UInt8](repeating: 0, count: expected + 16)
        var outLength = uLong(out.count)
        let status = compressed.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                uncompress(dst.baseAddress, &outLength, src.baseAddress, uLong(src.count))
            }
        }
        guard status == Z_OK else { throw ReadError("uncompress failed with \(status)") }
        inflated = Array(out[0..<Int(outLength)])
    }

    /// The pixels with every row's filter undone (PNG spec §9.2–9.4).
    func pixels() throws -> [UInt8] {
        let bpp = bytesPerPixel
        let rowBytes = width * bpp
        var out = [UInt8](repeating: 0, count: height * rowBytes)
        for y in 0..<height {
            let filter = inflated[y * (rowBytes + 1)]
            for i in 0..<rowBytes {
                let x = inflated[y * (rowBytes + 1) + 1 + i]
                let a = i >= bpp ? out[y * rowBytes + i - bpp] : 0
                let b = y > 0 ? out[(y - 1) * rowBytes + i] : 0
                let c = (i >= bpp && y > 0) ? out[(y - 1) * rowBytes + i - bpp] : 0
                let predictor: UInt8
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = UInt8((Int(a) + Int(b)) >> 1)
                case 4:
                    let p = Int(a) + Int(b) - Int(c)
                    let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
                    predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                default: throw ReadError("unknown filter type \(filter) on row \(y)")
                }
                out[y * rowBytes + i] = x &+ predictor
            }
        }
        return out
    }

    var filterTypes: [UInt8] {
        let rowBytes = width * bytesPerPixel
        return (0..<height).map { inflated[$0 * (rowBytes + 1)] }
    }

    struct ReadError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
