import ArgumentParser
import AudioIO
import Foundation
import Service
import Tagger

/// `timbre explain FILE --tag TAG`: which time–frequency regions made the model give a tag (Grad-CAM).
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a tag with Grad-CAM: the regions of the log-mel that drove it, as a picture (-o) or JSON.",
        discussion: """
            The tag's logit is differentiated with respect to the model's last convolutional stage on every \
            chunk the model analyses (as `predict` chooses them); the maps are stitched over the track. The \
            picture is the log-mel in grey with the heat on top; --json lists the top time spans (seconds), \
            mel bands (Hz) and regions with their share of the heat.
            """
    )

    @Argument(help: "Audio file (WAV, FLAC, OGG/Vorbis, Opus, AIFF, MP3).") var file: String
    @Option(help: "The tag to explain (one of the model's tags).") var tag: String
    @Option(help: "The model (default: the shipped models/default/model.safetensors or $TIMBRE_MODEL).") var model: String?
    @Option(name: .shortAndLong, help: "PNG file to write: the log-mel with the heat map over it.") var output: String?
    @Flag(help: "Print the explanation as JSON.") var json = false
    @Option(help: "At most this many ~3 s chunks per track, spread evenly.") var maxChunks: Int?
    @Option(help: "Widest picture in pixels: longer tracks average neighbouring frames.") var width: Int = SpectrogramPicture.defaultWidth
    @Option(help: "How many spans, bands and regions to list.") var top: Int = 5

    func validate() throws {
        guard width >= 16 else { throw ValidationError("--width must be at least 16 pixels") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        if let maxChunks, maxChunks < 1 { throw ValidationError("--max-chunks must be at least 1") }
    }

    func run() throws {
        let modelFile = model ?? defaultModelPath()
        guard FileManager.default.fileExists(atPath: modelFile) else {
            throw CommandFailure("there is no model file at \(modelFile): pass --model PATH (or $TIMBRE_MODEL)")
        }
        var config = PredictionConfig()
        if let maxChunks { config.maxChunks = maxChunks }
        let predictor = try Predictor(bundle: try ModelBundle.read(from: modelFile), config: config)
        let source = try ReadOnlyFile(path: file)
        let explanation = try predictor.explain(file: source, tag: tag)
        if let output {
            let picture = try ExplanationPicture.render(file: source, explanation: explanation, maximumWidth: width)
            try picture.writePNG(to: output)
            if !json { print("\(output): \(picture.width)×\(picture.height) px") }
        }
        let report = ExplanationReport(explanation, modelVersion: nil, limit: top)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("\(file): \(report.tag) \(String(format: "%.2f", report.probability)) over \(report.chunks.count) chunks (Grad-CAM at \(report.stage))")
        if report.regions.regions.isEmpty { print("  no region raised this tag (the maps are zero)") }
        for span in report.regions.timeSpans {
            print(String(format: "  time %7.2f–%7.2f s  %5.1f%% of the heat", span.startSeconds, span.endSeconds, 100 * span.share))
        }
        for band in report.regions.melBands {
            print(String(format: "  band %7.0f–%7.0f Hz %5.1f%% of the heat", band.lowHz, band.highHz, 100 * band.share))
        }
        for region in report.regions.regions {
            print(String(format: "  region %.2f–%.2f s × %.0f–%.0f Hz  %5.1f%%", region.startSeconds, region.endSeconds,
                         region.lowHz, region.highHz, 100 * region.share))
        }
    }
}
