import ArgumentParser
import AudioIO
import DemoCorpus
import Foundation

/// `timbre demo-corpus`: renders a labelled corpus of synthetic music for training and demos.
struct DemoCorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-corpus",
        abstract: "Compose and render a labelled demo corpus (audio files + labels.csv) through General MIDI soundfonts."
    )

    @Option(name: .long, help: "Directory to write audio/ and labels.csv into (created if missing; an interrupted run resumes).")
    var out: String

    @Option(name: .long, help: "Number of tracks.")
    var tracks: Int = 200

    @Option(name: .long, help: "Seed: the same seed gives the same corpus.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Comma-separated output formats among wav, flac, ogg, mp3, opus, aiff.")
    var formats: String = "wav,flac,ogg,mp3"

    @Option(name: .long, help: "Sample rate in Hz (22050 matches Timbre's analysis rate; 44100 for listening).")
    var sampleRate: Int = 22050

    @Option(name: .long, help: "Shortest track, seconds.")
    var minSeconds: Double = 20

    @Option(name: .long, help: "Longest track, seconds.")
    var maxSeconds: Double = 60

    @Option(name: .long, parsing: .singleValue,
            help: "SoundFont (.sf2/.sf3) to render with; repeat it or give a comma-separated list to mix fonts per track and per part (default: $TIMBRE_SOUNDFONT, then the installed fonts of the training set, never a font held out for evaluation).")
    var soundfont: [String] = []

    @Option(name: .long, help: "Rendering threads (default: one per core).")
    var threads: Int?

    @Option(name: .long, help: "Print a progress line every this many tracks.")
    var progressEvery: Int = 10

    func run() throws {
        var chosen: [AudioFileFormat] = []
        for name in formats.split(separator: ",") {
            guard let format = AudioFileFormat(pathExtension: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown format '\(name)'; use wav, flac, ogg, mp3, opus or aiff")
            }
            chosen.append(format)
        }
        guard minSeconds <= maxSeconds else { throw ValidationError("--min-seconds must not exceed --max-seconds") }
        let options = DemoCorpusOptions(outputDirectory: out, trackCount: tracks, seed: seed, formats: chosen,
                                        sampleRate: sampleRate, durationRange: minSeconds...maxSeconds,
                                        soundFontPaths: soundfont, threads: threads)
        let fonts = try options.resolvedSoundFonts()
        var header = "soundfonts: \(fonts.fonts.map(\.path).joined(separator: ", "))\n"
        for (path, reason) in fonts.skipped { header += "  skipped \(path): \(reason)\n" }
        // Unbuffered like the progress lines, so it comes before them.
        FileHandle.standardOutput.write(Data(header.utf8))
        let started = Date()
        let every = max(progressEvery, 1)
        var lastReported = -1
        let summary = try DemoCorpus.generate(options) { done, total in
            guard done == total || done / every != lastReported / every else { return }
            let elapsed = Date().timeIntervalSince(started)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            // Unbuffered, so the lines appear as they happen when output goes to a pipe or a log.
            let line = "\(done)/\(total) tracks  \(String(format: "%.2f", rate)) tracks/s  \(String(format: "%.0f", elapsed)) s\n"
            FileHandle.standardOutput.write(Data(line.utf8))
            lastReported = done
        }
        print("wrote \(summary.rendered) tracks (\(String(format: "%.0f", summary.audioSeconds)) s of audio), kept \(summary.skipped) from an earlier run, in \(String(format: "%.1f", summary.wallSeconds)) s")
        print("labels: \(summary.labelsPath)")
        print("fonts and production per track: \(summary.productionPath)")
        for (path, count) in summary.soundFontCounts {
            print("  \((path as NSString).lastPathComponent.padding(toLength: 22, withPad: " ", startingAt: 0)) \(count) tracks")
        }
        for (tag, count) in summary.tagCounts { print("  \(tag.padding(toLength: 17, withPad: " ", startingAt: 0)) \(count)") }
    }
}
