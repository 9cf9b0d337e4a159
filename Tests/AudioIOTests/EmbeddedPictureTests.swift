import AudioIO
import Foundation
import XCTest

/// Cover art read through TagLib (`EmbeddedPicture`): a FLAC picture block spliced into a file
/// by hand, following the FLAC format's METADATA_BLOCK_PICTURE layout, and files without one.
final class EmbeddedPictureTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("timbre-picture-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func tone(_ name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try AudioWriter.write((0..<22050).map { Float(0.3 * sin(Double($0) * 0.05)) }, sampleRate: 22050, to: url.path)
        return url
    }

    /// A PICTURE block (type 6) after STREAMINFO: picture type, MIME, description, size, data.
    func addPicture(_ image: [UInt8], mime: String, type: UInt32, to url: URL) throws {
        var bytes = [UInt8](try Data(contentsOf: url))
        XCTAssertEqual(Array(bytes[0..<4]), Array("fLaC".utf8))
        let wasLast = bytes[4] & 0x80 != 0
        bytes[4] &= 0x7F
        func be32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) } }
        var body = be32(type) + be32(UInt32(mime.utf8.count)) + Array(mime.utf8) + be32(5) + Array("cover".utf8)
        body += be32(2) + be32(2) + be32(24) + be32(0) + be32(UInt32(image.count)) + image
        let header: [UInt8] = [(wasLast ? 0x80 : 0) | 6, UInt8(body.count >> 16), UInt8((body.count >> 8) & 0xFF), UInt8(body.count & 0xFF)]
        let streamInfoEnd = 4 + 4 + 34
        bytes.insert(contentsOf: header + body, at: streamInfoEnd)
        try Data(bytes).write(to: url)
    }

    func testAFLACPictureIsReadWithItsMIMEType() throws {
        let url = try tone("cover.flac")
        let image: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + (0..<200).map { UInt8($0 % 251) }
        try addPicture(Array("not the cover".utf8), mime: "text/plain", type: 0, to: url)
        try addPicture(image, mime: "image/png", type: 3, to: url)
        let picture = try XCTUnwrap(try EmbeddedPicture.read(file: ReadOnlyFile(path: url.path)))
        XCTAssertEqual(picture.data, image, "the front cover wins over a picture of another type")
        XCTAssertEqual(picture.mimeType, "image/png")
        // The audio still decodes: the file is a valid FLAC with the picture in it.
        XCTAssertEqual(try AudioMetadata.read(path: url.path).format, "flac")
    }

    func testAMissingMIMETypeIsSniffed() throws {
        let url = try tone("nomime.flac")
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 7, count: 50)
        try addPicture(jpeg, mime: "", type: 3, to: url)
        XCTAssertEqual(try EmbeddedPicture.read(file: ReadOnlyFile(path: url.path))?.mimeType, "image/jpeg")
    }

    func testFilesWithoutAPictureHaveNone() throws {
        for name in ["plain.flac", "plain.wav", "plain.ogg"] {
            XCTAssertNil(try EmbeddedPicture.read(file: ReadOnlyFile(path: try tone(name).path)), name)
        }
    }
}
