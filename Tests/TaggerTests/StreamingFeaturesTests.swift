import AudioIO
import Features
import XCTest
@testable import Tagger

/// `StreamingFeatures`: PCM streamed in pieces (stereo, at another rate) gives the chunks that
/// `TrackFeatures` cuts from the whole signal, down-mixed and resampled as a decode does.
final class StreamingFeaturesTests: XCTestCase {
    let bundle: ModelBundle = {
        let network = makeNetwork(ArchitectureConfig(numGenres: 2, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1, 1],
                                                     attentionReduction: 2), seed: 1)
        return ModelBundle(network: network, labels: ["a", "b"],
                           frontEnd: FrontEnd(spectrogram: SpectrogramConfig(), chunkFrames: 128),
                           normalization: InputNormalization(mean: -30, std: 12))
    }()

    /// Interleaved stereo at `rate`, loudest at the start (the running `top_db` floor is then the
    /// whole track's from the first chunk on).
    func stereo(seconds: Double, rate: Int) -> [Float] {
        (0..<Int(seconds * Double(rate))).flatMap { i -> [Float] in
            let t = Double(i) / Double(rate)
            let pitch = 220 * pow(2, Double(Int(t * 2) % 12) / 12)
            let level = t < 0.5 ? 0.9 : 0.3 + 0.1 * sin(t)
            let left = level * sin(2 * .pi * pitch * t) + 0.05 * sin(2 * .pi * 3 * pitch * t)
            let right = level * sin(2 * .pi * 1.5 * pitch * t)
            return [Float(left), Float(right)]
        }
    }

    /// What `TrackFeatures` gives for the whole signal, every chunk kept.
    func whole(_ interleaved: [Float], rate: Int, hop: Int) throws -> ChunkBatch {
        var mono: [Float] = []
        interleaved.withUnsafeBufferPointer { AudioDecoder.appendMonoMix($0, channels: 2, to: &mono) }
        let resampled = rate == 22050 ? mono : try Resampler(from: rate, to: 22050).process(mono)
        var config = PredictionConfig()
        config.maxChunks = 10_000
        config.chunkHop = hop
        return try TrackFeatures(bundle: bundle, config: config).chunks(samples: resampled)
    }

    func streamed(_ interleaved: [Float], rate: Int, hop: Int, piece: Int) throws -> ChunkBatch {
        let features = try StreamingFeatures(bundle: bundle, sampleRate: rate, channels: 2, hop: hop)
        var starts: [Int] = []
        var values: [Float] = []
        var at = 0
        while at < interleaved.count {
            let n = min(piece * 2, interleaved.count - at)
            let batch = try interleaved[at..<(at + n)].withUnsafeBufferPointer { try features.append(interleaved: $0) }
            // A chunk is given as soon as its samples are in, not only at the end.
            if at + n < interleaved.count, let first = batch.starts.first {
                XCTAssertLessThanOrEqual(features.seconds(frame: first + 128), features.receivedSeconds)
            }
            starts += batch.starts
            values += batch.values
            at += n
        }
        let last = try features.finish()
        return ChunkBatch(count: starts.count + last.count, nMels: 128, frames: 128, starts: starts + last.starts, values: values + last.values)
    }

    func testStreamedChunksEqualTheWholeTracks() throws {
        for (seconds, rate, hop, piece) in [(9.0, 44100, 64, 4096), (7.3, 22050, 64, 1000), (6.0, 48000, 100, 777), (1.2, 44100, 64, 2048)] {
            let audio = stereo(seconds: seconds, rate: rate)
            let expected = try whole(audio, rate: rate, hop: hop)
            let got = try streamed(audio, rate: rate, hop: hop, piece: piece)
            XCTAssertEqual(got.starts, expected.starts, "\(seconds) s at \(rate) Hz")
            XCTAssertEqual(got.values.count, expected.values.count)
            let worst = zip(got.values, expected.values).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(seconds) s at \(rate) Hz")
        }
    }

    func testNothingStreamedGivesNoChunk() throws {
        let features = try StreamingFeatures(bundle: bundle, sampleRate: 44100, channels: 2, hop: 64)
        XCTAssertEqual(try features.finish().count, 0)
        XCTAssertThrowsError(try StreamingFeatures(bundle: bundle, sampleRate: 44100, channels: 2, hop: 0))
    }

    func testEachChunksPredictionAveragesToTheTracks() throws {
        let audio = stereo(seconds: 6, rate: 22050)
        let chunks = try whole(audio, rate: 22050, hop: 64)
        let predictor = try Predictor(bundle: bundle)
        let each = try predictor.predictEach(chunks: chunks)
        XCTAssertEqual(each.count, chunks.count)
        var aggregate = TrackAggregate(labels: 2, embeddingDimension: 8)
        each.forEach { aggregate.add($0) }
        let track = try predictor.predict(chunks: chunks, duration: 6)
        for (a, b) in zip(aggregate.finished().probabilities, track.probabilities) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }
}
