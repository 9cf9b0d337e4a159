import Foundation
import XCTest
@testable import Tagger

final class ChunkCacheTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = NSTemporaryDirectory() + "timbre-cache-\(UUID().uuidString)" }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func chunks(_ count: Int, base: Float) -> [Float] { (0..<(count * 6)).map { base + Float($0) * 0.25 - 40 } }

    func testRoundTripAcrossShardsAndResume() throws {
        let writer = try ChunkCacheWriter(directory: dir, chunkShape: [2, 3], frontEnd: "{\"sr\":22050}", shardCapacity: 4)
        try writer.append(path: "a.wav", tags: ["rock"], duration: 3, chunks: chunks(3, base: 0))
        try writer.append(path: "b.wav", tags: ["jazz", "piano"], duration: 2, chunks: chunks(2, base: 100))  // fills shard 0
        try writer.recordFailure(path: "bad.mp3", error: "corrupt")
        try writer.append(path: "c.wav", tags: ["pop"], duration: 1, chunks: chunks(1, base: -7))
        try writer.flush()

        // A second run resumes: it sees what is done and adds to a new shard.
        let resumed = try ChunkCacheWriter(directory: dir, chunkShape: [2, 3], frontEnd: "{\"sr\":22050}", shardCapacity: 4)
        XCTAssertTrue(resumed.contains("a.wav") && resumed.contains("bad.mp3") && resumed.contains("c.wav"))
        XCTAssertFalse(resumed.contains("d.wav"))
        try resumed.append(path: "d.wav", tags: ["folk"], duration: 1, chunks: chunks(1, base: 50))
        try resumed.finish(labels: ["folk", "jazz", "piano", "pop", "rock"], splits: ["a.wav": "train", "b.wav": "val", "c.wav": "test"])

        let cache = try ChunkCache(directory: dir)
        XCTAssertEqual(cache.index.tracks.map(\.path), ["a.wav", "b.wav", "c.wav", "d.wav"])
        XCTAssertEqual(cache.index.tracks.map(\.split), ["train", "val", "test", ""])
        XCTAssertEqual(cache.index.failures, [FailedTrack(path: "bad.mp3", error: "corrupt")])
        XCTAssertEqual(cache.index.shardCount, 3)
        XCTAssertEqual(cache.index.labels, ["folk", "jazz", "piano", "pop", "rock"])
        var out = [Float](repeating: 0, count: 6)
        let b = cache.index.tracks[1]
        out.withUnsafeMutableBufferPointer { cache.read(track: b, chunk: 1, into: $0.baseAddress!) }
        let expected = Array(chunks(2, base: 100)[6..<12])
        for (x, y) in zip(out, expected) { XCTAssertEqual(x, y, accuracy: abs(y) * 1e-3) }
    }

    func testRejectsOtherFrontEndAndPartialChunks() throws {
        let writer = try ChunkCacheWriter(directory: dir, chunkShape: [2, 3], frontEnd: "A")
        XCTAssertThrowsError(try writer.append(path: "x", tags: [], duration: 1, chunks: [1, 2, 3]))
        XCTAssertThrowsError(try writer.append(path: "x", tags: [], duration: 1, chunks: []))
        try writer.flush()
        XCTAssertThrowsError(try ChunkCacheWriter(directory: dir, chunkShape: [2, 3], frontEnd: "B")) {
            XCTAssertTrue("\($0)".contains("another audio front end"))
        }
        XCTAssertThrowsError(try ChunkCache(directory: dir + "-missing")) { XCTAssertTrue("\($0)".contains("timbre prepare")) }
    }

    func testDamagedIndexIsReported() throws {
        let writer = try ChunkCacheWriter(directory: dir, chunkShape: [2, 3], frontEnd: "A")
        try writer.append(path: "a", tags: ["x"], duration: 1, chunks: chunks(2, base: 0))
        try writer.flush()
        try FileManager.default.removeItem(atPath: dir + "/shards/00000.f16")
        FileManager.default.createFile(atPath: dir + "/shards/00000.f16", contents: Data(count: 10))
        XCTAssertThrowsError(try ChunkCache(directory: dir)) { XCTAssertTrue("\($0)".contains("damaged")) }
    }
}
