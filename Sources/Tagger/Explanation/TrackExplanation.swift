import AudioIO
import Features
import Foundation
import NeuralNet

public enum ExplanationError: Error, CustomStringConvertible, Equatable {
    case unknownTag(String, labels: [String])

    public var description: String {
        switch self {
        case let .unknownTag(tag, labels):
            return "the model has no tag \(String(reflecting: tag)); its tags are: \(labels.joined(separator: ", "))"
        }
    }
}

/// Why a model gave a track one tag: the Grad-CAM maps (`GradCAM`) of the chunks the model
/// analysed, stitched onto the track's log-mel grid. A frame covered by several chunks takes
/// the mean of their maps; frames no chunk covers have no heat and are left out (`spans` holds
/// the covered frames only, so a long track costs its chunks, not its length).
public struct TrackExplanation: Sendable {
    /// Contiguous analysed frames and their heat, (nMels, frames.count) row-major, band 0 the lowest.
    public struct Span: Sendable, Equatable {
        public var frames: Range<Int>
        public var heat: [Float]
    }

    public var tag: String
    public var labelIndex: Int
    /// The track's probability of the tag: the mean of its chunks' sigmoids, as tagging computes it.
    public var probability: Float
    /// The module path of the stage the maps come from (the last convolutional stage).
    public var stage: String
    public var frontEnd: FrontEnd
    /// Frames of the whole track's log-mel.
    public var totalFrames: Int
    /// Seconds of the whole track.
    public var duration: Double
    /// First frame of every analysed chunk.
    public var chunkStarts: [Int]
    public var spans: [Span]

    public var nMels: Int { frontEnd.spectrogram.nMels }
    /// Seconds between frames (hop / sample rate).
    public var secondsPerFrame: Double { Double(frontEnd.spectrogram.hopLength) / Double(frontEnd.spectrogram.sampleRate) }
    /// The largest heat anywhere; 0 when the maps are all zero (nothing in the chunks raised the tag).
    public var maximum: Float { spans.reduce(0) { max($0, $1.heat.max() ?? 0) } }
    /// Heat summed over every analysed cell.
    public var total: Double { spans.reduce(0) { $0 + $1.heat.reduce(0) { $0 + Double($1) } } }

    /// The heat at a frame of the track (0 where no chunk was analysed, or outside the grid).
    public func heat(band: Int, frame: Int) -> Float {
        guard (0..<nMels).contains(band), let span = spans.first(where: { $0.frames.contains(frame) }) else { return 0 }
        return span.heat[band * span.frames.count + frame - span.frames.lowerBound]
    }

    /// Stitches per-chunk maps (count, nMels, chunkFrames) of chunks starting at `starts` onto a
    /// track of `totalFrames` frames; a chunk's frames past the track's end (a short track's
    /// padding) are dropped.
    static func stitch(maps: [Float], starts: [Int], nMels: Int, chunkFrames: Int, totalFrames: Int) -> [Span] {
        var ranges: [Range<Int>] = []
        for start in starts.sorted() {
            let range = start..<min(start + chunkFrames, totalFrames)
            guard !range.isEmpty else { continue }
            if let last = ranges.last, range.lowerBound <= last.upperBound {
                ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                ranges.append(range)
            }
        }
        var sums = ranges.map { [Double](repeating: 0, count: nMels * $0.count) }
        var counts = ranges.map { [Int](repeating: 0, count: $0.count) }
        for (c, start) in starts.enumerated() {
            guard let s = ranges.firstIndex(where: { $0.contains(start) }) else { continue }
            let range = ranges[s], width = range.count
            let used = min(chunkFrames, range.upperBound - start)
            for t in 0..<used { counts[s][start - range.lowerBound + t] += 1 }
            for m in 0..<nMels {
                let from = (c * nMels + m) * chunkFrames, to = m * width + start - range.lowerBound
                for t in 0..<used { sums[s][to + t] += Double(maps[from + t]) }
            }
        }
        return ranges.indices.map { s in
            let width = ranges[s].count
            var heat = [Float](repeating: 0, count: nMels * width)
            for m in 0..<nMels {
                for t in 0..<width where counts[s][t] > 0 { heat[m * width + t] = Float(sums[s][m * width + t] / Double(counts[s][t])) }
            }
            return Span(frames: ranges[s], heat: heat)
        }
    }
}

extension Predictor {
    /// The label index of `tag` in this model: exact, else ignoring case and turning spaces
    /// into dashes (as users' tags are written); throws `ExplanationError.unknownTag` listing the
    /// model's tags.
    public func labelIndex(of tag: String) throws(ExplanationError) -> Int {
        if let exact = labels.firstIndex(of: tag) { return exact }
        let folded = tag.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: "-")
        if let loose = labels.firstIndex(where: { $0.lowercased() == folded }) { return loose }
        throw .unknownTag(tag, labels: labels)
    }

    /// Grad-CAM of `tag` over the chunks this predictor analyses of a file (only their audio is decoded).
    public func explain(path: String, tag: String) throws -> TrackExplanation {
        let index = try labelIndex(of: tag)
        return try explain(track: try features.chunks(path: path), labelIndex: index)
    }

    /// Grad-CAM of `tag` over a file already open (a library file, confined to its library).
    public func explain(file: ReadOnlyFile, tag: String) throws -> TrackExplanation {
        let index = try labelIndex(of: tag)
        return try explain(track: try features.chunks(file: file), labelIndex: index)
    }

    /// Grad-CAM of `tag` over mono samples at the front end's rate.
    public func explain(samples: [Float], tag: String) throws -> TrackExplanation {
        let index = try labelIndex(of: tag)
        let duration = Double(samples.count) / Double(bundle.frontEnd.spectrogram.sampleRate)
        return try explain(chunks: try chunks(samples: samples), duration: duration, labelIndex: index)
    }

    func explain(track: TrackChunks, labelIndex: Int) throws -> TrackExplanation {
        try explain(chunks: track.chunks, duration: track.duration, labelIndex: labelIndex)
    }

    /// Runs the chunks `batchSize` at a time through `GradCAM` and stitches their maps.
    public func explain(chunks: ChunkBatch, duration: Double, labelIndex: Int) throws -> TrackExplanation {
        let network = bundle.network
        let chunkSize = chunks.nMels * chunks.frames
        var maps: [Float] = []
        maps.reserveCapacity(chunks.count * chunkSize)
        var probabilitySum = 0.0
        var stage = network.stageNames.count - 1
        var start = 0
        while start < chunks.count {
            let n = min(batchSize, chunks.count - start)
            let input = try Tensor(shape: [n, 1, chunks.nMels, chunks.frames],
                                   data: Array(chunks.values[(start * chunkSize)..<((start + n) * chunkSize)]))
            let result = try GradCAM.maps(network: network, input: input, label: labelIndex)
            maps += result.upsampled
            for logit in result.logits { probabilitySum += Double(sigmoid(logit)) }
            stage = result.stage
            start += n
        }
        let spectrogram = bundle.frontEnd.spectrogram
        let samples = Int((duration * Double(spectrogram.sampleRate)).rounded())
        let totalFrames = max(1, spectrogram.frameCount(samples: samples))
        return TrackExplanation(
            tag: labels[labelIndex], labelIndex: labelIndex, probability: Float(probabilitySum / Double(max(1, chunks.count))),
            stage: network.stageNames[stage], frontEnd: bundle.frontEnd, totalFrames: totalFrames, duration: duration,
            chunkStarts: chunks.starts,
            spans: TrackExplanation.stitch(maps: maps, starts: chunks.starts, nMels: chunks.nMels, chunkFrames: chunks.frames,
                                           totalFrames: totalFrames))
    }
}
