import Foundation
import XCTest
@testable import AudioIO

/// The decode cap is in samples (`DecodeOptions.maxDecodedBytes`, 2 GiB of Float32 by default,
/// `$TIMBRE_MAX_DECODED_BYTES`), not in seconds: a few MB of constant FLAC at 768 kHz that
/// declares hours, one that declares nothing, and a WAV whose header declares gigabytes all
/// fail fast with a clear error, in process and through the built `timbre` under an
/// address-space limit (`prlimit --as`), never by running out of memory.
final class DecodeLimitTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TestAudio.scratchDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    static let bombRate = 768_000
    /// Two hours at 768 kHz: 5.5·10⁹ samples, 20.6 GiB as Float32, in 1.3 MB of FLAC.
    static let bombFrames = Int64(2 * 3600 * bombRate) / Int64(FLACBomb.blockSize) * Int64(FLACBomb.blockSize)

    func file(_ name: String, _ bytes: [UInt8]) -> String {
        let path = directory.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return path
    }

    func assertTooLarge(_ body: () throws -> Any, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) {
        let started = Date()
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case AudioError.tooLarge = error else { return XCTFail("\(error)", file: file, line: line) }
            for word in words { XCTAssertTrue("\(error)".contains(word), "\(error) lacks “\(word)”", file: file, line: line) }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, file: file, line: line)
    }

    func testSizesParse() {
        XCTAssertEqual(DecodeOptions.parseByteCount("2147483648"), 2 << 30)
        XCTAssertEqual(DecodeOptions.parseByteCount("512M"), 512 << 20)
        XCTAssertEqual(DecodeOptions.parseByteCount("4g"), 4 << 30)
        XCTAssertEqual(DecodeOptions.parseByteCount("64KiB"), 64 << 10)
        XCTAssertEqual(DecodeOptions.parseByteCount(" 1GB "), 1 << 30)
        for bad in ["", "0", "-5", "lots", "1.5G", "G", "99999999999999999999", "8E"] {
            XCTAssertNil(DecodeOptions.parseByteCount(bad), bad)
        }
        XCTAssertEqual(DecodeOptions().maxDecodedBytes, ProcessInfo.processInfo.environment["TIMBRE_MAX_DECODED_BYTES"] == nil ? 2 << 30 : DecodeOptions.defaultMaxDecodedBytes)
    }

    func testTheBombBuilderMakesValidFLAC() throws {
        // Unknown length and an exact one both decode to every frame present.
        for declared: Int64? in [nil, 0] {
            let bytes = FLACBomb.make(sampleRate: 48000, channels: 2, frames: 3 * 65535, declaredFrames: declared, value: 8192)
            let audio = try AudioDecoder.decode(bytes: bytes, name: "small.flac", options: DecodeOptions(targetSampleRate: nil))
            XCTAssertEqual(audio.samples.count, 3 * 65535)
            XCTAssertEqual(audio.sourceSampleRate, 48000)
            XCTAssertEqual(audio.samples.first ?? 0, 0.25, accuracy: 1e-6)
            XCTAssertEqual(audio.sourceDuration.map { Int64(($0 * 48000).rounded()) }, declared == 0 ? nil : 3 * 65535)
        }
    }

    func testADeclaredLengthOverTheCapIsRefusedBeforeDecoding() {
        let bomb = FLACBomb.make(sampleRate: Self.bombRate, frames: Self.bombFrames)
        XCTAssertLessThan(bomb.count, 2 << 20)
        assertTooLarge({ try AudioDecoder.decode(bytes: bomb, name: "bomb.flac") },
                       mentioning: ["bomb.flac", "header declares", "768000 Hz", "1:59:59", "GiB", "over the 2.0 GiB limit", "TIMBRE_MAX_DECODED_BYTES"])
        // A part is checked the same way: the bomb's first 10 seconds (29.3 MiB) fit the default …
        let tenSeconds = DecodeOptions(targetSampleRate: nil, duration: 10)
        XCTAssertEqual(try AudioDecoder.decode(bytes: bomb, name: "bomb.flac", options: tenSeconds).samples.count, 10 * Self.bombRate)
        // … not a cap of 16 MiB.
        var capped = tenSeconds
        capped.maxDecodedBytes = 16 << 20
        assertTooLarge({ try AudioDecoder.decode(bytes: bomb, name: "bomb.flac", options: capped) }, mentioning: ["part asked for"])
    }

    func testAStreamOfUnknownLengthFailsOnceItPassesTheCap() {
        let bomb = FLACBomb.make(sampleRate: Self.bombRate, frames: Self.bombFrames, declaredFrames: 0)
        let options = DecodeOptions(targetSampleRate: nil, maxDecodedBytes: 64 << 20)
        assertTooLarge({ try AudioDecoder.decode(bytes: bomb, name: "endless.flac", options: options) },
                       mentioning: ["endless.flac", "goes on past the 64.0 MiB limit", "TIMBRE_MAX_DECODED_BYTES"])
        // Excerpts need a length: without one the whole file is decoded, under the same cap.
        assertTooLarge({ try AudioDecoder.decodeExcerpts(bytes: bomb, name: "endless.flac", options: options) { _ in [0..<1000] } },
                       mentioning: ["goes on past"])
    }

    func testAHeaderThatUnderstatesTheLengthStillStopsAtTheCap() {
        // STREAMINFO says one second; ten minutes follow.
        let bomb = FLACBomb.make(sampleRate: Self.bombRate, frames: Int64(600 * Self.bombRate), declaredFrames: Int64(Self.bombRate))
        let cap = 64 << 20
        do {
            let audio = try AudioDecoder.decode(bytes: bomb, name: "liar.flac", options: DecodeOptions(targetSampleRate: nil, maxDecodedBytes: cap))
            XCTAssertLessThanOrEqual(audio.samples.count * 4, cap)
        } catch {
            guard case AudioError.tooLarge = error else { return XCTFail("\(error)") }
        }
    }

    func testExcerptsOfALongFileStayUnderTheCap() throws {
        // Tagging reads windows: five seconds of the two-hour bomb fit in 64 MiB.
        let bomb = FLACBomb.make(sampleRate: Self.bombRate, frames: Self.bombFrames, value: -4096)
        let options = DecodeOptions(targetSampleRate: nil, maxDecodedBytes: 64 << 20)
        let excerpts = try AudioDecoder.decodeExcerpts(bytes: bomb, name: "bomb.flac", options: options) { total in
            (0..<5).map { i in (i * total / 5)..<(i * total / 5 + Self.bombRate) }
        }
        XCTAssertFalse(excerpts.decodedWhole)
        XCTAssertEqual(excerpts.totalSamples, Int(Self.bombFrames))
        XCTAssertEqual(excerpts.excerpts.map(\.samples.count), Array(repeating: Self.bombRate, count: 5))
        XCTAssertTrue(excerpts.excerpts.allSatisfy { $0.samples.allSatisfy { abs($0 + 0.125) < 1e-6 } })
        // Windows that add up to more than the cap are refused before any is decoded.
        assertTooLarge({ try AudioDecoder.decodeExcerpts(bytes: bomb, name: "bomb.flac", options: options) { total in
            (0..<5).map { i in (i * total / 5)..<(i * total / 5 + 10 * Self.bombRate) }
        } }, mentioning: ["excerpts asked for"])
    }

    func testTheResampledOutputCounts() throws {
        let bytes = BadInputTests.wav(rate: 8000, payload: [UInt8](repeating: 0, count: 16000))  // 1 s
        // 32,000 bytes decoded; at 96 kHz another 384,000 come out of the resampler.
        XCTAssertEqual(try AudioDecoder.decode(bytes: bytes, options: DecodeOptions(targetSampleRate: nil, maxDecodedBytes: 100_000)).samples.count, 8000)
        assertTooLarge({ try AudioDecoder.decode(bytes: bytes, options: DecodeOptions(targetSampleRate: 96000, maxDecodedBytes: 100_000)) },
                       mentioning: ["resampled"])
        XCTAssertEqual(try AudioDecoder.decode(bytes: bytes, options: DecodeOptions(targetSampleRate: 96000, maxDecodedBytes: 420_000)).samples.count, 96000)
    }

    // MARK: - through the built binary, under an address-space limit

    /// 1.5 GiB of address space: less than the default cap, far less than any bomb here.
    static let addressSpace = "--as=\(3 << 29)"

    var repository: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    func timbre(_ arguments: [String], environment: [String: String] = [:]) throws -> TimbreProcess.Result {
        var environment = environment
        environment["TIMBRE_MODEL"] = repository.appendingPathComponent("models/default/model.safetensors").path
        let result = try TimbreProcess.run(["/usr/bin/prlimit", Self.addressSpace, try TimbreProcess.binary()] + arguments,
                                           environment: environment, directory: directory)
        XCTAssertNil(result.signal, "killed by a signal: \(result.summary)")
        XCTAssertLessThan(result.seconds, 30, result.summary)
        return result
    }

    func testTheCLIFailsCleanlyOnBombsUnderAnAddressSpaceLimit() throws {
        let bomb = file("bomb.flac", FLACBomb.make(sampleRate: Self.bombRate, frames: Self.bombFrames))
        let endless = file("endless.flac", FLACBomb.make(sampleRate: Self.bombRate, frames: Self.bombFrames, declaredFrames: 0))
        // 8 channels at 768 kHz declaring 4 GiB of data, 4 KB present.
        let liar = file("liar.wav", BadInputTests.wav(channels: 8, rate: UInt32(Self.bombRate), dataSize: 0xFFFF_FFF0))
        let picture = directory.appendingPathComponent("bomb.png").path

        // A whole decode of the two-hour bomb is refused from its header.
        var run = try timbre(["spectrogram", bomb, "-o", picture])
        XCTAssertEqual(run.status, 1, run.summary)
        XCTAssertTrue(run.stderr.contains("too large to decode") && run.stderr.contains("TIMBRE_MAX_DECODED_BYTES"), run.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: picture))
        // Without a declared length the stream is cut at the cap (here 256 MiB, the env's).
        run = try timbre(["predict", endless], environment: ["TIMBRE_MAX_DECODED_BYTES": "256M"])
        XCTAssertNotEqual(run.status, 0, run.summary)
        XCTAssertTrue(run.stderr.contains("goes on past the 256.0 MiB limit"), run.summary)
        // The header that declares gigabytes: truncated, for info and for tagging.
        run = try timbre(["info", liar])
        XCTAssertEqual(run.status, 1, run.summary)
        XCTAssertTrue(run.stderr.contains("truncated"), run.summary)
        run = try timbre(["predict", liar])
        XCTAssertNotEqual(run.status, 0, run.summary)
        XCTAssertTrue(run.stderr.contains("truncated"), run.summary)
        // A well-formed long file is described, and tagged from its windows in bounded memory.
        run = try timbre(["info", bomb])
        XCTAssertEqual(run.status, 0, run.summary)
        XCTAssertTrue(run.stdout.contains("768000 Hz") && run.stdout.contains("120:00.0"), run.summary)
        run = try timbre(["predict", "--json", bomb])
        XCTAssertEqual(run.status, 0, run.summary)
        XCTAssertTrue(run.stdout.contains("\"all_probabilities\""), run.summary)
        // A cap the environment cannot express is an error, not ignored.
        run = try timbre(["spectrogram", liar, "-o", picture], environment: ["TIMBRE_MAX_DECODED_BYTES": "lots"])
        XCTAssertEqual(run.status, 1, run.summary)
        XCTAssertTrue(run.stderr.contains("TIMBRE_MAX_DECODED_BYTES=lots"), run.summary)
    }
}
