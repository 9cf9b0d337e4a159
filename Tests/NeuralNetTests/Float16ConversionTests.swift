import XCTest
@testable import NeuralNet

final class Float16ConversionTests: XCTestCase {
    func testEveryHalfValueRoundTrips() {
        for bits in UInt16.min...UInt16.max {
            let value = Float16Conversion.float(fromHalf: bits)
            if value.isNaN { XCTAssertTrue(Float16Conversion.float(fromHalf: Float16Conversion.half(from: value)).isNaN); continue }
            XCTAssertEqual(Float16Conversion.half(from: value), bits, "bits \(String(bits, radix: 16))")
        }
    }

    func testKnownValuesAndRounding() {
        XCTAssertEqual(Float16Conversion.half(from: 1), 0x3C00)
        XCTAssertEqual(Float16Conversion.half(from: -2), 0xC000)
        XCTAssertEqual(Float16Conversion.half(from: 65504), 0x7BFF)
        XCTAssertEqual(Float16Conversion.half(from: 65519), 0x7BFF)   // rounds down to the largest half
        XCTAssertEqual(Float16Conversion.half(from: 65520), 0x7C00)   // rounds to infinity
        XCTAssertEqual(Float16Conversion.half(from: 0x1p-24), 0x0001) // smallest subnormal
        XCTAssertEqual(Float16Conversion.half(from: 0x1p-25), 0x0000) // tie to even: zero
        XCTAssertEqual(Float16Conversion.half(from: 1 + 0x1p-11), 0x3C00) // tie to even: down
        XCTAssertEqual(Float16Conversion.half(from: 1 + 3 * 0x1p-11), 0x3C02) // tie to even: up
        XCTAssertEqual(Float16Conversion.float(fromBFloat16: 0x3F80), 1)
        XCTAssertEqual(Float16Conversion.bfloat16(from: 1 + 0x1p-8), 0x3F80) // tie to even
        XCTAssertEqual(Float16Conversion.bfloat16(from: 1 + 3 * 0x1p-8), 0x3F82)
    }

    #if !(os(macOS) && arch(x86_64))
    /// Swift's own Float16 is the reference where the platform has it.
    func testMatchesSwiftFloat16OnRandomFloats() {
        var random = SeededGenerator(seed: 16)
        for _ in 0..<200_000 {
            let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &random))
            guard !value.isNaN else { continue }
            XCTAssertEqual(Float16Conversion.half(from: value), Float16(value).bitPattern, "\(value)")
        }
    }
    #endif
}
