import XCTest
@testable import NeuralNet

/// Random damage to a valid file must give a `SafetensorsError` or a valid file: never a trap.
final class SafetensorsMutationTests: XCTestCase {
    func testMutatedAndTruncatedFilesNeverCrash() throws {
        let original = try [UInt8](Data(contentsOf: ModelFixtures.url("python_written")))
        let headerEnd = 8 + Int(original[0]) + Int(original[1]) << 8
        var random = SeededGenerator(seed: 2026)
        let printable = Array("{}[]\",:0123456789-.eE \\u".utf8)
        var rejected = 0, accepted = 0
        for trial in 0..<600 {
            var bytes = original
            switch trial % 6 {
            case 0:  // truncate anywhere
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &random))
            case 1:  // flip bits anywhere
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                }
            case 2:  // JSON-significant characters inside the header
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    bytes[Int.random(in: 8..<headerEnd, using: &random)] = printable.randomElement(using: &random)!
                }
            case 3:  // the header length
                bytes[Int.random(in: 0..<8, using: &random)] = UInt8.random(in: 0...255, using: &random)
            case 4:  // insert or delete a run of bytes
                let at = Int.random(in: 0..<bytes.count, using: &random)
                if Bool.random(using: &random) {
                    bytes.insert(contentsOf: (0..<Int.random(in: 1...16, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, at: at)
                } else {
                    bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &random)))
                }
            default:  // data bytes only: always still a valid file
                for _ in 0..<8 { bytes[Int.random(in: headerEnd..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            }
            do {
                let file = try SafetensorsFile(bytes: bytes)
                _ = try SafetensorsFile(bytes: file.serialized())  // whatever we accept we can write back
                accepted += 1
            } catch {
                rejected += 1
            }
        }
        XCTAssertGreaterThanOrEqual(accepted, 100, "data-only mutations must stay readable")
        XCTAssertGreaterThanOrEqual(rejected, 300, "structural mutations must be rejected")
    }
}
