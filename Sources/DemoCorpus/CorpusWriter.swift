import AudioIO
import Foundation

/// Writes the corpus: renders the tracks that are not already there on several threads
/// (a fresh synthesizer per track, with that track's soundfonts), writes every audio file
/// through a temporary name and keeps `labels.csv` and `production.csv` current, so that an
/// interrupted run resumes where it stopped.
struct CorpusWriter {
    let options: DemoCorpusOptions

    static let labelsFileName = "labels.csv"
    /// The random stream of a track's background noise.
    static let noiseStream: UInt64 = 6

    func run(progress: (Int, Int) -> Void) throws(DemoCorpusError) -> DemoCorpusSummary {
        try options.validate()
        let started = Date()
        let directory = options.outputDirectory
        // Every font exists and has presets, and every part has a font that plays it, before anything is written.
        let fontSet = try options.resolvedSoundFonts()
        let plans = try TrackPlan.plans(for: options, fonts: fontSet.fonts)
        try prepare(directory)

        let labelsPath = directory + "/" + CorpusWriter.labelsFileName
        let productionPath = directory + "/" + ProductionFile.fileName
        let existing = try LabelsFile.read(labelsPath)
        var rows = Dictionary(existing.map { ($0.path, $0.tags) }, uniquingKeysWith: { _, last in last })
        let existingProduction = try ProductionFile.read(productionPath)
        var made = Dictionary(existingProduction.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        // Rows of an earlier run that this run does not produce stay, as long as their file does.
        let planned = Set(plans.map(\.relativePath))
        rows = rows.filter { planned.contains($0.key) || FileManager.default.fileExists(atPath: directory + "/" + $0.key) }
        made = made.filter { rows[$0.key] != nil }

        var todo: [Int] = []
        for plan in plans {
            // Complete: same tags, made the same way (fonts, production), and the file is there.
            let complete = rows[plan.relativePath] == plan.tags && made[plan.relativePath] == plan.productionRow
                && FileManager.default.fileExists(atPath: directory + "/" + plan.relativePath)
            if !complete { rows[plan.relativePath] = nil; made[plan.relativePath] = nil; todo.append(plan.index) }
        }
        func save() throws(DemoCorpusError) {
            try LabelsFile.write(sortedRows(rows), to: labelsPath)
            try ProductionFile.write(made.keys.sorted().compactMap { made[$0] }, to: productionPath)
        }
        let skipped = plans.count - todo.count
        var done = skipped
        var audioSeconds = 0.0
        progress(done, plans.count)

        if !todo.isEmpty {
            let workers = min(options.threads ?? ProcessInfo.processInfo.activeProcessorCount, todo.count)
            let queue = RenderQueue(pending: todo, workers: workers)
            // Loads the fonts the tracks to render use once, reports a broken one before any
            // thread starts, and keeps their samples in fluidsynth's cache so that each track's
            // fresh synthesizer is cheap.
            let needed = Set(todo.flatMap { plans[$0].soundFonts })
            let cacheHolder = try SoundFontSynth(soundFontPaths: fontSet.fonts.map(\.path).filter(needed.contains),
                                                 sampleRate: options.sampleRate)
            defer { withExtendedLifetime(cacheHolder) {} }
            for _ in 0..<workers { startWorker(queue: queue, plans: plans) }
            var lastSave = Date()
            while true {
                let news = queue.waitForNews()
                for (index, seconds) in news.finished {
                    rows[plans[index].relativePath] = plans[index].tags
                    made[plans[index].relativePath] = plans[index].productionRow
                    audioSeconds += seconds
                }
                done += news.finished.count
                if !news.finished.isEmpty { progress(done, plans.count) }
                if let failure = news.failure {
                    queue.waitForWorkers()
                    try? save()
                    throw failure
                }
                if news.allExited { break }
                if Date().timeIntervalSince(lastSave) > 10 {
                    try save()
                    lastSave = Date()
                }
            }
        }
        try save()

        let counts = DemoCorpus.tags.map { tag in (tag, plans.filter { $0.tags.contains(tag) }.count) }
        var summary = DemoCorpusSummary(labelsPath: labelsPath, rendered: todo.count, skipped: skipped,
                                        audioSeconds: audioSeconds, wallSeconds: Date().timeIntervalSince(started), tagCounts: counts)
        summary.soundFontCounts = fontSet.fonts.map { font -> (path: String, tracks: Int) in
            (font.path, plans.filter { $0.soundFonts.contains(font.path) }.count)
        }
        summary.productionPath = productionPath
        return summary
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

    private func startWorker(queue: RenderQueue, plans: [TrackPlan]) {
        let options = self.options
        let thread = Thread {
            defer { queue.workerExited() }
            while let index = queue.next() {
                let plan = plans[index]
                do throws(DemoCorpusError) {
                    let synth = try SoundFontSynth(soundFontPaths: plan.soundFonts, sampleRate: options.sampleRate)
                    try CorpusWriter.renderTrack(plan, synth: synth, directory: options.outputDirectory, seed: options.seed)
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
    static func renderTrack(_ plan: TrackPlan, synth: SoundFontSynth, directory: String, seed: UInt64) throws(DemoCorpusError) {
        var samples = synth.render(plan.composition)
        Mastering.master(&samples, sampleRate: synth.sampleRate, loudness: plan.composition.loudness, production: plan.production,
                         noise: SeededGenerator(seed: seed, track: plan.index, stream: CorpusWriter.noiseStream))
        // AudioWriter writes a temporary file beside `path` and renames it over `path`.
        do {
            try AudioWriter.write(samples, sampleRate: synth.sampleRate, channels: 2, to: directory + "/" + plan.relativePath,
                                  format: plan.format, quality: plan.quality)
        } catch {
            throw .audio(error)
        }
    }
}
