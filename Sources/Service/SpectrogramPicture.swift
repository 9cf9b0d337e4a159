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

    public static func render(file: ReadOnlyFile, maximumWidth: Int?, axes: Bool = true, config: SpectrogramConfig = SpectrogramConfig(),
                              offset: Double = 0, duration: Double? = nil, colorMap: ColorMap = .magma, scale: Int = 1) throws -> RasterImage {
        let audio = try AudioDecoder.decode(file: file, options: DecodeOptions(targetSampleRate: config.sampleRate, offset: offset,
                                                                               duration: duration ?? maximumSeconds))
        guard !audio.samples.isEmpty else { throw SpectrogramPictureError.noAudio(path: file.path) }
        let spectrogram = try LogMelSpectrogram(config).logMel(audio.samples)
        let plot = try picture(values: spectrogram.values, bands: spectrogram.nMels, frames: spectrogram.frames,
                               maximumWidth: maximumWidth, colorMap: colorMap, scale: scale)
        return axes ? try withAxes(plot, seconds: Double(audio.samples.count) / Double(config.sampleRate), start: offset, config: config) : plot
    }

    static let margin = (left: 50, bottom: 22, top: 6, right: 8)
    static let ink = RGBColor(red: 220, green: 220, blue: 228), paper = RGBColor(red: 22, green: 22, blue: 30)

    /// The plot inside a frame with labelled axes: frequency in Hz at its place on the mel
    /// scale (Slaney or HTK as `config` says) on the left, time (m:ss) along the bottom.
    public static func withAxes(_ plot: RasterImage, seconds: Double, start: Double = 0, config: SpectrogramConfig) throws -> RasterImage {
        let m = margin
        var image = try RasterImage(width: plot.width + m.left + m.right, height: plot.height + m.top + m.bottom, background: paper)
        for y in 0..<plot.height { for x in 0..<plot.width { image[m.left + x, m.top + y] = plot[x, y] } }
        // Frequency: u = (mel(f) − mel(fmin)) / (mel(fmax) − mel(fmin)), drawn from the bottom.
        let fmin = Double(config.fmin), fmax = Double(config.effectiveFmax)
        let low = MelFilterbank.hzToMel(fmin, htk: config.htk), high = MelFilterbank.hzToMel(fmax, htk: config.htk)
        for hz in [0.0, 250, 500, 1000, 2000, 4000, 8000, 16000] where hz >= fmin && hz <= fmax {
            let u = (MelFilterbank.hzToMel(hz, htk: config.htk) - low) / (high - low)
            let y = m.top + Int(((1 - u) * Double(plot.height - 1)).rounded())
            for x in (m.left - 4)..<m.left { image[x, y] = ink }
            let label = hz >= 1000 ? "\(Int(hz / 1000)) kHz" : "\(Int(hz)) Hz"
            let size = BitmapFont.size(of: label)
            BitmapFont.draw(label, at: m.left - 6 - size.width, min(max(0, y - 3), image.height - 7), color: ink, in: &image)
        }
        // Time: a round step giving at most about one label per 90 px.
        guard seconds > 0 else { return image }
        let steps: [Double] = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600]
        let step = steps.first { seconds / $0 <= max(1, Double(plot.width) / 90) } ?? 600
        var t = 0.0
        while t <= seconds + 1e-9 {
            let x = m.left + Int((t / seconds * Double(plot.width - 1)).rounded())
            for y in (m.top + plot.height)..<(m.top + plot.height + 4) { image[x, y] = ink }
            let total = Int((start + t).rounded())
            let label = step < 1 ? String(format: "%.1fs", start + t) : "\(total / 60):" + (total % 60 < 10 ? "0" : "") + "\(total % 60)"
            let size = BitmapFont.size(of: label)
            BitmapFont.draw(label, at: min(max(0, x - size.width / 2), image.width - size.width), m.top + plot.height + 7, color: ink, in: &image)
            t += step
        }
        return image
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
