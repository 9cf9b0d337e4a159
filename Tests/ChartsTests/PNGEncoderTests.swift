import SeededRandom
import XCTest
@testable import Charts

final class PNGEncoderTests: XCTestCase {
    func testSignatureHeaderAndChunkOrder() throws {
        let png = try PNGEncoder.encode(width: 5, height: 3, format: .rgb8, pixels: [UInt8](repeating: 7, count: 45))
        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let reader = try PNGReader(png)
        XCTAssertEqual(reader.chunks.first?.type, "IHDR")
        XCTAssertEqual(reader.chunks.last?.type, "IEND")
        XCTAssertEqual(reader.chunks.last?.data.count, 0)
        XCTAssertEqual(reader.chunks.filter { $0.type == "IDAT" }.count, 1)
        XCTAssertEqual(reader.width, 5)
        XCTAssertEqual(reader.height, 3)
        XCTAssertEqual(reader.bitDepth, 8)
        XCTAssertEqual(reader.colorType, 2)
        XCTAssertEqual(reader.interlace, 0)
        XCTAssertEqual(reader.chunks[0].data[10], 0, "compression method must be deflate (0)")
        XCTAssertEqual(reader.chunks[0].data[11], 0, "filter method must be adaptive (0)")
    }

    func testEveryChunkCRCMatchesZlibCRC32() throws {
        for format in [PixelFormat.rgb8, .rgba8] {
            let pixels = randomPixels(count: 17 * 9 * format.bytesPerPixel, seed: 3)
            let reader = try PNGReader(PNGEncoder.encode(width: 17, height: 9, format: format, pixels: pixels))
            XCTAssertEqual(reader.chunks.count, 3)
            for chunk in reader.chunks {
                XCTAssertEqual(chunk.storedCRC, chunk.computedCRC, "CRC of \(chunk.type)")
            }
        }
    }

    func testRGBPixelsSurviveInflateAndUnfiltering() throws {
        for (width, height) in [(1, 1), (2, 3), (31, 17), (64, 1), (1, 40)] {
            let pixels = randomPixels(count: width * height * 3, seed: UInt64(width * 1000 + height))
            let reader = try PNGReader(PNGEncoder.encode(width: width, height: height, format: .rgb8, pixels: pixels))
            XCTAssertEqual(reader.inflated.count, height * (1 + width * 3), "\(width)×\(height)")
            XCTAssertEqual(try reader.pixels(), pixels, "\(width)×\(height)")
        }
    }

    func testRGBAPixelsSurviveInflateAndUnfiltering() throws {
        let (width, height) = (23, 11)
        let pixels = randomPixels(count: width * height * 4, seed: 99)
        let reader = try PNGReader(PNGEncoder.encode(width: width, height: height, format: .rgba8, pixels: pixels))
        XCTAssertEqual(reader.colorType, 6)
        XCTAssertEqual(reader.inflated.count, height * (1 + width * 4))
        XCTAssertEqual(try reader.pixels(), pixels)
    }

    /// Smooth pictures are where Sub/Up/Average/Paeth pay off: a gradient must not be
    /// stored with filter 0 on every row, must decode exactly, and must compress better
    /// than the same data with no filtering.
    func testGradientsUseNonTrivialFiltersAndRoundTrip() throws {
        let (width, height) = (120, 80)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8((x * 2 + y) & 0xFF)
                pixels[i + 1] = UInt8((x * 3 + y * 2) & 0xFF)
                pixels[i + 2] = UInt8((x + y * 3) & 0xFF)
            }
        }
        let png = try PNGEncoder.encode(width: width, height: height, format: .rgb8, pixels: pixels)
        let reader = try PNGReader(png)
        XCTAssertTrue(reader.filterTypes.allSatisfy { $0 <= 4 })
        XCTAssertTrue(reader.filterTypes.contains { $0 != 0 }, "filters used: \(Set(reader.filterTypes))")
        XCTAssertEqual(try reader.pixels(), pixels)

        var unfiltered: [UInt8] = []
        for y in 0..<height { unfiltered.append(0); unfiltered += pixels[(y * width * 3)..<((y + 1) * width * 3)] }
        let plainDeflate = try PNGEncoder.deflate(unfiltered, level: 6)
        XCTAssertLessThan(reader.chunks.filter { $0.type == "IDAT" }.flatMap(\.data).count, plainDeflate.count)
    }

    func testPaethPredictorFollowsTheSpecification() {
        // p = a + b - c; nearest of a, b, c with ties to a, then b.
        XCTAssertEqual(PNGEncoder.paeth(10, 20, 10), 20)  // p = 20 → b
        XCTAssertEqual(PNGEncoder.paeth(20, 10, 10), 20)  // p = 20 → a
        XCTAssertEqual(PNGEncoder.paeth(10, 10, 30), 10)  // p = -10 → a (tie a/b → a)
        XCTAssertEqual(PNGEncoder.paeth(100, 50, 90), 50) // p = 60 → b (|10|) over a (|40|)
        XCTAssertEqual(PNGEncoder.paeth(0, 255, 200), 0)  // p = 55 → a (55) over c (145)
    }

    func testRejectsBadDimensionsInsteadOfCrashing() {
        XCTAssertThrowsError(try PNGEncoder.encode(width: 0, height: 3, format: .rgb8, pixels: []))
        XCTAssertThrowsError(try PNGEncoder.encode(width: 2, height: 2, format: .rgb8, pixels: [UInt8](repeating: 0, count: 11)))
        XCTAssertThrowsError(try PNGEncoder.encode(width: 2, height: 2, format: .rgba8, pixels: [UInt8](repeating: 0, count: 12)))
        XCTAssertThrowsError(try PNGEncoder.encode(width: Int.max / 2, height: 4, format: .rgb8, pixels: []))
    }

    func testWritingToAMissingFolderThrowsAWriteError() throws {
        let image = try RasterImage(width: 2, height: 2)
        XCTAssertThrowsError(try image.writePNG(to: "/nonexistent-folder-\(UInt32.random(in: 0...UInt32.max))/x.png")) { error in
            guard case ChartError.writeFailed = error else { return XCTFail("got \(error)") }
        }
    }

    func testWritesAFileThatReadsBack() throws {
        var image = try RasterImage(width: 4, height: 2, background: RGBColor(red: 1, green: 2, blue: 3))
        image[3, 1] = RGBColor(red: 250, green: 0, blue: 9)
        let path = NSTemporaryDirectory() + "/charts-test-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try image.writePNG(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let pixels = try PNGReader(bytes).pixels()
        XCTAssertEqual(Array(pixels[0..<3]), [1, 2, 3])
        XCTAssertEqual(Array(pixels[21..<24]), [250, 0, 9])
        XCTAssertEqual(pixels.count, 24)
    }

    private func randomPixels(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
