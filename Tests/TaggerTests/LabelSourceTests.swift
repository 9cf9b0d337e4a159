import Foundation
import XCTest
@testable import Tagger

final class LabelSourceTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rock"), withIntermediateDirectories: true)
        for name in ["a.wav", "b.mp3", "rock/c.flac"] {
            FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: Data([0]))
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String = "labels.csv") throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testReadsQuotedCSVAndNormalisesTags() throws {
        let file = try write("path,tags\r\na.wav,\"Rock; Hip Hop;rock\"\n\"b.mp3\",jazz\n\nrock/c.flac,\"folk;\"\"odd\"\"\"\n")
        let tracks = try LabelTable.read(csvAt: file, audioDirectory: dir.path)
        XCTAssertEqual(tracks, [
            LabeledTrack(path: "a.wav", tags: ["rock", "hip-hop"]),
            LabeledTrack(path: "b.mp3", tags: ["jazz"]),
            LabeledTrack(path: "rock/c.flac", tags: ["folk", "\"odd\""]),
        ])
    }

    func testBadCSVListsEveryProblemWithLineNumbers() throws {
        let file = try write("file,genres\na.wav,rock\nmissing.wav,pop\nb.mp3,\na.wav,jazz\n")
        XCTAssertThrowsError(try LabelTable.read(csvAt: file, audioDirectory: dir.path)) { error in
            guard let error = error as? LabelError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.problems, [
                "line 3: missing.wav is not a file under \(self.dir.path)",
                "line 4: b.mp3 has no tags",
                "line 5: a.wav is listed twice (first on line 2)",
            ])
            XCTAssertTrue(error.description.contains("3 problems"))
        }
    }

    func testHeaderAndEmptyFilesAreRejected() throws {
        XCTAssertThrowsError(try LabelTable.read(csvAt: try write("name,labels\na.wav,rock\n"), audioDirectory: nil)) {
            XCTAssertTrue(($0 as? LabelError)?.problems.first?.contains("header") ?? false)
        }
        XCTAssertThrowsError(try LabelTable.read(csvAt: try write(""), audioDirectory: nil))
        XCTAssertThrowsError(try LabelTable.read(csvAt: try write("path,tags\n"), audioDirectory: nil))
        XCTAssertThrowsError(try LabelTable.read(csvAt: dir.appendingPathComponent("nope.csv").path, audioDirectory: nil))
    }

    func testFolderLayout() throws {
        XCTAssertEqual(try LabelTable.fromFolders(audioDirectory: dir.path, files: ["Hip Hop/x.wav", "rock/y/z.mp3"]),
                       [LabeledTrack(path: "Hip Hop/x.wav", tags: ["hip-hop"]), LabeledTrack(path: "rock/y/z.mp3", tags: ["rock"])])
        XCTAssertThrowsError(try LabelTable.fromFolders(audioDirectory: dir.path, files: ["loose.wav"]))
    }

    func testFMATracksCSV() throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("000"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir.appendingPathComponent("000/000002.mp3").path, contents: Data([0]))
        FileManager.default.createFile(atPath: dir.appendingPathComponent("000/000005.mp3").path, contents: Data([0]))
        _ = try write("genre_id,#tracks,parent,title,top_level\n21,1,0,Hip-Hop,21\n100,1,21,Alternative Hip-Hop,21\n", "genres.csv")
        let tracksCSV = """
        ,album,track,track,track
        ,title,genre_top,genres,genres_all
        track_id,,,,
        2,AWOL,Hip-Hop,[21],"[21, 100]"
        3,AWOL,Hip-Hop,[21],[21]
        5,AWOL,,[],[]
        """
        let tracks = try LabelTable.read(csvAt: try write(tracksCSV, "tracks.csv"), audioDirectory: dir.path)
        // Track 3 has no audio file here (a subset); track 5 has no genre.
        XCTAssertEqual(tracks, [LabeledTrack(path: "000/000002.mp3", tags: ["hip-hop", "alternative-hip-hop"])])
    }
}
