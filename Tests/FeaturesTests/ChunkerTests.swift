import XCTest
@testable import Features

final class ChunkerTests: XCTestCase {
    /// values[m][t] = 1000 m + t, so every chunk value tells where it came from.
    private func indexed(_ nMels: Int, _ frames: Int) -> Spectrogram {
        Spectrogram(nMels: nMels, frames: frames, values: (0..<(nMels * frames)).map { Float(($0 / frames) * 1000 + $0 % frames) })
    }

    func testCountsAndEdgesWithoutOverlap() throws {
        let spec = indexed(3, 300)
        let chunks = try Chunker.chunks(of: spec, config: ChunkingConfig(frames: 128, hop: 128))
        XCTAssertEqual(chunks.count, 2)  // frames 256..<300 are a partial chunk: dropped
        for (c, chunk) in chunks.enumerated() {
            XCTAssertEqual(chunk.nMels, 3)
            XCTAssertEqual(chunk.frames, 128)
            XCTAssertEqual(chunk[0, 0], Float(c * 128))
            XCTAssertEqual(chunk[2, 127], Float(2000 + c * 128 + 127))
        }
        XCTAssertEqual(try Chunker.chunks(of: indexed(2, 256), config: ChunkingConfig()).count, 2)
    }

    func testOverlappingHop() throws {
        let batch = try Chunker.batch(of: indexed(2, 300), config: ChunkingConfig(frames: 100, hop: 50))
        XCTAssertEqual(batch.count, 5)  // starts 0, 50, 100, 150, 200
        XCTAssertEqual(batch.starts, [0, 50, 100, 150, 200])
        XCTAssertEqual(batch.values.count, 5 * 2 * 100)
        XCTAssertEqual(batch.values[(4 * 2 + 1) * 100 + 99], 1000 + 299)
    }

    func testShortTrackIsPaddedWithTheMinimum() throws {
        var spec = indexed(2, 50)
        spec[1, 10] = -80
        let chunks = try Chunker.chunks(of: spec, config: ChunkingConfig(frames: 128, hop: 128))
        XCTAssertEqual(chunks.count, 1)
        XCTAssertEqual(chunks[0].frames, 128)
        XCTAssertEqual(chunks[0][0, 49], 49)
        XCTAssertEqual(chunks[0][1, 10], -80)
        XCTAssertEqual(chunks[0][0, 50], -80)
        XCTAssertEqual(chunks[0][1, 127], -80)
        XCTAssertEqual(try Chunker.chunks(of: Spectrogram(nMels: 2, frames: 0, values: []), config: ChunkingConfig()).count, 0)
    }

    func testMaxChunksSamplesEvenlyIncludingBothEnds() throws {
        let config = ChunkingConfig(frames: 10, hop: 10, maxChunks: 4)
        let starts = Chunker.chunkStarts(totalFrames: 100, config: config)  // 10 candidates
        XCTAssertEqual(starts, [0, 30, 60, 90])
        XCTAssertEqual(Chunker.chunkStarts(totalFrames: 100, config: ChunkingConfig(frames: 10, hop: 10, maxChunks: 1)), [40])
        XCTAssertEqual(Chunker.chunkStarts(totalFrames: 35, config: config), [0, 10, 20])  // fewer than max: all
        let chunks = try Chunker.chunks(of: indexed(1, 1000), config: ChunkingConfig(frames: 128, hop: 64, maxChunks: 5))
        XCTAssertEqual(chunks.count, 5)
        XCTAssertEqual(chunks.first?[0, 0], 0)
        XCTAssertEqual(chunks.last?[0, 127], Float(13 * 64 + 127))  // last of 14 candidates
    }

    func testRejectsBadConfigAndShape() {
        XCTAssertThrowsError(try Chunker.chunks(of: indexed(2, 10), config: ChunkingConfig(frames: 0)))
        XCTAssertThrowsError(try Chunker.chunks(of: indexed(2, 10), config: ChunkingConfig(hop: 0)))
        XCTAssertThrowsError(try Chunker.chunks(of: indexed(2, 10), config: ChunkingConfig(maxChunks: 0)))
        XCTAssertThrowsError(try Chunker.chunks(of: Spectrogram(nMels: 2, frames: 10, values: [1]), config: ChunkingConfig()))
    }

    func testCodableKeys() throws {
        let json = try JSONEncoder().encode(ChunkingConfig(frames: 64, hop: 32, maxChunks: 8))
        let text = String(decoding: json, as: UTF8.self)
        XCTAssert(text.contains("\"max_chunks\":8"), text)
        XCTAssertEqual(try JSONDecoder().decode(ChunkingConfig.self, from: json), ChunkingConfig(frames: 64, hop: 32, maxChunks: 8))
    }
}
