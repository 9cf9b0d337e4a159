import AudioIO
import Dispatch
import Features
import Foundation

/// `timbre prepare`: turns a folder of audio files and their labels into a `ChunkCache`:
/// decodes on all cores, computes log-mel chunks, records files that fail (with their error)
/// without stopping, and makes a multi-label stratified train/val/test split of the tracks.
/// Running it again on the same output directory resumes: prepared and failed files are skipped.
public struct PrepareOptions: Sendable {
    public var audioDirectory: String
    public var outputDirectory: String
    public var labels: LabelSource
    public var spectrogram = SpectrogramConfig()
    public var chunking = ChunkingConfig(frames: 128, hop: 128)
    /// train, val, test shares.
    public var splits = [0.8, 0.1, 0.1]
    public var seed: UInt64 = 42
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// With `enabled`, augmented variants of the training tracks are rendered after the split.
    public var audioAugmentation = AudioAugmentationConfig()
    /// Soft-label CSVs (`SoftLabelTable`): distillation targets; their files that have no hard
    /// labels are prepared as tracks whose hard tags are unknown.
    public var softLabels: [String] = []

    public init(audioDirectory: String, outputDirectory: String, labels: LabelSource) {
        self.audioDirectory = audioDirectory; self.outputDirectory = outputDirectory; self.labels = labels
    }
}

public struct PrepareSummary: Sendable {
    public var prepared: Int
    public var failed: [FailedTrack]
    public var skipped: Int
    public var labels: [String]
    public var splitSizes: [String: Int]
    public var variants = VariantSummary()
    /// The soft tags (empty without `--soft-labels`).
    public var softLabels: [String] = []
}

public enum CorpusPreparer {
    public static let splitNames = ["train", "val", "test"]

    public static func run(_ options: PrepareOptions, progress: @escaping @Sendable (_ done: Int, _ total: Int, _ failed: Int) -> Void,
                           variantProgress: (@Sendable (_ done: Int, _ total: Int, _ failed: Int) -> Void)? = nil) throws -> PrepareSummary {
        if options.audioAugmentation.enabled { try AudioVariantRenderer.check(options.audioAugmentation) }  // before hours of decoding
        let files = try audioFiles(under: options.audioDirectory)
        var labelled: [LabeledTrack]
        switch options.labels {
        case .csv(let path): labelled = try LabelTable.read(csvAt: path, audioDirectory: options.audioDirectory)
        case .folders: labelled = try LabelTable.fromFolders(audioDirectory: options.audioDirectory, files: files)
        case .fileTags: labelled = files.map { LabeledTrack(path: $0, tags: []) }  // read while decoding
        }
        let soft = try softLabels(options, labelled: &labelled)
        let spectrogram = try LogMelSpectrogram(options.spectrogram)
        let writer = try ChunkCacheWriter(directory: options.outputDirectory,
                                          chunkShape: [options.spectrogram.nMels, options.chunking.frames],
                                          frontEnd: json(options.spectrogram))
        let todo = labelled.filter { !writer.contains($0.path) }
        let shared = PreparationState(writer: writer, total: todo.count)
        let workers = max(1, min(options.threads, todo.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let track = shared.next(from: todo) {
                let path = (options.audioDirectory as NSString).appendingPathComponent(track.path)
                do {
                    var tags = track.tags
                    if options.labels == .fileTags {
                        let genre = try AudioMetadata.read(path: path).genre ?? ""
                        tags = LabelTable.uniqueTags(genre.split(whereSeparator: { ";,/".contains($0) }).map { normalizeTag(String($0)) })
                        if tags.isEmpty { throw PrepareError.noGenreTag }
                    }
                    var decode = DecodeOptions()
                    decode.targetSampleRate = options.spectrogram.sampleRate
                    let audio = try AudioDecoder.decode(path: path, options: decode)
                    let batch = try Chunker.batch(of: try spectrogram.logMel(audio.samples), config: options.chunking)
                    guard batch.count > 0 else { throw PrepareError.tooShort }
                    let duration = Double(audio.samples.count) / Double(options.spectrogram.sampleRate)
                    try shared.append(path: track.path, tags: tags, duration: duration, chunks: batch.values)
                } catch {
                    shared.fail(path: track.path, error: "\(error)")
                }
                let (done, failed) = shared.counts
                progress(done, todo.count, failed)
            }
        }
        if let error = shared.writeError { throw error }
        try writer.flush()

        // Vocabulary and split over every prepared track, sorted by path so the split does not
        // depend on which thread finished first.
        let tracks = writer.index.tracks.sorted { $0.path < $1.path }
        let vocabulary = Set(tracks.flatMap(\.tags)).sorted()
        if let soft, case let clash = Set(soft.labels).intersection(vocabulary), !clash.isEmpty {
            throw LabelError(file: options.softLabels.joined(separator: ", "), problems: clash.sorted().map {
                "the soft tag \($0) is also a hard tag; soft tags are separate outputs, so give them a prefix (timbre soft-labels --prefix)"
            })
        }
        let position = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        let assignment = IterativeStratification.split(
            labels: tracks.map { $0.tags.compactMap { position[$0] } }, proportions: options.splits, seed: options.seed)
        var splits: [String: String] = [:]
        for (track, subset) in zip(tracks, assignment) { splits[track.path] = splitNames[subset] }
        try writer.finish(labels: vocabulary, splits: splits, soft: soft)
        var sizes: [String: Int] = [:]
        for name in splits.values { sizes[name, default: 0] += 1 }
        var summary = PrepareSummary(prepared: writer.index.tracks.count, failed: writer.index.failures,
                                     skipped: labelled.count - todo.count, labels: vocabulary, splitSizes: sizes,
                                     softLabels: soft?.labels ?? [])
        if options.audioAugmentation.enabled {
            summary.variants = try AudioVariantRenderer.render(options, writer: writer, spectrogram: spectrogram,
                                                               progress: variantProgress ?? { _, _, _ in })
        }
        return summary
    }

    /// The merged soft-label files (nil when none are given); their paths that have no hard
    /// labels join `labelled` with no tags. Every path must name a file under the audio directory.
    static func softLabels(_ options: PrepareOptions, labelled: inout [LabeledTrack]) throws -> SoftLabelTable? {
        guard !options.softLabels.isEmpty else { return nil }
        var tables: [(file: String, table: SoftLabelTable)] = []
        for file in options.softLabels { tables.append((file, try SoftLabelTable.read(csvAt: file))) }
        let soft = try SoftLabelTable.merged(tables)
        let missing = soft.rows.keys.filter {
            !FileManager.default.fileExists(atPath: (options.audioDirectory as NSString).appendingPathComponent($0))
        }.sorted()
        guard missing.isEmpty else {
            throw LabelError(file: options.softLabels.joined(separator: ", "), problems: missing.map { "\($0) is not a file under \(options.audioDirectory)" })
        }
        let known = Set(labelled.map(\.path))
        labelled += soft.rows.keys.filter { !known.contains($0) }.sorted().map { LabeledTrack(path: $0, tags: []) }
        return soft
    }

    /// Supported audio files under `directory`, relative paths, sorted; hidden files skipped.
    public static func audioFiles(under directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrepareError.notADirectory(directory)
        }
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else { return [] }
        var files: [String] = []
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in walker where AudioDecoder.supportedExtensions.contains(url.pathExtension.lowercased()) {
            let path = url.standardizedFileURL.path
            if path.hasPrefix(prefix) { files.append(String(path.dropFirst(prefix.count))) }
        }
        return files.sorted()
    }
}

public enum PrepareError: Error, CustomStringConvertible {
    case notADirectory(String)
    case noGenreTag
    case tooShort

    public var description: String {
        switch self {
        case .notADirectory(let path): return "\(path) is not a directory of audio files"
        case .noGenreTag: return "the file has no genre tag (use --labels FILE.csv or --labels-from folders)"
        case .tooShort: return "too short for one spectrogram chunk"
        }
    }
}

/// The state the preparing threads share, behind one lock.
private final class PreparationState: @unchecked Sendable {
    private let lock = NSLock()
    private let writer: ChunkCacheWriter
    private var cursor = 0
    private var done = 0
    private var failures = 0
    private(set) var writeError: Error?

    init(writer: ChunkCacheWriter, total: Int) { self.writer = writer }

    func next(from list: [LabeledTrack]) -> LabeledTrack? {
        lock.lock(); defer { lock.unlock() }
        guard cursor < list.count, writeError == nil else { return nil }
        cursor += 1
        return list[cursor - 1]
    }

    func append(path: String, tags: [String], duration: Double, chunks: [Float]) throws {
        lock.lock(); defer { lock.unlock() }
        do { try writer.append(path: path, tags: tags, duration: duration, chunks: chunks) } catch {
            writeError = error  // a disk problem stops the run; a bad file does not
            throw error
        }
        done += 1
    }

    func fail(path: String, error: String) {
        lock.lock(); defer { lock.unlock() }
        do { try writer.recordFailure(path: path, error: error) } catch { writeError = error }
        done += 1
        failures += 1
    }

    var counts: (Int, Int) { lock.lock(); defer { lock.unlock() }; return (done, failures) }
}
