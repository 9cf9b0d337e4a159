import Foundation
import SeededRandom
import XCTest
@testable import AudioIO

/// Mutates valid WAV, FLAC, MP3, OGG, Opus and AIFF files (mostly in their headers) and decodes each
/// mutant from a file and from memory: every decode must return or throw an `AudioError`
/// within a time bound (and so must a metadata read of every fourth mutant, and an excerpt
/// decode — seeks into the damaged stream — of every other one). A crash ends the test process, which fails the run.
///
/// TIMBRE_FUZZ_SEED (default 20261125) and TIMBRE_FUZZ_ITERATIONS (default 2000) replay or
/// extend a run, e.g. `TIMBRE_FUZZ_ITERATIONS=100000 swift test -c release --filter DecoderFuzzTests`.
final class DecoderFuzzTests: XCTestCase {
    static let timeBound: TimeInterval = 5

    func testMutatedFilesNeverCrashOrHang() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["TIMBRE_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_125
        let iterations = environment["TIMBRE_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 2000
        print("fuzz: seed \(seed), \(iterations) mutations")
        let directory = TestAudio.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        var seeds: [(AudioFileFormat, [UInt8])] = []
        let signal = TestAudio.chord(sampleRate: 22050, seconds: 0.5)
        let stereo = zip(signal, signal.reversed()).flatMap { [$0, $1] }
        for format in [AudioFileFormat.wav, .flac, .mp3, .ogg, .opus, .aiff] {
            for (channels, samples) in [(1, signal), (2, stereo)] {
                let path = directory.appendingPathComponent("seed\(channels).\(format.rawValue)").path
                try AudioWriter.write(samples, sampleRate: 22050, channels: channels, to: path, format: format, quality: 0.3)
                seeds.append((format, try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))))
            }
        }

        var generator = SeededGenerator(seed: seed)
        var decoded = 0, rejected = 0, seeked = 0
        let started = Date()
        for iteration in 0..<iterations {
            let (format, original) = seeds[iteration % seeds.count]
            let mutant = Self.mutate(original, using: &generator)
            let options = DecodeOptions(targetSampleRate: iteration % 2 == 0 ? nil : 22050,
                                        offset: iteration % 5 == 0 ? 0.2 : 0, maxDecodedBytes: 256 << 20)
            let name = "mutant-\(iteration).\(format.rawValue)"
            let path = directory.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(mutant))
            for fromMemory in [false, true] {
                let outcome = Self.decodeWithinBound(fromMemory ? .bytes(mutant, name) : .path(path), options: options)
                switch outcome {
                case .decoded(let samples), .excerpts(let samples, _):
                    decoded += 1
                    XCTAssertTrue(samples.allSatisfy(\.isFinite), "seed \(seed) iteration \(iteration): non-finite samples")
                case .failed(let error):
                    rejected += 1
                    XCTAssertTrue(error.description.contains(fromMemory ? name : path), "\(error) does not name its input")
                case .timedOut:
                    return XCTFail("seed \(seed) iteration \(iteration) (\(format), \(fromMemory ? "memory" : "file")): decode ran over \(Self.timeBound) s")
                }
            }
            // Two short stretches: the excerpt path seeks into the damaged stream.
            if iteration % 2 == 1 {
                var excerptOptions = options
                excerptOptions.offset = 0
                switch Self.decodeWithinBound(.excerpts(path), options: excerptOptions) {
                case .timedOut:
                    return XCTFail("seed \(seed) iteration \(iteration) (\(format)): excerpt decode ran over \(Self.timeBound) s")
                case .excerpts(let samples, let didSeek):
                    if didSeek { seeked += 1 }
                    XCTAssertTrue(samples.allSatisfy(\.isFinite), "seed \(seed) iteration \(iteration): non-finite excerpt samples")
                case .decoded:
                    XCTFail("an excerpt decode gives excerpts")
                case .failed(let error):
                    XCTAssertTrue(error.description.contains(path), "\(error) does not name its input")
                }
            }
            // TagLib parses the same damaged headers when metadata is read.
            if iteration % 4 == 0, case .timedOut = Self.decodeWithinBound(.metadata(path), options: options) {
                return XCTFail("seed \(seed) iteration \(iteration) (\(format)): metadata read ran over \(Self.timeBound) s")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        print("fuzz: \(decoded) decoded, \(rejected) rejected, \(seeked) excerpt decodes seeked in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        // Both outcomes must occur, or the mutations are not exercising the decoders.
        XCTAssertGreaterThan(decoded, iterations / 20)
        XCTAssertGreaterThan(rejected, iterations / 20)
        XCTAssertGreaterThan(seeked, iterations / 20, "the excerpt decodes must reach the seeking path")
    }

    enum Input: Sendable { case path(String), bytes([UInt8], String), metadata(String), excerpts(String) }
    enum Outcome: Sendable { case decoded([Float]), excerpts([Float], seeked: Bool), failed(AudioError), timedOut }

    /// Runs the decode on another thread and gives up waiting after `timeBound`.
    static func decodeWithinBound(_ input: Input, options: DecodeOptions) -> Outcome {
        final class Box: @unchecked Sendable { var outcome: Outcome = .timedOut }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            do throws(AudioError) {
                switch input {
                case .path(let path): box.outcome = .decoded(try AudioDecoder.decode(path: path, options: options).samples)
                case .bytes(let bytes, let name): box.outcome = .decoded(try AudioDecoder.decode(bytes: bytes, name: name, options: options).samples)
                case .metadata(let path): _ = try AudioMetadata.read(path: path); box.outcome = .decoded([])
                case .excerpts(let path):
                    let audio = try AudioDecoder.decodeExcerpts(path: path, options: options) { total in
                        [(total / 4)..<(total / 4 + 100), (3 * total / 4)..<(3 * total / 4 + 100)]
                    }
                    box.outcome = .excerpts(audio.excerpts.flatMap(\.samples), seeked: !audio.decodedWhole)
                }
            } catch {
                box.outcome = .failed(error)
            }
            done.signal()
        }
        return done.wait(timeout: .now() + timeBound) == .success ? box.outcome : .timedOut
    }

    /// One to four edits, three in four of them inside the first 256 bytes (the headers).
    static func mutate(_ original: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        var bytes = original
        let interesting32: [UInt32] = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF]
        func position(_ bytes: [UInt8]) -> Int {
            let span = Int.random(in: 0..<4, using: &generator) < 3 ? min(256, bytes.count) : bytes.count
            return Int.random(in: 0..<max(span, 1), using: &generator)
        }
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            guard !bytes.isEmpty else { break }
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:  // bit flip
                let i = position(bytes)
                bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1:  // byte overwrite
                bytes[position(bytes)] = UInt8.random(in: 0...255, using: &generator)
            case 2:  // 32-bit field overwrite with a boundary value (sizes, rates, counts)
                let i = position(bytes)
                let value = interesting32.randomElement(using: &generator)!
                for k in 0..<4 where i + k < bytes.count { bytes[i + k] = UInt8((value >> (8 * UInt32(k))) & 0xFF) }
            case 3:  // truncation
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &generator))
            case 4:  // inserted junk
                let junk = (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                bytes.insert(contentsOf: junk, at: position(bytes))
            default:  // removed span
                let i = position(bytes)
                bytes.removeSubrange(i..<min(bytes.count, i + Int.random(in: 1...32, using: &generator)))
            }
        }
        return bytes
    }
}
