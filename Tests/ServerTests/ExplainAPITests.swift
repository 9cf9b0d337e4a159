import Foundation
import XCTest

/// `GET /api/v1/tracks/{id}/explain` against the shared API fixture (the shipped model, tone tracks).
extension APITests {
    func testExplainAnswersJSONAndPNGToTheOwnerOnly() throws {
        let f = try fixture()
        let alice = try client(f.aliceKey), bob = try client(f.bobKey)
        let track = f.aliceTracks[1]
        let predicted = try XCTUnwrap(alice.get("/api/v1/tracks/\(track)").object["predicted"] as? [[String: Any]])
        let tag = try XCTUnwrap(predicted.first?["label"] as? String)
        let query = tag.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? tag

        let answer = seen(alice.get("/api/v1/tracks/\(track)/explain?tag=\(query)"), "GET", "/api/v1/tracks/{id}/explain")
        XCTAssertEqual(answer.status, 200, answer.text)
        let json = answer.object
        XCTAssertEqual(json["tag"] as? String, tag)
        XCTAssertEqual(json["method"] as? String, "grad-cam")
        XCTAssertNotNil(json["model_version"] as? String)
        XCTAssertEqual(json["stage"] as? String, "layers.3", "the shipped ResNet's last convolutional stage (of four)")
        let probability = try XCTUnwrap((json["probability"] as? NSNumber)?.doubleValue)
        let stored = try XCTUnwrap((predicted.first?["probability"] as? NSNumber)?.doubleValue)
        XCTAssertEqual(probability, stored, accuracy: 1e-3, "the explanation's probability is the tagged one")
        let duration = try XCTUnwrap((json["duration_seconds"] as? NSNumber)?.doubleValue)
        XCTAssertEqual(duration, 4, accuracy: 0.05)
        let chunks = try XCTUnwrap(json["chunks"] as? [[String: Any]])
        XCTAssertFalse(chunks.isEmpty)
        for key in ["time_spans", "mel_bands", "regions"] {
            let entries = try XCTUnwrap(json[key] as? [[String: Any]], key)
            XCTAssertFalse(entries.isEmpty, "\(key): a tag at \(stored) has some heat")
            let shares = entries.compactMap { ($0["share"] as? NSNumber)?.doubleValue }
            XCTAssertEqual(shares.count, entries.count)
            XCTAssertEqual(shares, shares.sorted(by: >), "\(key) largest share first")
            XCTAssertTrue(shares.allSatisfy { $0 > 0 && $0 <= 1 }, "\(key) \(shares)")
            XCTAssertLessThanOrEqual(shares.reduce(0, +), 1 + 1e-6, key)
        }
        for span in json["time_spans"] as? [[String: Any]] ?? [] {
            let start = (span["start_seconds"] as? NSNumber)?.doubleValue ?? -1, end = (span["end_seconds"] as? NSNumber)?.doubleValue ?? -1
            XCTAssertTrue(0 <= start && start < end && end <= duration + 1e-9, "\(span)")
        }
        for band in json["mel_bands"] as? [[String: Any]] ?? [] {
            let low = (band["low_hz"] as? NSNumber)?.doubleValue ?? -1, high = (band["high_hz"] as? NSNumber)?.doubleValue ?? -1
            XCTAssertTrue(0 <= low && low < high && high <= 11025, "\(band)")
        }

        let png = seen(alice.get("/api/v1/tracks/\(track)/explain?tag=\(query)&format=png&width=300"), "GET", "/api/v1/tracks/{id}/explain")
        XCTAssertEqual(png.status, 200, png.text)
        XCTAssertEqual(png.headers["content-type"], "image/png")
        XCTAssertEqual(Array(png.body.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = png.body[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertLessThanOrEqual(width, 300 + 58)

        // Another user's track reads as a missing one; bad tags and formats are 400 with a reason.
        let other = seen(bob.get("/api/v1/tracks/\(track)/explain?tag=\(query)"), "GET", "/api/v1/tracks/{id}/explain")
        XCTAssertEqual(other.status, 404)
        XCTAssertEqual(other.errorCode, "not_found")
        let unknown = seen(alice.get("/api/v1/tracks/\(track)/explain?tag=no-such-tag"), "GET", "/api/v1/tracks/{id}/explain")
        XCTAssertEqual(unknown.status, 400)
        XCTAssertTrue(unknown.text.contains("no-such-tag") && unknown.text.contains(tag), unknown.text)
        XCTAssertEqual(alice.get("/api/v1/tracks/\(track)/explain").status, 400)
        XCTAssertEqual(alice.get("/api/v1/tracks/\(track)/explain?tag=\(query)&format=gif").status, 400)
    }
}
