import AudioIO
import Foundation

/// Writes the corpus: renders the tracks that are not already there on several threads
/// (one synthesizer each), writes every audio file through a temporary name and keeps
/// `labels.csv` current, so that an interrupted run resumes where it stopped.
struct CorpusWriter {
    let options: DemoCorpusOptions

    static let labelsFileName = "labels.csv"

    func run(progress: (Int, Int) -> Void) throws(DemoCorpusError) -> DemoCorpusSummary {
        try options.validate()
        let started = Date()
        let directory = options.outputDirectory
        let soundFont = options.resolvedSoundFontPath
        guard FileManager.default.fileExists(atPath: soundFont) else { throw .soundFontMissing(path: soundFont) }
        try prepare(directory)

        let labelsPath = directory + "/" + CorpusWriter.labelsFileName
        let plans = TrackPlan.plans(for: options)
        let existing = try LabelsFile.read(labelsPath)
        var rows = Dictionary(existing.map { ($0.path, $0.tags) }, uniquingKeysWith: { _, last in last })
        // Rows of an earlier run that this run does not produce stay, as long as their file does.
        let planned = Set(plans.map(\.relativePath))
        rows = rows.filter { planned.contains($0.key) || FileManager.default.fileExists(atPath: directory + "/" + $0.key) }

        var todo: [Int] = []
        for plan in plans {
            let complete = rows[plan.relativePath] == plan.tags
                && FileManager.default.fileExists(atPath: directory + "/" + plan.relativePath)
            if !complete { rows[plan.relativePath] = nil; todo.append(plan.index) }
        }
        let skipped = plans.count - todo.count
        var done = skipped
        var audioSeconds = 0.0
        progress(done, plans.count)

        if !todo.isEmpty {
            let workers = min(options.threads ?? ProcessInfo.processInfo.activeProcessorCount, todo.count)
            let queue = RenderQueue(pending: todo, workers: workers)
            // Loads the soundfont once, reports a broken one before any thread starts, and keeps
            // its samples in fluidsynth's cache so that each track's fresh synthesizer is cheap.
            let cacheHolder = try SoundFontSynth(soundFontPath: soundFont, sampleRate: options.sampleRate)
            defer { withExtendedLifetime(cacheHolder) {} }
            for _ in 0..<workers { startWorker(queue: queue, plans: plans, soundFont: soundFont) }
            var lastSave = Date()
            while true {
                let news = queue.waitForNews()
                for (index, seconds) in news.finished {
                    rows[plans[index].relativePath] = plans[index].tags
                    audioSeconds += seconds
                }
                done += news.finished.count
                if !news.finished.isEmpty { progress(done, plans.count) }
                if let failure = news.failure {
                    queue.waitForWorkers()
                    try? LabelsFile.write(sortedRows(rows), to: labelsPath)
                    throw failure
                }
                if news.allExited { break }
                if Date().timeIntervalSince(lastSave) > 10 {
                    try LabelsFile.write(sortedRows(rows), to: labelsPath)
                    lastSave = Date()
                }
            }
        }
        try LabelsFile.write(sortedRows(rows), to: labelsPath)

        let counts = DemoCorpus.tags.map { tag in (tag, plans.filter { $0.tags.contains(tag) }.count) }
        return DemoCorpusSummary(labelsPath: labelsPath, rendered: todo.count, skipped: skipped,
                                 audioSeconds: audioSeconds, wallSeconds: Date().timeIntervalSince(started), tagCounts: counts)
    }

    private func sortedRows(_ rows: [String: [String]]) -> [LabelsFile.Row] {
        rows.keys.sorted().map { LabelsFile.Row(path: $0, tags: rows[$0] ?? []) }
    }

    private func prepare(_ directory: String) throws(DemoCorpusError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw .outputDirectory(path: directory, reason: "it is a file, not a directory")
        }
        do { try manager.createDirectory(atPath: directory + "/audio", withIntermediateDirectories: true) }
        catch { throw .outputDirectory(path: directory, reason: "cannot create it: \(error.localizedDescription)") }
        guard manager.isWritableFile(atPath: directory), manager.isWritableFile(atPath: directory + "/audio") else {
            throw .outputDirectory(path: directory, reason: "it is not writable")
        }
    }

    private func startWorker(queue: RenderQueue, plans: [TrackPlan], soundFont: String) {
        let options = self.options
        let thread = Thread {
            defer { queue.workerExited() }
            while let index = queue.next() {
                let plan = plans[index]
                do throws(DemoCorpusError) {
                    let synth = try SoundFontSynth(soundFontPath: soundFont, sampleRate: options.sampleRate)
                    try CorpusWriter.renderTrack(plan, synth: synth, directory: options.outputDirectory)
                    queue.finished(index, audioSeconds: plan.composition.duration)
                } catch {
                    queue.fail(error)
                    return
                }
            }
        }
        // libsndfile hands a whole track to libvorbis in one call, and libvorbis allocates
        // on the stack in proportion to it (about 8 bytes per frame and channel): a minute
        // at 44.1 kHz needs ~21 MB. Threads get room for 10 minutes at 48 kHz; the memory is
        // only committed when touched.
        thread.stackSize = 256 << 20
        thread.start()
    }

    /// Renders, masters and writes one track; the file appears under its final name only when complete.
    static func renderTrack(_ plan: TrackPlan, synth: SoundFontSynth, directory: String) throws(DemoCorpusError) {
        var samples = synth.render(plan.composition)
        Mastering.master(&samples, sampleRate: synth.sampleRate, loudness: plan.composition.loudness)
        // AudioWriter writes a temporary file beside `path` and renames it over `path`.
        do {
            try AudioWriter.write(samples, sampleRate: synth.sampleRate, channels: 2, to: directory + "/" + plan.relativePath,
                                  format: plan.format, quality: plan.quality)
        } catch {
            throw .audio(error)
        }
    }
}
