import Foundation
import Charts
import XCTest

/// Runs the built `timbre` executable (an XCTest cannot import an executable target):
/// `info` and `spectrogram` on WAV files the test writes itself. Skipped when the
/// binary is not next to the test bundle (e.g. only the test target was built).
final class TimbreCommandLineTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "/timbre-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func testInfoPrintsJSONForGoodFilesAndFailsForBadOnes() throws {
        let good = "\(folder)/tone.wav"
        try writeWAV(sine(frequency: 440, seconds: 1.5, sampleRate: 44100), sampleRate: 44100, to: good)
        let corrupt = "\(folder)/corrupt.wav"
        try Data((0..<500).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: corrupt))
        let missing = "\(folder)/missing.flac"

        let result = try runTimbre(["info", "--json", corrupt, good, missing])
        XCTAssertNotEqual(result.status, 0, "a failed file makes the exit status non-zero")
        let array = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], result.stdout)
        XCTAssertEqual(array.count, 3)
        XCTAssertEqual(array[0]["path"] as? String, corrupt)
        XCTAssertNotNil(array[0]["error"])
        XCTAssertEqual(array[1]["path"] as? String, good)
        XCTAssertEqual(array[1]["format"] as? String, "wav")
        XCTAssertEqual(array[1]["sampleRate"] as? Int, 44100)
        XCTAssertEqual(array[1]["channels"] as? Int, 1)
        XCTAssertEqual(try XCTUnwrap(array[1]["duration"] as? Double), 1.5, accuracy: 0.001)
        XCTAssertNil(array[1]["error"])
        XCTAssertNotNil(array[2]["error"])
        XCTAssertTrue(result.stderr.contains("missing.flac"), result.stderr)
        XCTAssertTrue(result.stderr.contains("corrupt.wav"), result.stderr)
    }

    func testInfoTextSucceedsForGoodFiles() throws {
        let good = "\(folder)/tone.wav"
        try writeWAV(sine(frequency: 440, seconds: 2, sampleRate: 22050), sampleRate: 22050, to: good)
        let result = try runTimbre(["info", good])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("22050 Hz"), result.stdout)
        XCTAssertTrue(result.stdout.contains("0:02.0"), result.stdout)
    }

    /// A 1 kHz tone must light up the mel band that holds 1 kHz. On the Slaney scale
    /// (linear below 1 kHz, 200/3 Hz per mel) 1 kHz is mel 15 and 11025 Hz is
    /// 15 + 27·ln(11.025)/ln(6.4) ≈ 49.91, so with 128 bands band m is centred on mel
    /// (m + 1)·49.91/129: 1 kHz sits at m ≈ 37.8, i.e. row 37 or 38 counted from the bottom.
    func testSpectrogramDrawsAToneInTheRightRowWithTimeToTheRight() throws {
        let input = "\(folder)/khz.wav"
        try writeWAV(sine(frequency: 1000, seconds: 2, sampleRate: 22050), sampleRate: 22050, to: input)
        let output = "\(folder)/khz.png"
        let result = try runTimbre(["spectrogram", input, "-o", output, "--colormap", "viridis", "--scale", "2", "--no-axes"])
        XCTAssertEqual(result.status, 0, result.stderr)

        let reader = try PNGReader([UInt8](Data(contentsOf: URL(fileURLWithPath: output))))
        // centred frames: 1 + floor(44100 / 512) = 87 frames, 128 mels, each 2×2 pixels.
        XCTAssertEqual(reader.width, 87 * 2)
        XCTAssertEqual(reader.height, 128 * 2)
        let pixels = try reader.pixels()
        let column = reader.width / 2
        var brightestRow = 0
        var brightest = -1.0
        for y in 0..<reader.height {
            let i = (y * reader.width + column) * 3
            let lightness = Charts.RGBColor(red: pixels[i], green: pixels[i + 1], blue: pixels[i + 2]).lightness
            if lightness > brightest { (brightest, brightestRow) = (lightness, y) }
        }
        let bandFromBottom = (reader.height - 1 - brightestRow) / 2
        XCTAssertTrue((37...38).contains(bandFromBottom), "brightest band \(bandFromBottom)")
    }

    func testSpectrogramErrorsAreMessagesNotCrashes() throws {
        let missing = try runTimbre(["spectrogram", "\(folder)/none.wav", "-o", "\(folder)/x.png"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("none.wav"), missing.stderr)

        let input = "\(folder)/tone.wav"
        try writeWAV(sine(frequency: 300, seconds: 0.5, sampleRate: 22050), sampleRate: 22050, to: input)
        for arguments in [
            ["--colormap", "jet"], ["--n-mels", "0"], ["--hop-length", "-5"], ["--scale", "100"], ["--offset", "-1"],
        ] {
            let result = try runTimbre(["spectrogram", input, "-o", "\(folder)/y.png"] + arguments)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertFalse(result.stderr.isEmpty, "\(arguments)")
            // A crash dies by a signal; ArgumentParser's failures exit with 1 (runtime) or 64 (usage).
            XCTAssertTrue([1, 64].contains(result.status), "\(arguments): status \(result.status)")
        }
        let unwritable = try runTimbre(["spectrogram", input, "-o", "\(folder)/no/such/dir/z.png"])
        XCTAssertEqual(unwritable.status, 1, unwritable.stderr)
        XCTAssertTrue(unwritable.stderr.contains("z.png"), unwritable.stderr)
    }

    /// `timbre explain` with the shipped model: the JSON's regions, the picture, and an unknown
    /// tag's error listing the model's tags.
    func testExplainWritesJSONAndAPictureAndNamesTheModelsTags() throws {
        let input = "\(folder)/chord.wav"
        try writeWAV(zip(sine(frequency: 220, seconds: 5, sampleRate: 22050), sine(frequency: 3000, seconds: 5, sampleRate: 22050))
            .map { Int16(clamping: (Int($0) + Int($1)) / 2) }, sampleRate: 22050, to: input)
        let output = "\(folder)/explained.png"
        let result = try runTimbre(["explain", input, "--tag", "Synth Lead", "-o", output, "--json", "--width", "200"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
        XCTAssertEqual(json["tag"] as? String, "synth-lead", "matched ignoring case, spaces as dashes")
        XCTAssertEqual(json["method"] as? String, "grad-cam")
        XCTAssertEqual(try XCTUnwrap(json["duration_seconds"] as? Double), 5, accuracy: 0.01)
        XCTAssertEqual((json["chunks"] as? [Any])?.count, 2, "5 s: chunks of 128 frames every 64 frames")
        for key in ["time_spans", "mel_bands", "regions"] { XCTAssertNotNil(json[key] as? [[String: Any]], key) }
        let reader = try PNGReader([UInt8](Data(contentsOf: URL(fileURLWithPath: output))))
        XCTAssertEqual(reader.height, 128 * 2 + 28, "each band 2 px, with the axes' margins")
        XCTAssertLessThanOrEqual(reader.width, 200 + 58)

        let unknown = try runTimbre(["explain", input, "--tag", "polka"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("polka") && unknown.stderr.contains("acoustic-guitar, ambient"), unknown.stderr)
    }

    // MARK: - Helpers

    private struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    private func timbreExecutable() throws -> URL {
        let candidates = [Bundle.main.executableURL?.deletingLastPathComponent(), Bundle.main.bundleURL, Bundle(for: Self.self).bundleURL.deletingLastPathComponent()]
        for folder in candidates.compactMap({ $0 }) {
            let url = folder.appendingPathComponent("timbre")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw MissingExecutable(description: "the timbre executable is not built next to the tests (build with --build-tests): failing, not skipping")
    }

    private func runTimbre(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = try timbreExecutable()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a full pipe cannot stall the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "timbre \(arguments) crashed")
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    private func sine(frequency: Double, seconds: Double, sampleRate: Int) -> [Int16] {
        (0..<Int(seconds * Double(sampleRate))).map { n in
            Int16(12000 * sin(2 * Double.pi * frequency * Double(n) / Double(sampleRate)))
        }
    }

    /// A mono 16-bit PCM WAV, written by hand (RIFF/WAVE, "fmt " and "data" chunks).
    private func writeWAV(_ samples: [Int16], sampleRate: Int, to path: String) throws {
        var bytes: [UInt8] = []
        func u32(_ v: Int) { bytes += withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) { bytes += withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        bytes += Array("RIFF".utf8); u32(36 + samples.count * 2); bytes += Array("WAVE".utf8)
        bytes += Array("fmt ".utf8); u32(16); u16(1); u16(1); u32(sampleRate); u32(sampleRate * 2); u16(2); u16(16)
        bytes += Array("data".utf8); u32(samples.count * 2)
        for s in samples { u16(Int(UInt16(bitPattern: s))) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// A test that needs the built executable fails without it; it is not skipped.
private struct MissingExecutable: Error, CustomStringConvertible { let description: String }
