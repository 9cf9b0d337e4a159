import AudioIO
import Features
import XCTest
@testable import Tagger

/// `TrackFeatures`: the chunks a track gives from a file (only their audio decoded) and from
/// samples in memory, against the straightforward path (whole log-mel → `Chunker` → normalise).
final class TrackFeaturesTests: XCTestCase {
    var directory: URL!
    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-track-features-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func features(maxChunks: Int = 6, chunkHop: Int = 64) throws -> TrackFeatures {
        let network = makeNetwork(ArchitectureConfig(numGenres: 2, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1, 1],
                                                     attentionReduction: 2), seed: 1)
        let bundle = ModelBundle(network: network, labels: ["a", "b"],
                                 frontEnd: FrontEnd(spectrogram: SpectrogramConfig(), chunkFrames: 128),
                                 normalization: InputNormalization(mean: -30, std: 12))
        var config = PredictionConfig()
        config.maxChunks = maxChunks
        config.chunkHop = chunkHop
        return try TrackFeatures(bundle: bundle, config: config)
    }

    /// `seconds` of a 22.05 kHz signal whose loudest moment is at the very start (so the
    /// first chunk, always analysed, holds the track's peak), then notes of changing pitch.
    func music(seconds: Double) -> [Float] {
        let rate = 22050.0
        return (0..<Int(seconds * rate)).map { i in
            let t = Double(i) / rate
            let pitch = 220 * pow(2, Double(Int(t * 2) % 12) / 12)
            let level = t < 0.5 ? 0.9 : 0.3 + 0.1 * sin(t)
            return Float(level * sin(2 * .pi * pitch * t) + 0.05 * sin(2 * .pi * 3 * pitch * t))
        }
    }

    /// The whole log-mel, cut by `Chunker` and normalised: what the chunks must equal.
    func reference(_ samples: [Float], _ features: TrackFeatures) throws -> ChunkBatch {
        let logMel = try LogMelSpectrogram(features.frontEnd.spectrogram).logMel(samples)
        var batch = try Chunker.batch(of: logMel, config: features.chunking)
        batch.values.withUnsafeMutableBufferPointer { features.normalization.apply($0) }
        return batch
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    func testChunksFromSamplesEqualTheWholeLogMelCut() throws {
        let features = try features()
        for seconds in [1.0, 2.9, 3.1, 10, 40] {
            let samples = music(seconds: seconds)
            let chunks = try features.chunks(samples: samples)
            let expected = try reference(samples, features)
            XCTAssertEqual(chunks.starts, expected.starts, "\(seconds) s")
            XCTAssertEqual(chunks.count, expected.count)
            XCTAssertLessThanOrEqual(maxDifference(chunks.values, expected.values), 1e-5, "\(seconds) s")
        }
        XCTAssertThrowsError(try features.chunks(samples: []))
    }

    func testChunksFromAFileDecodeOnlyTheirAudioAndMatch() throws {
        let features = try features()
        // 44.1 kHz stereo FLAC: 40 s, of which six 3-s chunks are analysed.
        let mono = music(seconds: 40)
        let rate = 44100
        let upsampled = (0..<(mono.count * 2)).map { mono[$0 / 2] }
        let path = directory.appendingPathComponent("track.flac").path
        try AudioWriter.write(upsampled.flatMap { [$0, $0] }, sampleRate: rate, channels: 2, to: path)
        let whole = try AudioDecoder.decode(path: path)
        let track = try features.chunks(path: path)
        XCTAssertEqual(track.duration, whole.duration, accuracy: 1e-9)
        let expected = try features.chunks(samples: whole.samples)
        XCTAssertEqual(track.chunks.starts, expected.starts)
        XCTAssertEqual(track.chunks.count, 6)
        // The excerpts equal the whole decode up to rounding; dB values then agree closely.
        XCTAssertLessThanOrEqual(maxDifference(track.chunks.values, expected.values), 1e-4)
        // The same bytes as an upload.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let upload = try features.chunks(bytes: bytes, name: "track.flac")
        XCTAssertEqual(upload.chunks, track.chunks)
    }

    func testAShortFileGivesOnePaddedChunkAndADamagedOneAnError() throws {
        let features = try features()
        let path = directory.appendingPathComponent("short.wav").path
        let samples = music(seconds: 1)
        try AudioWriter.write(samples, sampleRate: 22050, to: path)
        let track = try features.chunks(path: path)
        XCTAssertEqual(track.chunks.count, 1)
        let decoded = try AudioDecoder.decode(path: path).samples
        XCTAssertLessThanOrEqual(maxDifference(track.chunks.values, try reference(decoded, features).values), 1e-5)
        let junk = directory.appendingPathComponent("junk.mp3").path
        try Data("not audio at all".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try features.chunks(path: junk)) { XCTAssertTrue($0 is AudioError, "\($0)") }
    }
}
