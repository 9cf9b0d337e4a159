import AudioIO
@testable import Catalog
import CTagLib
import Foundation
import Service
@testable import Writeback
import XCTest

/// `timbre writeback` against a real catalog: tags go into FLAC, MP3 (ID3v2), Ogg Vorbis and WAV
/// files made here, the audio stays byte for byte what it was, a rescan sees nothing new, and
/// every refusal and failure leaves the file as it was.
final class WritebackTests: XCTestCase {
    private var root: URL!
    private let names = ["a.flac", "b.mp3", "c.ogg", "d.wav"]

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory("timbre-writeback")
    }

    override func tearDownWithError() throws {
        TagFileWriter.beforeRename = nil
        chmod(root.path, 0o755)
        try? FileManager.default.removeItem(at: root)
    }

    // MARK: Fixtures

    /// Half a second of a stereo chord (the channels differ), with a title set through TagLib's C API.
    private func writeFile(_ name: String, title: String = "Song", genre: String? = nil) throws {
        let rate = 44100, frames = rate / 2
        var samples = [Float](repeating: 0, count: frames * 2)
        for i in 0..<frames {
            let t = Float(i) / Float(rate)
            samples[2 * i] = 0.3 * sin(2 * .pi * 220 * t) + 0.1 * sin(2 * .pi * 660 * t)
            samples[2 * i + 1] = 0.3 * sin(2 * .pi * 330 * t)
        }
        let path = root.appendingPathComponent(name).path
        try AudioWriter.write(samples, sampleRate: rate, channels: 2, to: path)
        let file = try XCTUnwrap(taglib_file_new(path), "TagLib cannot open \(path)")
        defer { taglib_file_free(file) }
        let tag = try XCTUnwrap(taglib_file_tag(file))
        taglib_tag_set_title(tag, title)
        if let genre { taglib_tag_set_genre(tag, genre) }
        XCTAssertEqual(taglib_file_save(file), 1)
    }

    private func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    private func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name)))) }

    /// The bytes of the encoded audio only: FLAC after its metadata blocks, MP3 after its ID3v2
    /// tag (and before an ID3v1 one), WAV's `data` chunk; nil for Ogg (its pages are renumbered).
    private func audioBytes(_ name: String) throws -> [UInt8]? {
        let data = try bytes(name)
        switch (name as NSString).pathExtension {
        case "flac":
            XCTAssertEqual(Array(data[0..<4]), Array("fLaC".utf8))
            var offset = 4
            while true {
                let header = data[offset]
                let length = Int(data[offset + 1]) << 16 | Int(data[offset + 2]) << 8 | Int(data[offset + 3])
                offset += 4 + length
                if header & 0x80 != 0 { break }
            }
            return Array(data[offset...])
        case "mp3":
            var start = 0
            if data.count > 10, Array(data[0..<3]) == Array("ID3".utf8) {
                let size = (0..<4).reduce(0) { $0 << 7 | Int(data[6 + $1] & 0x7F) }
                start = 10 + size + (data[5] & 0x10 != 0 ? 10 : 0)
            }
            var end = data.count
            if end >= 128, Array(data[(end - 128)..<(end - 125)]) == Array("TAG".utf8) { end -= 128 }
            return Array(data[start..<end])
        case "wav":
            var offset = 12
            while offset + 8 <= data.count {
                let id = String(decoding: data[offset..<(offset + 4)], as: UTF8.self)
                let size = (0..<4).reduce(0) { $0 | Int(data[offset + 4 + $1]) << (8 * $1) }
                if id == "data" { return Array(data[(offset + 8)..<(offset + 8 + size)]) }
                offset += 8 + size + (size & 1)
            }
            XCTFail("no data chunk in \(name)")
            return nil
        default:
            return nil
        }
    }

    private func pcm(_ name: String) throws -> DecodedAudio {
        try AudioDecoder.decode(path: path(name), options: DecodeOptions(targetSampleRate: nil))
    }

    private func folderListing() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
    }

    private struct Scene {
        let database: TestDatabase
        let library: Library
        let model: ModelVersion
        let ids: [String: Int64]
    }

    /// Scans the folder, registers an active model with predictions for every track (rock 0.9,
    /// electric-guitar 0.85, jazz 0.3) and, for a.flac, the owner's corrections (+ambient,
    /// -electric-guitar).
    private func scene(enable: Bool = true) throws -> Scene {
        let database = try TestDatabase()
        let library = try database.makeLibrary(root: root.path)
        let report = try Crawler(pool: database.pool, metadataReader: FileTagReader.read).scan(library: library)
        XCTAssertEqual(report.skipped.map(\.message), [])
        let models = ModelRepository(pool: database.pool)
        let model = try models.register(version: "v1", filePath: "m.safetensors", labels: ["rock", "electric-guitar", "jazz"])
        try models.promote(id: model.id)
        var ids: [String: Int64] = [:]
        for track in try TrackRepository(pool: database.pool).tracks(libraryID: library.id) {
            ids[track.path] = track.id
            try PredictionStore(pool: database.pool).write(trackID: track.id, modelID: model.id,
                                                           probabilities: ["rock": 0.9, "electric-guitar": 0.85, "jazz": 0.3],
                                                           embedding: [0.6, 0.8])
        }
        if let flac = ids["a.flac"] {
            _ = try CorrectionRepository(pool: database.pool).record(trackID: flac, userID: library.ownerID,
                                                                     add: ["ambient"], remove: ["electric-guitar"])
        }
        if enable { try WritebackRepository(pool: database.pool).setEnabled(libraryID: library.id, true) }
        return Scene(database: database, library: library, model: model, ids: ids)
    }

    private func options(_ field: TagField = .genre, minProbability: Float = 0.8, replace: Bool = false, undo: Bool = false) throws -> WritebackOptions {
        WritebackOptions(field: field, minProbability: minProbability, format: try TagValueFormat(), replace: replace, undo: undo)
    }

    private func jobCount(_ database: TestDatabase) throws -> Int64 {
        try database.pool.withConnection { try $0.query("SELECT count(*) FROM jobs").int(0, 0) }
    }

    // MARK: Tests

    func testWritebackWritesTagsKeepsAudioAndARescanChangesNothing() throws {
        for name in names { try writeFile(name, title: "Title of \(name)") }
        // Mode and (where this test may give files away) owner are kept.
        XCTAssertEqual(chmod(path("d.wav"), 0o640), 0)
        let givesAway = geteuid() == 0 && chown(path("d.wav"), 1234, 2345) == 0
        let scene = try scene()
        defer { scene.database.drop() }
        let writeback = LibraryWriteback(pool: scene.database.pool)
        var before: [String: (bytes: [UInt8], audio: [UInt8]?, pcm: DecodedAudio)] = [:]
        for name in names { before[name] = (try bytes(name), try audioBytes(name), try pcm(name)) }

        let plan = try writeback.plan(library: scene.library, options: options())
        XCTAssertEqual(plan.skipped, [])
        let expected = ["a.flac": "Timbre: ambient; rock", "b.mp3": "Timbre: rock; electric-guitar",
                        "c.ogg": "Timbre: rock; electric-guitar", "d.wav": "Timbre: rock; electric-guitar"]
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: plan.writes.map { ($0.path, $0.new) }), expected.mapValues { [$0] })
        XCTAssertEqual(plan.writes.map(\.old), [[], [], [], []])
        // Planning (what --dry-run prints) writes nothing.
        for name in names { XCTAssertEqual(try bytes(name), before[name]?.bytes, name) }

        let corrected = try writeback.plan(library: scene.library, options: WritebackOptions(
            format: try TagValueFormat("{tags}"), includeCorrectedOnly: true))
        XCTAssertEqual(corrected.writes.map(\.path), ["a.flac"], "--include-corrected-only")
        XCTAssertEqual(corrected.writes.first?.new, ["ambient; rock"], "--format")

        let jobsBefore = try jobCount(scene.database)
        let report = writeback.apply(plan, library: scene.library)
        XCTAssertEqual(report.failed, [])
        XCTAssertEqual(report.written, 4)
        XCTAssertEqual(try folderListing(), names, "no temporary file is left behind")
        var wav = stat()
        XCTAssertEqual(stat(path("d.wav"), &wav), 0)
        XCTAssertEqual(wav.st_mode & 0o7777, 0o640)
        if givesAway { XCTAssertEqual([wav.st_uid, wav.st_gid], [1234, 2345]) }

        let tracks = TrackRepository(pool: scene.database.pool)
        for name in names {
            let metadata = try AudioMetadata.read(path: path(name))
            XCTAssertEqual(metadata.genre, expected[name], "\(name): the genre reads back through the read path")
            XCTAssertEqual(metadata.title, "Title of \(name)", "\(name): the other tags are kept")
            let decoded = try pcm(name)
            XCTAssertEqual(decoded.samples, before[name]?.pcm.samples, "\(name): the audio decodes identically")
            XCTAssertEqual(decoded.sourceChannels, 2)
            if let audio = before[name]?.audio { XCTAssertEqual(try audioBytes(name), audio, "\(name): the encoded audio bytes are unchanged") }
            XCTAssertNotEqual(try bytes(name), before[name]?.bytes, "\(name): the file did change")

            // The track row already describes the new file (what the crawler would compute).
            let track = try XCTUnwrap(try tracks.track(libraryID: scene.library.id, path: name))
            var info = stat()
            XCTAssertEqual(stat(path(name), &info), 0)
            XCTAssertEqual(track.size, Int64(info.st_size))
            XCTAssertEqual(track.mtimeNanoseconds, Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
            var hasher = ContentHash()
            XCTAssertEqual(track.contentHash, try hasher.hash(path: path(name), libraryRoot: root.path).digest)
            XCTAssertEqual(track.metadata.genre, expected[name])
            let history = try WritebackRepository(pool: scene.database.pool).history(trackID: track.id)
            XCTAssertEqual(history.map(\.action), [.write])
            XCTAssertEqual(history.first?.value, expected[name].map { [$0] })
            XCTAssertEqual(history.first?.previousValue, [])
            XCTAssertEqual(history.first?.size, track.size)
        }

        // A rescan sees four unchanged files: no job, same ids, predictions and embeddings kept.
        let rescan = try Crawler(pool: scene.database.pool, metadataReader: FileTagReader.read).scan(library: scene.library)
        XCTAssertEqual(rescan.unchanged, 4)
        XCTAssertEqual(rescan.changed + rescan.added + rescan.moved + rescan.retouched + rescan.jobsQueued, 0)
        XCTAssertEqual(try jobCount(scene.database), jobsBefore)
        let store = PredictionStore(pool: scene.database.pool)
        for name in names {
            let track = try XCTUnwrap(try tracks.track(libraryID: scene.library.id, path: name))
            XCTAssertEqual(track.id, scene.ids[name])
            XCTAssertEqual(try store.probabilities(trackID: track.id, modelID: scene.model.id)["rock"], 0.9)
            XCTAssertEqual(try store.embedding(trackID: track.id, modelID: scene.model.id), [0.6, 0.8])
        }

        // A second write-back with the same tags writes nothing.
        let again = try writeback.plan(library: scene.library, options: options())
        XCTAssertEqual(again.writes.count, 0)
        XCTAssertEqual(again.unchanged, 4)

        // Undo takes Timbre's values out again (the files had no genre), audio still untouched.
        let undo = try writeback.plan(library: scene.library, options: options(undo: true))
        XCTAssertEqual(undo.writes.map(\.new), [[], [], [], []])
        XCTAssertEqual(writeback.apply(undo, library: scene.library).written, 4)
        for name in names {
            let metadata = try AudioMetadata.read(path: path(name))
            XCTAssertNil(metadata.genre, name)
            XCTAssertEqual(metadata.title, "Title of \(name)")
            XCTAssertEqual(try pcm(name).samples, before[name]?.pcm.samples, name)
        }
        XCTAssertEqual(try writeback.plan(library: scene.library, options: options(undo: true)).writes.count, 0)
        let afterUndo = try Crawler(pool: scene.database.pool).scan(library: scene.library)
        XCTAssertEqual(afterUndo.unchanged, 4)
        XCTAssertEqual(afterUndo.jobsQueued, 0)
    }

    func testOtherFieldsGoToTheirOwnPlaceInEachFormat() throws {
        for name in names { try writeFile(name) }
        let scene = try scene()
        defer { scene.database.drop() }
        let writeback = LibraryWriteback(pool: scene.database.pool)
        for field in [TagField.grouping, .comment, .custom("TIMBRE")] {
            let plan = try writeback.plan(library: scene.library, options: options(field))
            XCTAssertEqual(plan.writes.count, 4, "\(field)")
            let report = writeback.apply(plan, library: scene.library)
            XCTAssertEqual(report.failed, [], "\(field)")
            for name in names {
                let read = try TagFileWriter.currentValues(path: path(name), libraryRoot: root.path, key: field.tagKey)
                XCTAssertEqual(read.values, [name == "a.flac" ? "Timbre: ambient; rock" : "Timbre: rock; electric-guitar"], "\(name) \(field)")
                XCTAssertNil(try AudioMetadata.read(path: path(name)).genre, "\(name): \(field) is not the genre")
            }
            XCTAssertEqual(try writeback.plan(library: scene.library, options: options(field)).writes.count, 0)
        }
    }

    func testTheUsersOwnValueIsKeptUnlessReplaceAndUndoRestoresIt() throws {
        try writeFile("a.flac", genre: "Post-Rock")
        try writeFile("b.mp3", genre: "Shoegaze")
        let scene = try scene()
        defer { scene.database.drop() }
        let writeback = LibraryWriteback(pool: scene.database.pool)
        let original = try bytes("a.flac")

        let plan = try writeback.plan(library: scene.library, options: options())
        XCTAssertEqual(plan.writes.count, 0)
        XCTAssertEqual(plan.skipped.count, 2)
        XCTAssertTrue(plan.skipped.allSatisfy { $0.reason.contains("holds its own value") && $0.reason.contains("--replace") }, "\(plan.skipped)")
        XCTAssertEqual(writeback.apply(plan, library: scene.library).written, 0)
        XCTAssertEqual(try bytes("a.flac"), original)

        let replacing = try writeback.plan(library: scene.library, options: options(replace: true))
        XCTAssertEqual(replacing.writes.map(\.old), [["Post-Rock"], ["Shoegaze"]])
        XCTAssertEqual(writeback.apply(replacing, library: scene.library).written, 2)
        XCTAssertEqual(try AudioMetadata.read(path: path("a.flac")).genre, "Timbre: ambient; rock")
        let id = try XCTUnwrap(scene.ids["a.flac"])
        XCTAssertEqual(try WritebackRepository(pool: scene.database.pool).history(trackID: id).map(\.previousValue), [["Post-Rock"]])

        // A later write over Timbre's own value needs no --replace and still remembers the user's.
        let lower = try writeback.plan(library: scene.library, options: options(minProbability: 0.2))
        XCTAssertEqual(lower.writes.map(\.new), [["Timbre: ambient; rock; jazz"], ["Timbre: rock; electric-guitar; jazz"]])
        XCTAssertEqual(lower.writes.map(\.previous), [["Post-Rock"], ["Shoegaze"]])
        XCTAssertEqual(writeback.apply(lower, library: scene.library).written, 2)

        let undo = try writeback.plan(library: scene.library, options: options(undo: true))
        XCTAssertEqual(writeback.apply(undo, library: scene.library).written, 2)
        XCTAssertEqual(try AudioMetadata.read(path: path("a.flac")).genre, "Post-Rock")
        XCTAssertEqual(try AudioMetadata.read(path: path("b.mp3")).genre, "Shoegaze")
    }

    func testRefusalsAndFailuresLeaveTheFileAsItWas() throws {
        for name in ["a.flac", "b.mp3"] { try writeFile(name) }
        // Its temporary name is over NAME_MAX (AudioWriter's own temporary would be too: renamed).
        let longName = String(repeating: "x", count: 240) + ".flac"
        try writeFile("long.flac")
        XCTAssertEqual(rename(path("long.flac"), path(longName)), 0)
        let scene = try scene(enable: false)
        defer { scene.database.drop() }
        let writeback = LibraryWriteback(pool: scene.database.pool)

        // Not switched on: refused, naming the command that switches it on.
        XCTAssertThrowsError(try writeback.plan(library: scene.library, options: options())) { error in
            XCTAssertEqual(error as? WritebackError, .notEnabled(libraryID: scene.library.id, root: scene.library.rootPath))
            XCTAssertTrue("\(error)".contains("timbre library set \(scene.library.id) --writeback on"), "\(error)")
        }
        try WritebackRepository(pool: scene.database.pool).setEnabled(libraryID: scene.library.id, true)
        let before = try Dictionary(uniqueKeysWithValues: ["a.flac", "b.mp3", longName].map { ($0, try bytes($0)) })
        let tracksBefore = try TrackRepository(pool: scene.database.pool).tracks(libraryID: scene.library.id)

        // A failure just before the rename: nothing replaced, nothing recorded, no temporary file.
        TagFileWriter.beforeRename = { (path: String) throws(WritebackError) in throw WritebackError.fileFailed(path: path, reason: "injected failure") }
        let plan = try writeback.plan(library: scene.library, options: options())
        XCTAssertEqual(plan.writes.count, 3)
        let failed = writeback.apply(plan, library: scene.library)
        XCTAssertEqual(failed.written, 0)
        XCTAssertEqual(failed.failed.count, 3)
        XCTAssertTrue(failed.failed.filter { $0.path != longName }.allSatisfy { $0.reason.contains("injected failure") }, "\(failed.failed)")
        // The long name fails earlier, at the temporary file (as an unwritable folder would).
        XCTAssertTrue(try XCTUnwrap(failed.failed.first { $0.path == longName }).reason.contains("cannot create a temporary file"))
        TagFileWriter.beforeRename = nil
        for (name, content) in before { XCTAssertEqual(try bytes(name), content, name) }
        XCTAssertEqual(try folderListing(), ["a.flac", "b.mp3", longName].sorted())
        XCTAssertEqual(try TrackRepository(pool: scene.database.pool).tracks(libraryID: scene.library.id), tracksBefore)
        for id in scene.ids.values { XCTAssertEqual(try WritebackRepository(pool: scene.database.pool).history(trackID: id), []) }

        // An unwritable folder (root ignores the mode, so only as another user).
        if geteuid() != 0 {
            chmod(root.path, 0o555)
            let refused = writeback.apply(try writeback.plan(library: scene.library, options: options()), library: scene.library)
            chmod(root.path, 0o755)
            XCTAssertEqual(refused.written, 0)
            for (name, content) in before { XCTAssertEqual(try bytes(name), content, name) }
        }

        // Changed since the scan (mtime moved): refused when planning…
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, path("a.flac"), &times, 0), 0)
        let changed = try writeback.plan(library: scene.library, options: options())
        XCTAssertEqual(changed.changedSinceScan, 1)
        XCTAssertTrue(try XCTUnwrap(changed.skipped.first { $0.path == "a.flac" }).reason.contains("changed since the last scan"))
        XCTAssertFalse(changed.writes.contains { $0.path == "a.flac" })

        // …and when it changes between the plan and the write.
        let fresh = try writeback.plan(library: scene.library, options: options())
        let mp3 = try XCTUnwrap(fresh.writes.first { $0.path == "b.mp3" })
        XCTAssertEqual(utimensat(AT_FDCWD, path("b.mp3"), &times, 0), 0)
        var onlyMP3 = fresh
        onlyMP3.writes = [mp3]
        let late = writeback.apply(onlyMP3, library: scene.library)
        XCTAssertEqual(late.written, 0)
        XCTAssertTrue(try XCTUnwrap(late.failed.first).reason.contains("changed since the last scan"), "\(late.failed)")
        XCTAssertEqual(try bytes("b.mp3"), before["b.mp3"])
    }

    /// The check before a rename compares every channel: channels swapped mix to the same mono
    /// signal but are not the same audio.
    func testAudioComparisonSeesEveryChannel() throws {
        let rate = 22050, frames = 8000
        func write(_ name: String, swapped: Bool) throws {
            var samples = [Float](repeating: 0, count: 2 * frames)
            for i in 0..<frames {
                let left = 0.3 * sin(2 * Float.pi * 220 * Float(i) / Float(rate)), right = 0.2 * sin(2 * Float.pi * 470 * Float(i) / Float(rate))
                samples[2 * i] = swapped ? right : left
                samples[2 * i + 1] = swapped ? left : right
            }
            try AudioWriter.write(samples, sampleRate: rate, channels: 2, to: path(name))
        }
        try write("one.flac", swapped: false)
        try write("swapped.flac", swapped: true)
        try writeFile("tagged.flac")
        XCTAssertEqual(try pcm("one.flac").samples, try pcm("swapped.flac").samples, "the mono mixes agree")
        XCTAssertFalse(try AudioDecoder.decodeIdentically(ReadOnlyFile(path: path("one.flac")), ReadOnlyFile(path: path("swapped.flac"))))
        XCTAssertTrue(try AudioDecoder.decodeIdentically(ReadOnlyFile(path: path("one.flac")), ReadOnlyFile(path: path("one.flac"))))
        XCTAssertFalse(try AudioDecoder.decodeIdentically(ReadOnlyFile(path: path("one.flac")), ReadOnlyFile(path: path("tagged.flac"))))
    }

    /// The commands: `library set`, `writeback` refused while off, `--dry-run`, the write, and
    /// "0 files to write" the second time.
    func testCommandLine() throws {
        try writeFile("a.flac")
        try writeFile("b.mp3")
        let scene = try scene(enable: false)
        defer { scene.database.drop() }
        var components = try XCTUnwrap(URLComponents(string: scene.database.url))
        components.path = "/" + scene.database.name
        let url = try XCTUnwrap(components.string)
        let binary = try WorkerTests.timbreBinary().path
        func timbre(_ arguments: String...) throws -> ChildProcess {
            try ChildProcess.run([binary] + arguments + ["--database-url", url])
        }
        let id = "\(scene.library.id)"
        let original = try bytes("a.flac")

        let off = try timbre("writeback", id)
        XCTAssertNotEqual(off.status, 0)
        XCTAssertTrue(off.errors.contains("timbre library set \(id) --writeback on"), off.errors)

        let set = try timbre("library", "set", id, "--writeback", "on")
        XCTAssertEqual(set.status, 0, set.errors)

        let dry = try timbre("writeback", id, "--dry-run")
        XCTAssertEqual(dry.status, 0, dry.errors)
        XCTAssertTrue(dry.output.contains("2 files to write"), dry.output)
        XCTAssertTrue(dry.output.contains("a.flac: genre (none) → \"Timbre: ambient; rock\""), dry.output)
        XCTAssertEqual(try bytes("a.flac"), original, "a dry run writes nothing")

        let write = try timbre("writeback", id, "--min-probability", "0.8")
        XCTAssertEqual(write.status, 0, write.output + write.errors)
        XCTAssertTrue(write.output.contains("2 files written, 0 failed"), write.output)
        XCTAssertEqual(try AudioMetadata.read(path: path("b.mp3")).genre, "Timbre: rock; electric-guitar")

        let second = try timbre("writeback", id)
        XCTAssertEqual(second.status, 0, second.errors)
        XCTAssertTrue(second.output.contains("0 files to write"), second.output)

        let bad = try timbre("writeback", id, "--field", "mood")
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.errors.contains("genre, grouping, comment or custom:NAME"), bad.errors)
    }
}
