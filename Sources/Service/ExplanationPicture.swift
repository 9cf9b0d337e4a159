import AudioIO
import Charts
import Features
import Foundation
import Tagger

/// A tag's Grad-CAM over the track's log-mel, as a picture: the spectrogram in grey, the heat
/// blended on top in magma (transparent where there is none, opaque where it peaks), framed with
/// the same axes as `SpectrogramPicture`. Shared by `timbre explain` and `GET …/explain`.
public enum ExplanationPicture {
    /// - Parameter explanation: computed with the same model, whose front end draws the picture,
    ///   so frames and bands line up with the heat.
    public static func render(file: ReadOnlyFile, explanation: TrackExplanation,
                              maximumWidth: Int? = SpectrogramPicture.defaultWidth) throws -> RasterImage {
        let config = explanation.frontEnd.spectrogram
        let audio = try AudioDecoder.decode(file: file, options: DecodeOptions(targetSampleRate: config.sampleRate,
                                                                               duration: SpectrogramPicture.maximumSeconds))
        guard !audio.samples.isEmpty else { throw SpectrogramPictureError.noAudio(path: file.path) }
        let spectrogram = try LogMelSpectrogram(config).logMel(audio.samples)
        let plot = try picture(values: spectrogram.values, bands: spectrogram.nMels, frames: spectrogram.frames,
                               explanation: explanation, maximumWidth: maximumWidth)
        return try SpectrogramPicture.withAxes(plot, seconds: Double(audio.samples.count) / Double(config.sampleRate), config: config)
    }

    /// `values` is the log-mel (bands, frames) row-major, band 0 the lowest; each band is drawn
    /// 2 px high, and at most `maximumWidth` columns (neighbouring frames averaged, heat too).
    public static func picture(values: [Float], bands: Int, frames: Int, explanation: TrackExplanation,
                               maximumWidth: Int?) throws -> RasterImage {
        guard bands == explanation.nMels, bands > 0, frames > 0, values.count == bands * frames else {
            throw ChartError.invalidDimensions("a log-mel of \(bands) bands × \(frames) frames cannot carry heat of \(explanation.nMels) bands")
        }
        var heat = [Float](repeating: 0, count: bands * frames)
        for span in explanation.spans where span.frames.lowerBound < frames {
            let width = span.frames.count, used = min(span.frames.upperBound, frames) - span.frames.lowerBound
            for m in 0..<bands {
                for t in 0..<used { heat[m * frames + span.frames.lowerBound + t] = span.heat[m * width + t] }
            }
        }
        let columns = min(frames, max(1, maximumWidth ?? frames))
        let pooledValues = pool(values, bands: bands, frames: frames, columns: columns)
        let pooledHeat = pool(heat, bands: bands, frames: frames, columns: columns)
        var (low, high) = (Float.infinity, -Float.infinity)
        for v in pooledValues where v.isFinite { low = min(low, v); high = max(high, v) }
        let span = high > low ? high - low : 1
        let peak = pooledHeat.max() ?? 0
        let table = ColorMap.magma.table
        var image = try RasterImage(width: columns, height: 2 * bands)
        for band in 0..<bands {
            for column in 0..<columns {
                let v = pooledValues[band * columns + column]
                let grey = Double(v.isFinite ? (v - low) / span : 0) * 200
                let h = peak > 0 ? Double(pooledHeat[band * columns + column] / peak) : 0
                // Heat below a tenth of the peak stays out of the way; above, it covers more and more.
                let alpha = h < 0.1 ? 0 : min(1, (h - 0.1) / 0.9 * 0.85 + 0.15)
                let c = table[min(255, Int((0.35 + 0.65 * h) * 255))]
                let mix = { (colour: UInt8) in UInt8(max(0, min(255, (grey * (1 - alpha) + Double(colour) * alpha).rounded()))) }
                let pixel = RGBColor(red: mix(c.red), green: mix(c.green), blue: mix(c.blue))
                let y = 2 * (bands - 1 - band)
                image[column, y] = pixel
                image[column, y + 1] = pixel
            }
        }
        return image
    }

    /// Each column the mean of the frames that fall into it (as `SpectrogramPicture`).
    static func pool(_ values: [Float], bands: Int, frames: Int, columns: Int) -> [Float] {
        guard columns < frames else { return values }
        var pooled = [Float](repeating: 0, count: bands * columns)
        for band in 0..<bands {
            for column in 0..<columns {
                let from = column * frames / columns, to = max(from + 1, (column + 1) * frames / columns)
                var sum: Float = 0
                for frame in from..<to { sum += values[band * frames + frame] }
                pooled[band * columns + column] = sum / Float(to - from)
            }
        }
        return pooled
    }
}

/// The JSON of an explanation: what `timbre explain --json` prints and `GET …/explain` answers.
public struct ExplanationReport: Encodable, Sendable {
    public struct Chunk: Encodable, Sendable {
        public var startSeconds: Double, endSeconds: Double
        enum CodingKeys: String, CodingKey { case startSeconds = "start_seconds", endSeconds = "end_seconds" }
    }
    public var tag: String
    public var probability: Float
    public var modelVersion: String?
    public var method = "grad-cam"
    public var stage: String
    public var durationSeconds: Double
    /// The chunks the model analysed (and so the only frames that can carry heat).
    public var chunks: [Chunk]
    public var regions: HeatRegions

    public init(_ explanation: TrackExplanation, modelVersion: String?, limit: Int = 5) {
        tag = explanation.tag
        probability = explanation.probability
        self.modelVersion = modelVersion
        stage = explanation.stage
        durationSeconds = explanation.duration
        let spf = explanation.secondsPerFrame, length = explanation.frontEnd.chunkFrames
        chunks = explanation.chunkStarts.map {
            Chunk(startSeconds: Double($0) * spf, endSeconds: min(explanation.duration, Double($0 + length) * spf))
        }
        regions = HeatRegions(explanation, limit: limit)
    }

    enum CodingKeys: String, CodingKey {
        case tag, probability, modelVersion = "model_version", method, stage, durationSeconds = "duration_seconds", chunks
        case timeSpans = "time_spans", melBands = "mel_bands", regions
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tag, forKey: .tag)
        try c.encode(probability, forKey: .probability)
        try c.encodeIfPresent(modelVersion, forKey: .modelVersion)
        try c.encode(method, forKey: .method)
        try c.encode(stage, forKey: .stage)
        try c.encode(durationSeconds, forKey: .durationSeconds)
        try c.encode(chunks, forKey: .chunks)
        try c.encode(regions.timeSpans, forKey: .timeSpans)
        try c.encode(regions.melBands, forKey: .melBands)
        try c.encode(regions.regions, forKey: .regions)
    }
}
