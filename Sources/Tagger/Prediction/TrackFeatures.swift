import AudioIO
import Dispatch
import Features
import Foundation

/// One track's network input: its normalised chunks, how long the track is, and what they cost.
public struct TrackChunks: Sendable {
    public let chunks: ChunkBatch
    /// Seconds of the whole track.
    public let duration: Double
    /// Seconds spent decoding (with resampling) and computing the chunks from the samples.
    public let decodeSeconds: Double
    public let featureSeconds: Double
}

/// The front end of prediction: a track → the chunks the network sees.
///
/// Which chunks: the track's log-mel spectrogram (the bundle's front end) is cut every
/// `chunk_hop` frames (the bundle's `front_end.chunk_hop` where it has one, as musicnn's do) and at most `max_chunks` chunks are kept, spread evenly
/// (`Chunker.chunkStarts`). Only the frames of those chunks are computed, and from a file
/// only the audio they read is decoded (`AudioDecoder.decodeExcerpts`): a 4-minute track's 24
/// chunks of 3 s read about a third of it. The chunks' frames equal those of the whole
/// track's spectrogram; the one difference from cutting the whole log-mel is the `top_db`
/// floor, taken from the loudest analysed frame rather than the loudest frame of the track
/// (they differ only in bins more than `top_db` below the peak). A track shorter than one
/// chunk gives one, padded with its quietest value (as `Chunker`). Then `(dB − mean) / std`.
///
/// Immutable and `Sendable`: one instance serves every thread of a worker.
public final class TrackFeatures: Sendable {
    public let frontEnd: FrontEnd
    public let normalization: InputNormalization
    public let config: PredictionConfig
    private let spectrogram: LogMelSpectrogram

    public init(bundle: ModelBundle, config: PredictionConfig = PredictionConfig()) throws(FeatureError) {
        frontEnd = bundle.frontEnd
        normalization = bundle.normalization
        self.config = config
        spectrogram = try LogMelSpectrogram(bundle.frontEnd.spectrogram)
    }

    public var decodeOptions: DecodeOptions {
        var options = DecodeOptions()
        options.targetSampleRate = frontEnd.spectrogram.sampleRate
        return options
    }

    public var chunking: ChunkingConfig {
        ChunkingConfig(frames: frontEnd.chunkFrames, hop: frontEnd.chunkHop ?? config.chunkHop, maxChunks: config.maxChunks)
    }

    /// The chunks of a file, decoding only what they read.
    public func chunks(path: String) throws -> TrackChunks {
        try chunks { select throws(AudioError) in try AudioDecoder.decodeExcerpts(path: path, options: decodeOptions, select: select) }
    }

    /// The chunks of a file already open (a library file, opened confined to its library), read
    /// through its descriptor only.
    public func chunks(file: ReadOnlyFile) throws -> TrackChunks {
        try chunks { select throws(AudioError) in try AudioDecoder.decodeExcerpts(file: file, options: decodeOptions, select: select) }
    }

    /// The chunks of an upload in memory (`name` for errors and the MP3 hint).
    public func chunks(bytes: [UInt8], name: String) throws -> TrackChunks {
        try chunks { select throws(AudioError) in
            try AudioDecoder.decodeExcerpts(bytes: bytes, name: name, options: decodeOptions, select: select)
        }
    }

    /// The chunks of mono samples at the front end's rate.
    public func chunks(samples: [Float]) throws -> ChunkBatch {
        let plan = try Plan(totalSamples: samples.count, features: self)
        return try assemble(plan, excerpts: [.init(start: 0, samples: samples)])
    }

    private func chunks(decode: ((Int) -> [Range<Int>]) throws(AudioError) -> DecodedExcerpts) throws -> TrackChunks {
        let started = monotonicSeconds()
        var plan: Plan?
        var planError: (any Error)?
        let audio = try decode { total in
            do {
                let made = try Plan(totalSamples: total, features: self)
                plan = made
                return made.spans.map { spectrogram.samplesRead(frames: $0, signalLength: total) }
            } catch {
                planError = error
                return []
            }
        }
        if let planError { throw planError }
        guard let plan else { throw PredictionError.tooShort }
        let decoded = monotonicSeconds()
        let batch = try assemble(plan, excerpts: audio.excerpts)
        return TrackChunks(chunks: batch, duration: audio.duration,
                           decodeSeconds: decoded - started, featureSeconds: monotonicSeconds() - decoded)
    }

    /// Which chunks a track of `totalSamples` samples gives, and the frame spans they cover.
    struct Plan {
        let totalSamples: Int
        let totalFrames: Int
        /// First frame of each chunk.
        let starts: [Int]
        /// Frames the chunks cover, joined where they overlap or touch, in order.
        let spans: [Range<Int>]

        init(totalSamples: Int, features: TrackFeatures) throws {
            self.totalSamples = totalSamples
            totalFrames = totalSamples > 0 ? features.frontEnd.spectrogram.frameCount(samples: totalSamples) : 0
            guard totalFrames > 0 else { throw PredictionError.tooShort }
            let length = features.frontEnd.chunkFrames
            starts = Chunker.chunkStarts(totalFrames: totalFrames, config: features.chunking)
            var spans: [Range<Int>] = []
            for start in starts {
                let span = start..<min(start + length, totalFrames)
                if let last = spans.last, span.lowerBound <= last.upperBound {
                    spans[spans.count - 1] = last.lowerBound..<max(last.upperBound, span.upperBound)
                } else {
                    spans.append(span)
                }
            }
            self.spans = spans
        }
    }

    /// Mel power of each span from the excerpt holding its samples, to dB together, cut into
    /// chunks, normalised.
    private func assemble(_ plan: Plan, excerpts: [DecodedExcerpts.Excerpt]) throws -> ChunkBatch {
        let nMels = frontEnd.spectrogram.nMels, length = frontEnd.chunkFrames
        var spanOffsets: [Int] = []  // first value of each span in `power`
        var power: [Float] = []
        power.reserveCapacity(plan.spans.reduce(0) { $0 + $1.count } * nMels)
        for span in plan.spans {
            let needed = spectrogram.samplesRead(frames: span, signalLength: plan.totalSamples)
            guard let excerpt = excerpts.first(where: { $0.start <= needed.lowerBound && $0.range.upperBound >= needed.upperBound }) else {
                throw FeatureError.shapeMismatch("no decoded excerpt holds samples \(needed) for frames \(span)")
            }
            let part = try excerpt.samples.withUnsafeBufferPointer { x throws(FeatureError) in
                try spectrogram.melPower(frames: span, of: x, at: excerpt.start, signalLength: plan.totalSamples)
            }
            spanOffsets.append(power.count)
            power += part.values
        }
        power.withUnsafeMutableBufferPointer { spectrogram.compress($0) }
        // Only a track shorter than one chunk is padded, with its quietest value (as `Chunker`).
        let padValue = plan.totalFrames < length ? (power.min() ?? 0) : 0
        var values = [Float](repeating: padValue, count: plan.starts.count * nMels * length)
        power.withUnsafeBufferPointer { src in
            values.withUnsafeMutableBufferPointer { dst in
                for (c, start) in plan.starts.enumerated() {
                    let s = plan.spans.firstIndex { $0.contains(start) }!
                    let span = plan.spans[s], width = span.count
                    let copied = min(length, plan.totalFrames - start)
                    for m in 0..<nMels {
                        let from = src.baseAddress! + spanOffsets[s] + m * width + (start - span.lowerBound)
                        (dst.baseAddress! + (c * nMels + m) * length).update(from: from, count: copied)
                    }
                }
                normalization.apply(dst)
            }
        }
        return ChunkBatch(count: plan.starts.count, nMels: nMels, frames: length, starts: plan.starts, values: values)
    }
}

/// Seconds since an arbitrary start, from the monotonic clock.
public func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
