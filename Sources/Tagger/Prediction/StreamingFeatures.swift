import AudioIO
import Features
import Foundation
import NeuralNet

/// The front end of prediction for audio that arrives as it plays (a live stream): PCM in
/// pieces → the same normalised chunks `TrackFeatures` cuts from a whole file, each as soon as
/// the samples it reads are in.
///
/// The chunk grid is `TrackFeatures`': chunk i covers frames `i·hop ..< i·hop + chunk_frames`
/// (frame t centred on sample t·hop_length at the front end's rate), so chunk i spans
/// `i·hop·hop_length / sr` to that plus `chunk_frames·hop_length / sr` seconds. It is ready once
/// the resampled signal reaches the end of its last frame's window (`n_fft/2` past its centre,
/// plus the resampler's margin); `finish()` gives the chunks that only the end of the stream
/// completes (the signal padded as the whole file's is), or — for a stream shorter than one
/// chunk — one chunk padded with its quietest value, as `Chunker` pads.
///
/// Two differences from `TrackFeatures` over the whole file, both written in docs/api.md:
/// every chunk on the grid is given (a file is tagged from at most `max_chunks` spread evenly,
/// so the two agree up to that many chunks: ~37 s at the default hop), and the `top_db` floor
/// is `top_db` below the loudest frame *so far* (this chunk's included), not the loudest analysed
/// frame of the whole track, which a stream cannot know yet; only bins more than `top_db` below
/// the loudest can differ.
///
/// Down-mix (mean of the channels) and resampling (`StreamingResampler`, equal to resampling the
/// whole signal) are those of `AudioDecoder`. Not thread-safe: one per stream.
public final class StreamingFeatures {
    public let frontEnd: FrontEnd
    public let normalization: InputNormalization
    /// Frames between the starts of consecutive chunks.
    public let hop: Int
    public let channels: Int
    private let spectrogram: LogMelSpectrogram
    private var resampler: StreamingResampler
    /// Resampled mono samples from sample `base` of the stream on.
    private var samples: [Float] = []
    private var base = 0
    private var nextChunk = 0
    /// The largest mel power of every frame computed so far.
    private var peak: Float = -.infinity
    private var finished = false

    public init(bundle: ModelBundle, sampleRate: Int, channels: Int, hop: Int) throws {
        guard hop >= 1 else { throw FeatureError.invalidConfig(name: "hop", reason: "must be at least one frame, got \(hop)") }
        frontEnd = bundle.frontEnd
        normalization = bundle.normalization
        self.hop = hop
        self.channels = channels
        spectrogram = try LogMelSpectrogram(bundle.frontEnd.spectrogram)
        resampler = try StreamingResampler(from: sampleRate, to: bundle.frontEnd.spectrogram.sampleRate)
    }

    /// Seconds from the start of the stream to the start of frame `frame`'s hop.
    public func seconds(frame: Int) -> Double {
        Double(frame * frontEnd.spectrogram.hopLength) / Double(frontEnd.spectrogram.sampleRate)
    }

    /// Seconds of audio received (at the stream's own rate).
    public var receivedSeconds: Double { Double(resampler.inputCount) / Double(resampler.inputRate) }

    /// Interleaved frames at the stream's rate and channel count → the chunks they complete.
    public func append(interleaved: UnsafeBufferPointer<Float>) throws -> ChunkBatch {
        var mono: [Float] = []
        mono.reserveCapacity(interleaved.count / max(1, channels))
        AudioDecoder.appendMonoMix(interleaved, channels: channels, to: &mono)
        samples += resampler.append(mono)
        var starts: [Int] = []
        var values: [Float] = []
        let length = frontEnd.chunkFrames
        while true {
            let first = nextChunk * hop
            // Frames read as if the signal went on: only whole windows of received samples.
            let needed = spectrogram.samplesRead(frames: first..<(first + length), signalLength: Int.max / 4)
            guard needed.upperBound <= base + samples.count else { break }
            values += try chunk(frames: first..<(first + length), signalLength: base + samples.count)
            starts.append(first)
            nextChunk += 1
            dropSamples(before: spectrogram.samplesRead(frames: (nextChunk * hop)..<(nextChunk * hop + 1), signalLength: Int.max / 4).lowerBound)
        }
        return batch(starts: starts, values: values)
    }

    /// The end of the stream: the chunks left on the grid (the last one ending at the last whole
    /// chunk of the signal), or one padded chunk for a stream shorter than a chunk.
    public func finish() throws -> ChunkBatch {
        guard !finished else { return batch(starts: [], values: []) }
        finished = true
        samples += resampler.finish()
        let total = base + samples.count
        let totalFrames = total > 0 ? frontEnd.spectrogram.frameCount(samples: total) : 0
        let length = frontEnd.chunkFrames
        var starts: [Int] = []
        var values: [Float] = []
        if totalFrames >= length {
            while nextChunk * hop + length <= totalFrames {
                let first = nextChunk * hop
                values += try chunk(frames: first..<(first + length), signalLength: total)
                starts.append(first)
                nextChunk += 1
            }
        } else if totalFrames > 0, nextChunk == 0 {
            // Shorter than one chunk: its frames to dB together, padded with their quietest value.
            let power = try melPower(frames: 0..<totalFrames, signalLength: total)
            var db = power.values
            db.withUnsafeMutableBufferPointer { spectrogram.compress($0) }
            let nMels = frontEnd.spectrogram.nMels
            var padded = [Float](repeating: db.min() ?? 0, count: nMels * length)
            for m in 0..<nMels {
                for t in 0..<totalFrames { padded[m * length + t] = db[m * totalFrames + t] }
            }
            padded.withUnsafeMutableBufferPointer { normalization.apply($0) }
            values = padded
            starts = [0]
            nextChunk = 1
        }
        samples = []
        return batch(starts: starts, values: values)
    }

    private func batch(starts: [Int], values: [Float]) -> ChunkBatch {
        ChunkBatch(count: starts.count, nMels: frontEnd.spectrogram.nMels, frames: frontEnd.chunkFrames, starts: starts, values: values)
    }

    private func melPower(frames: Range<Int>, signalLength: Int) throws -> Spectrogram {
        try samples.withUnsafeBufferPointer { x throws(FeatureError) in
            try spectrogram.melPower(frames: frames, of: x, at: base, signalLength: signalLength)
        }
    }

    /// One chunk's normalised log-mel: its mel power to dB with the floor below the loudest frame
    /// so far (the running peak rides along as one extra value, so `toDB` sees it).
    private func chunk(frames: Range<Int>, signalLength: Int) throws -> [Float] {
        let power = try melPower(frames: frames, signalLength: signalLength)
        var values = power.values
        peak = max(peak, values.max() ?? -.infinity)
        values.append(peak)
        values.withUnsafeMutableBufferPointer { spectrogram.compress($0) }
        values.removeLast()
        values.withUnsafeMutableBufferPointer { normalization.apply($0) }
        return values
    }

    private func dropSamples(before sample: Int) {
        let drop = min(samples.count, sample - base)
        guard drop > 0 else { return }
        samples.removeFirst(drop)
        base += drop
    }
}

extension TrackAggregate {
    /// Adds one chunk's outputs (as `add(logits:embeddings:row:)` does a row of a batch).
    public mutating func add(_ chunk: ChunkPrediction) {
        chunk.logits.withUnsafeBufferPointer { logits in
            chunk.embedding.withUnsafeBufferPointer { vectors in add(logits: logits, embeddings: vectors, row: 0) }
        }
    }
}
