import AudioIO
import Charts
import Features
import Foundation

public enum SpectrogramPictureError: Error, CustomStringConvertible {
    case noAudio(path: String)
    public var description: String {
        switch self {
        case let .noAudio(path): return "\(path) holds no audio to draw"
        }
    }
}

/// A log-mel picture a person can read: at most `maximumWidth` columns (neighbouring frames
/// averaged), each mel band two pixels high, low frequencies at the bottom. With no maximum,
/// one pixel per frame and per band (the model's exact view). The CLI's `spectrogram` and the
/// API's `spectrogram.png` draw through here.
public enum SpectrogramPicture {
    public static let defaultWidth = 1200
    /// Longer files are drawn from their first 15 minutes.
    public static let maximumSeconds = 900.0

    public static func render(path: String, maximumWidth: Int?, config: SpectrogramConfig = SpectrogramConfig(),
                              offset: Double = 0, duration: Double? = nil, colorMap: ColorMap = .magma, scale: Int = 1) throws -> RasterImage {
        let audio = try AudioDecoder.decode(path: path, options: DecodeOptions(targetSampleRate: config.sampleRate, offset: offset,
                                                                               duration: duration ?? maximumSeconds))
        guard !audio.samples.isEmpty else { throw SpectrogramPictureError.noAudio(path: path) }
        let spectrogram = try LogMelSpectrogram(config).logMel(audio.samples)
        return try picture(values: spectrogram.values, bands: spectrogram.nMels, frames: spectrogram.frames,
                           maximumWidth: maximumWidth, colorMap: colorMap, scale: scale)
    }

    /// `values` is (bands, frames) row-major, band 0 the lowest.
    public static func picture(values: [Float], bands: Int, frames: Int, maximumWidth: Int?, colorMap: ColorMap = .magma,
                               scale: Int = 1) throws -> RasterImage {
        guard let maximumWidth, frames > maximumWidth else {
            return try Heatmap(colorMap: colorMap, scale: scale).render(values: values, rows: bands, columns: frames)
        }
        let columns = max(1, maximumWidth)
        // Each column is the mean of the frames that fall into it; each band is drawn twice.
        var pooled = [Float](repeating: 0, count: 2 * bands * columns)
        for band in 0..<bands {
            for column in 0..<columns {
                let from = column * frames / columns, to = max(from + 1, (column + 1) * frames / columns)
                var sum: Float = 0
                for frame in from..<to { sum += values[band * frames + frame] }
                let mean = sum / Float(to - from)
                pooled[(2 * band) * columns + column] = mean
                pooled[(2 * band + 1) * columns + column] = mean
            }
        }
        return try Heatmap(colorMap: colorMap, scale: 1).render(values: pooled, rows: 2 * bands, columns: columns)
    }
}
