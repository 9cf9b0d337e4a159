import XCTest
@testable import DemoCorpus

final class CorpusWriterTests: XCTestCase {
    private var directories: [String] = []

    private func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("democorpus-\(UUID().uuidString)").path
        directories.append(path)
        return path
    }

    override func tearDown() {
        for directory in directories { try? FileManager.default.removeItem(atPath: directory) }
        directories = []
    }

    /// Two fonts that load fast (FluidR3Mono's compressed samples take seconds; the default set is tested in SoundFontSetTests).
    private func options(_ directory: String, tracks: Int, seed: UInt64 = 4) -> DemoCorpusOptions {
        DemoCorpusOptions(outputDirectory: directory, trackCount: tracks, seed: seed, durationRange: 3...4,
                          soundFontPaths: [TestFonts.fluidGM, TestFonts.csound], threads: 2)
    }

    private func labels(_ directory: String) throws -> [LabelsFile.Row] {
        let text = try String(contentsOfFile: directory + "/labels.csv", encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("path,tags\n"))
        return try LabelsFile.parse(text, path: "labels.csv")
    }

    /// The container a file really is, from its first bytes.
    private func container(_ path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "unreadable" }
        defer { try? handle.close() }
        let bytes = [UInt8](handle.readData(ofLength: 4))
        guard bytes.count == 4 else { return "empty" }
        switch (bytes[0], bytes[1], bytes[2], bytes[3]) {
        case (0x52, 0x49, 0x46, 0x46): return "wav"
        case (0x66, 0x4C, 0x61, 0x43): return "flac"
        case (0x4F, 0x67, 0x67, 0x53): return "ogg"
        case (0x49, 0x44, 0x33, _): return "mp3"
        case (0xFF, let b, _, _) where b & 0xE0 == 0xE0: return "mp3"
        default: return "unknown"
        }
    }

    func testSmallCorpusHasMixedFormatsAndLabelsListingEveryFile() throws {
        let directory = temporaryDirectory()
        var reports: [(Int, Int)] = []
        let summary = try DemoCorpus.generate(options(directory, tracks: 10)) { reports.append(($0, $1)) }
        XCTAssertEqual(summary.rendered, 10)
        XCTAssertEqual(summary.skipped, 0)
        XCTAssertEqual(reports.last?.0, 10)
        XCTAssertTrue(reports.allSatisfy { $0.1 == 10 })
        XCTAssertEqual(reports.map(\.0), reports.map(\.0).sorted())

        let rows = try labels(directory)
        XCTAssertEqual(rows.count, 10)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/audio").map { "audio/" + $0 }
        XCTAssertEqual(Set(rows.map(\.path)), Set(files), "labels.csv and the audio folder disagree")
        var containers = Set<String>()
        for row in rows {
            let ext = (row.path as NSString).pathExtension
            XCTAssertEqual(container(directory + "/" + row.path), ext, row.path)
            containers.insert(ext)
            XCTAssertFalse(row.tags.isEmpty)
            XCTAssertTrue(Set(row.tags).isSubset(of: DemoCorpus.tags), "\(row.tags)")
            XCTAssertTrue(Genre(rawValue: row.tags[0]) != nil, "first tag \(row.tags[0]) is not a genre")
            XCTAssertEqual(row.tags, DemoCorpus.tags.filter(row.tags.contains), "tags out of vocabulary order")
        }
        XCTAssertGreaterThanOrEqual(containers.count, 3, "formats: \(containers)")
        let wav = rows.first { $0.path.hasSuffix(".wav") }
        if let wav {
            // 16-bit stereo PCM: the data is 4 bytes per frame, 3–4 s at 22050 Hz.
            let size = try FileManager.default.attributesOfItem(atPath: directory + "/" + wav.path)[.size] as? Int ?? 0
            XCTAssertTrue((3 * 22050 * 4...4 * 22050 * 4 + 1000).contains(size), "\(size) bytes")
        }
        XCTAssertEqual(summary.tagCounts.map(\.tag), DemoCorpus.tags)
        XCTAssertEqual(summary.tagCounts.map(\.count).reduce(0, +), rows.map(\.tags.count).reduce(0, +))
    }

    func testSameSeedWritesTheSameLabelsAndAnotherSeedDoesNot() throws {
        let a = temporaryDirectory(), b = temporaryDirectory(), c = temporaryDirectory()
        _ = try DemoCorpus.generate(options(a, tracks: 4, seed: 30))
        _ = try DemoCorpus.generate(options(b, tracks: 4, seed: 30))
        _ = try DemoCorpus.generate(options(c, tracks: 4, seed: 31))
        XCTAssertEqual(try labels(a), try labels(b))
        XCTAssertNotEqual(try labels(a), try labels(c))
        // PCM files are byte for byte the same, whichever thread rendered which track
        // (Ogg streams carry a random serial number, so only WAV and FLAC are compared).
        let pcm = try labels(a).filter { $0.path.hasSuffix(".wav") || $0.path.hasSuffix(".flac") }
        XCTAssertFalse(pcm.isEmpty)
        for row in pcm {
            XCTAssertTrue(FileManager.default.contentsEqual(atPath: a + "/" + row.path, andPath: b + "/" + row.path), row.path)
        }
    }

    func testResumeSkipsTracksThatAreAlreadyComplete() throws {
        let directory = temporaryDirectory()
        _ = try DemoCorpus.generate(options(directory, tracks: 4))
        let rows = try labels(directory)
        let manager = FileManager.default
        func modified(_ row: LabelsFile.Row) throws -> Date? {
            try manager.attributesOfItem(atPath: directory + "/" + row.path)[.modificationDate] as? Date
        }
        let dates = try rows.map(modified)

        let again = try DemoCorpus.generate(options(directory, tracks: 4))
        XCTAssertEqual(again.rendered, 0)
        XCTAssertEqual(again.skipped, 4)
        XCTAssertEqual(try rows.map(modified), dates)
        XCTAssertEqual(try labels(directory), rows)

        // A missing file, or a file whose row is missing, is rendered again; nothing else is.
        try manager.removeItem(atPath: directory + "/" + rows[1].path)
        try LabelsFile.write(rows.filter { $0 != rows[2] }, to: directory + "/labels.csv")
        let repaired = try DemoCorpus.generate(options(directory, tracks: 4))
        XCTAssertEqual(repaired.rendered, 2)
        XCTAssertEqual(try labels(directory), rows)
        XCTAssertEqual(try modified(rows[0]), dates[0])

        // Asking for more tracks renders only the new ones.
        let grown = try DemoCorpus.generate(options(directory, tracks: 6))
        XCTAssertEqual(grown.rendered, 2)
        XCTAssertEqual(grown.skipped, 4)
        XCTAssertEqual(try labels(directory).count, 6)
        XCTAssertFalse(try manager.contentsOfDirectory(atPath: directory + "/audio").contains { $0.hasSuffix(".partial") })
    }

    func testAMinuteLongOggTrackIsWrittenFromAWorkerThread() throws {
        // libvorbis allocates on the stack in proportion to the samples written at once;
        // a rendering thread with a small stack crashed here on tracks of a minute.
        let directory = temporaryDirectory()
        var options = options(directory, tracks: 1, seed: 5)
        options.durationRange = 60...60
        options.formats = [.ogg]
        options.threads = 1
        let summary = try DemoCorpus.generate(options)
        XCTAssertEqual(summary.rendered, 1)
        XCTAssertEqual(summary.audioSeconds, 60, accuracy: 1e-9)
        let row = try XCTUnwrap(try labels(directory).first)
        XCTAssertEqual(container(directory + "/" + row.path), "ogg")
    }

    func testBadOptionsGiveClearErrors() throws {
        let directory = temporaryDirectory()
        func error(_ options: DemoCorpusOptions) -> DemoCorpusError? {
            do { _ = try DemoCorpus.generate(options); return nil } catch { return error }
        }
        guard case .invalidOptions(let reason)? = error(options(directory, tracks: 0)) else { return XCTFail("0 tracks accepted") }
        XCTAssertTrue(reason.contains("at least 1"))
        var noFormats = options(directory, tracks: 1)
        noFormats.formats = []
        XCTAssertNotNil(error(noFormats).map { if case .invalidOptions = $0 { return true }; return nil } ?? nil)
        var badRate = options(directory, tracks: 1)
        badRate.sampleRate = 12345
        guard case .invalidOptions? = error(badRate) else { return XCTFail("sample rate 12345 accepted") }

        // A directory that cannot be created (its parent is a file), even for root.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/plain-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        guard case .outputDirectory(let path, _)? = error(options(file + "/corpus", tracks: 1)) else { return XCTFail("unwritable directory accepted") }
        XCTAssertEqual(path, file + "/corpus")
        guard case .outputDirectory? = error(options(file, tracks: 1)) else { return XCTFail("a file accepted as directory") }

        var missingFont = options(directory + "/out", tracks: 1)
        missingFont.soundFontPath = directory + "/none.sf2"
        XCTAssertEqual(error(missingFont), .soundFontMissing(path: directory + "/none.sf2"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/out"), "nothing is created when the soundfont is missing")

        // A labels.csv that is not ours is left alone, with an error, rather than overwritten.
        try FileManager.default.createDirectory(atPath: directory + "/foreign", withIntermediateDirectories: true)
        try Data("name;genre\nx;y\n".utf8).write(to: URL(fileURLWithPath: directory + "/foreign/labels.csv"))
        guard case .labels? = error(options(directory + "/foreign", tracks: 1)) else { return XCTFail("foreign labels.csv overwritten") }
        XCTAssertEqual(try String(contentsOfFile: directory + "/foreign/labels.csv", encoding: .utf8), "name;genre\nx;y\n")
    }

    func testLabelsFileRoundTripsQuotedFields() throws {
        let rows = [LabelsFile.Row(path: "audio/a,b \"c\".wav", tags: ["rock", "bass"]), LabelsFile.Row(path: "audio/x.mp3", tags: [])]
        XCTAssertEqual(try LabelsFile.parse(LabelsFile.format(rows), path: "t"), rows)
        XCTAssertEqual(LabelsFile.format([LabelsFile.Row(path: "audio/t.ogg", tags: ["rock", "electric-guitar", "fast"])]),
                       "path,tags\n\"audio/t.ogg\",\"rock;electric-guitar;fast\"\n")
        XCTAssertThrowsError(try LabelsFile.parse("path,tags\n\"unterminated,x\n", path: "t"))
        XCTAssertThrowsError(try LabelsFile.parse("path,tags\na,b,c\n", path: "t"))
    }
}
