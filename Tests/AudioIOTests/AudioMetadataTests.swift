import CTagLib
import XCTest
@testable import AudioIO

/// Tags are written with TagLib's C API here, independently of the reader under test.
final class AudioMetadataTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func tag(_ path: String, title: String, artist: String, album: String, genre: String, year: UInt32, track: UInt32) throws {
        let file = try XCTUnwrap(taglib_file_new(path), "TagLib cannot open \(path)")
        defer { taglib_file_free(file) }
        let tag = try XCTUnwrap(taglib_file_tag(file))
        taglib_tag_set_title(tag, title)
        taglib_tag_set_artist(tag, artist)
        taglib_tag_set_album(tag, album)
        taglib_tag_set_genre(tag, genre)
        taglib_tag_set_year(tag, year)
        taglib_tag_set_track(tag, track)
        XCTAssertEqual(taglib_file_save(file), 1)
    }

    func testReadsTagsAndStreamPropertiesPerFormat() throws {
        let stereo = zip(TestAudio.chord(sampleRate: 44100, seconds: 2), TestAudio.chord(sampleRate: 44100, seconds: 2)).flatMap { [$0, $1] }
        for format in [AudioFileFormat.mp3, .flac, .ogg] {
            let path = directory.appendingPathComponent("song.\(format.rawValue)").path
            try AudioWriter.write(stereo, sampleRate: 44100, channels: 2, to: path)
            try tag(path, title: "Blue in Green", artist: "Miles Davis", album: "Kind of Blue", genre: "Jazz", year: 1959, track: 3)
            let metadata = try AudioMetadata.read(path: path)
            XCTAssertEqual(metadata.title, "Blue in Green", "\(format)")
            XCTAssertEqual(metadata.artist, "Miles Davis")
            XCTAssertEqual(metadata.album, "Kind of Blue")
            XCTAssertEqual(metadata.genre, "Jazz")
            XCTAssertEqual(metadata.year, 1959)
            XCTAssertEqual(metadata.trackNumber, 3)
            XCTAssertEqual(metadata.format, format.rawValue)
            XCTAssertEqual(metadata.sampleRate, 44100)
            XCTAssertEqual(metadata.channels, 2)
            XCTAssertEqual(metadata.duration, 2, accuracy: 0.01, "\(format)")
            XCTAssertGreaterThan(metadata.bitrate ?? 0, 0, "\(format)")
        }
    }

    func testAlbumArtistComesFromThePropertyMapWhereTagLibHasOne() throws {
        let path = directory.appendingPathComponent("va.flac").path
        try AudioWriter.write(TestAudio.chord(sampleRate: 22050, seconds: 0.5), sampleRate: 22050, to: path)
        try tag(path, title: "T", artist: "A", album: "B", genre: "C", year: 2001, track: 2)
        typealias Set = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void
        if let symbol = dlsym(nil, "taglib_property_set") {  // TagLib ≥ 2
            let file = try XCTUnwrap(taglib_file_new(path))
            unsafeBitCast(symbol, to: Set.self)(UnsafeMutableRawPointer(file), "ALBUMARTIST", "Various Artists")
            XCTAssertEqual(taglib_file_save(file), 1)
            taglib_file_free(file)
            XCTAssertEqual(try AudioMetadata.read(path: path).albumArtist, "Various Artists")
        } else {  // TagLib 1.x (Debian 12): no accessor, so nothing may be invented.
            XCTAssertNil(try AudioMetadata.read(path: path).albumArtist)
            XCTAssertEqual(try AudioMetadata.read(path: path).artist, "A")
        }
    }

    func testUntaggedFilesStillGiveStreamPropertiesEvenWithAWrongExtension() throws {
        let path = directory.appendingPathComponent("plain.mp3").path  // actually WAV
        try AudioWriter.write(TestAudio.sine(frequency: 440, sampleRate: 16000, seconds: 1.5), sampleRate: 16000, to: path, format: .wav)
        let metadata = try AudioMetadata.read(path: path)
        XCTAssertNil(metadata.title)
        XCTAssertNil(metadata.year)
        XCTAssertEqual(metadata.format, "wav")
        XCTAssertEqual(metadata.sampleRate, 16000)
        XCTAssertEqual(metadata.channels, 1)
        XCTAssertEqual(metadata.duration, 1.5, accuracy: 1e-9)
        // 16-bit mono at 16 kHz: 256 kbit/s.
        XCTAssertEqual(Double(metadata.bitrate ?? 0), 256, accuracy: 2)
        // Codable round trip (the API sends it as JSON).
        let json = try JSONEncoder().encode(metadata)
        XCTAssertEqual(try JSONDecoder().decode(AudioMetadata.self, from: json), metadata)
    }

    func testBadFilesThrow() {
        let path = directory.appendingPathComponent("text.flac").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("hello".utf8))
        XCTAssertThrowsError(try AudioMetadata.read(path: path))
        XCTAssertThrowsError(try AudioMetadata.read(path: directory.appendingPathComponent("missing.mp3").path))
    }

    func testConcurrentReadsAreSafe() throws {
        let path = directory.appendingPathComponent("c.flac").path
        try AudioWriter.write(TestAudio.chord(sampleRate: 22050, seconds: 0.5), sampleRate: 22050, to: path)
        try tag(path, title: "Concurrent", artist: "A", album: "B", genre: "C", year: 2000, track: 1)
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var titles: [String?] = []
            func add(_ title: String?) { lock.lock(); titles.append(title); lock.unlock() }
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 32) { _ in
            results.add(try? AudioMetadata.read(path: path).title)
        }
        let titles = results.titles
        XCTAssertEqual(Array(titles), [String?](repeating: "Concurrent", count: 32))
    }
}
