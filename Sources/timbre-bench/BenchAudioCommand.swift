import ArgumentParser
import AudioIO
import CommandLineProgress
import Dispatch
import Features
import Foundation

/// `timbre-bench bench-audio`: the Swift half of `scripts/bench audio`, which compares
/// decode + resample + log-mel throughput and values with librosa.
struct BenchAudioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-audio",
        abstract: "Benchmark the audio front end (used by scripts/bench audio).",
        subcommands: [BenchAudioCorpusCommand.self, BenchAudioRunCommand.self]
    )
}

/// `timbre-bench bench-audio run FILE…`: decodes, resamples to 22050 Hz and computes the
/// default log-mel of every file, `jobs` files at a time, `repeats` times; prints JSON.
struct BenchAudioRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Time decode + resample + log-mel over files and print JSON."
    )

    @Argument(help: "Audio files to process in each repeat.")
    var files: [String]

    @Option(help: "Timed repeats over all files (the median is reported).")
    var repeats: Int = 5

    @Option(help: "Files processed at the same time (threads).")
    var jobs: Int = 2

    @Option(name: .customLong("dump"), help: "FILE=OUT: also write FILE's log-mel to OUT as raw float32, row-major [mel][frame].")
    var dumps: [String] = []

    @Flag(help: "Also time each stage (decode, resample, log-mel) over all files on one thread.")
    var stages = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        for dump in dumps {
            let parts = dump.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--dump takes FILE=OUT, got \(dump)")
            }
        }
    }

    func run() throws {
        let frontEnd = try LogMelSpectrogram(SpectrogramConfig())
        var dumped: [[String: Any]] = []
        for dump in dumps {
            let parts = dump.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let spectrogram = try frontEnd.logMel(AudioDecoder.decode(path: parts[0]).samples)
            let bytes = spectrogram.values.withUnsafeBytes { Data($0) }
            try bytes.write(to: URL(fileURLWithPath: parts[1]), options: .atomic)
            dumped.append(["file": parts[0], "out": parts[1], "n_mels": spectrogram.nMels, "frames": spectrogram.frames])
        }

        // One untimed pass warms the page cache and FFTW's plans, as librosa gets a warm-up too.
        let warmUp = try FrontEndPass(files: files, jobs: jobs, frontEnd: frontEnd).run()
        let progress = ProgressReporter(label: "timbre", total: repeats)
        var seconds: [Double] = []
        for _ in 0..<repeats {
            let pass = try FrontEndPass(files: files, jobs: jobs, frontEnd: frontEnd).run()
            seconds.append(pass.seconds)
            progress.advance(note: String(format: "%.2f s", pass.seconds))
        }
        progress.finish()
        let median = seconds.sorted()[seconds.count / 2]
        var report: [String: Any] = [
            "tool": "timbre", "jobs": jobs, "files": files.count, "audio_seconds": warmUp.audioSeconds,
            "runs_s": seconds, "median_s": median, "files_per_s": Double(files.count) / median, "dumps": dumped,
        ]
        if stages { report["stages_s"] = try stageSeconds(frontEnd: frontEnd) }
        let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}

extension BenchAudioRunCommand {
    /// Seconds spent, over all files on one thread, decoding at the source rate,
    /// resampling to 22050 Hz, and computing the log-mel.
    func stageSeconds(frontEnd: LogMelSpectrogram) throws -> [String: Double] {
        var decode = 0.0, resample = 0.0, logMel = 0.0
        for path in files {
            var start = DispatchTime.now()
            let native = try AudioDecoder.decode(path: path, options: DecodeOptions(targetSampleRate: nil))
            decode += start.secondsSince()
            start = DispatchTime.now()
            let samples = try Resampler(from: native.sampleRate, to: 22050).process(native.samples)
            resample += start.secondsSince()
            start = DispatchTime.now()
            _ = try frontEnd.logMel(samples)
            logMel += start.secondsSince()
        }
        return ["decode": decode, "resample": resample, "log_mel": logMel]
    }
}

extension DispatchTime {
    func secondsSince() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - uptimeNanoseconds) / 1e9
    }
}

/// One timed pass over the files with `jobs` worker threads taking the next file in turn.
struct FrontEndPass: Sendable {
    let files: [String]
    let jobs: Int
    let frontEnd: LogMelSpectrogram

    struct Outcome {
        let seconds: Double
        /// Length of the decoded source audio, summed.
        let audioSeconds: Double
    }

    /// Collects per-file results from the worker threads.
    private final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private(set) var audioSeconds = 0.0
        private(set) var firstError: (any Error)?

        func claim(upTo count: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard next < count, firstError == nil else { return nil }
            next += 1
            return next - 1
        }

        func record(seconds: Double) {
            lock.lock()
            audioSeconds += seconds
            lock.unlock()
        }

        func fail(_ error: any Error) {
            lock.lock()
            if firstError == nil { firstError = error }
            lock.unlock()
        }
    }

    func run() throws -> Outcome {
        let tally = Tally()
        let start = DispatchTime.now()
        DispatchQueue.concurrentPerform(iterations: jobs) { _ in
            while let index = tally.claim(upTo: files.count) {
                do {
                    let audio = try AudioDecoder.decode(path: files[index])
                    let spectrogram = try frontEnd.logMel(audio.samples)
                    if spectrogram.frames > 0 { tally.record(seconds: audio.duration) }
                } catch {
                    tally.fail(error)
                }
            }
        }
        let seconds = start.secondsSince()
        if let error = tally.firstError { throw error }
        return Outcome(seconds: seconds, audioSeconds: tally.audioSeconds)
    }
}
