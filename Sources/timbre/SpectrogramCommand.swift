import ArgumentParser
import AudioIO
import Charts
import Features
import Service

/// `timbre spectrogram FILE -o out.png`: the model's view of a track, as a picture.
struct SpectrogramCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spectrogram",
        abstract: "Draw the log-mel spectrogram of an audio file as a PNG (low frequencies at the bottom, time to the right)."
    )

    @Argument(help: "Audio file (WAV, FLAC, OGG/Vorbis, Opus, AIFF, MP3).")
    var file: String

    @Option(name: .shortAndLong, help: "PNG file to write.")
    var output: String

    @Option(help: "Seconds to skip at the start.")
    var offset: Double = 0

    @Option(help: "Seconds to draw (default: to the end).")
    var duration: Double?

    @Option(help: "Colour map: magma or viridis.")
    var colormap: ColorMap = .magma

    @Option(name: .customLong("n-mels"), help: "Mel bands (rows of the picture).")
    var nMels: Int = 128

    @Option(name: .customLong("hop-length"), help: "Samples between frames (columns of the picture).")
    var hopLength: Int = 512

    @Option(name: .customLong("n-fft"), help: "FFT window length in samples.")
    var nFFT: Int = 2048

    @Option(name: .customLong("sample-rate"), help: "Rate in Hz the audio is resampled to before analysis.")
    var sampleRate: Int = 22050

    @Option(help: "Each frame × mel cell becomes SCALE × SCALE pixels (1–16; with --full).")
    var scale: Int = 1

    @Option(help: "Widest picture in pixels: longer tracks average neighbouring frames (each band is 2 px high).")
    var width: Int = SpectrogramPicture.defaultWidth

    @Flag(help: "One pixel per frame and per mel band, however long the track, without axes (the model's exact view).")
    var full = false

    @Flag(inversion: .prefixedNo, help: "Label time and frequency (Hz, placed on the mel scale) around the picture.")
    var axes = true

    func validate() throws {
        guard offset.isFinite, offset >= 0 else { throw ValidationError("--offset must be a number of seconds ≥ 0") }
        if let duration, !(duration.isFinite && duration > 0) { throw ValidationError("--duration must be a number of seconds > 0") }
        guard (1...16).contains(scale) else { throw ValidationError("--scale must be between 1 and 16") }
        guard width >= 16 else { throw ValidationError("--width must be at least 16 pixels") }
    }

    func run() throws {
        let config = SpectrogramConfig(sampleRate: sampleRate, nFFT: nFFT, hopLength: hopLength, nMels: nMels)
        let frontEnd = try LogMelSpectrogram(config)
        let audio = try AudioDecoder.decode(
            path: file, options: DecodeOptions(targetSampleRate: sampleRate, offset: offset, duration: duration))
        guard !audio.samples.isEmpty else {
            let length = audio.sourceDuration.map { String(format: " (the file lasts %.2f s)", $0) } ?? ""
            throw CommandFailure("\(file): no audio from --offset \(offset) s\(length); choose an earlier offset")
        }
        let spectrogram = try frontEnd.logMel(audio.samples)
        // Row 0 of the grid (the lowest mel band) is drawn at the bottom; the API draws the same way.
        let plot = try SpectrogramPicture.picture(values: spectrogram.values, bands: spectrogram.nMels, frames: spectrogram.frames,
                                                  maximumWidth: full ? nil : width, colorMap: colormap, scale: scale)
        let image = axes && !full ? try SpectrogramPicture.withAxes(plot, seconds: audio.duration, start: offset, config: config) : plot
        try image.writePNG(to: output)
        print("\(output): \(image.width)×\(image.height) px, \(spectrogram.frames) frames × \(spectrogram.nMels) mel bands, "
            + "\(String(format: "%.2f", audio.duration)) s at \(audio.sampleRate) Hz")
    }
}

extension ColorMap: ExpressibleByArgument {}
