import AudioIO
import Foundation
import XCTest

/// `timbre evaluate` without `--model` scores the shipped model, as `timbre predict` does: the
/// same metrics as naming models/default/model.safetensors, and `$TIMBRE_MODEL` overrides it.
final class EvaluateDefaultModelTests: XCTestCase {
    func testEvaluateDefaultsToTheShippedModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-evaluate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Four seconds each of a low tone with clicks and of a bright chord: two labelled tracks.
        let rate = 22050
        let low = (0..<(4 * rate)).map { i -> Float in
            0.4 * sin(2 * .pi * 110 * Float(i) / Float(rate)) + (i % (rate / 2) < 200 ? 0.5 : 0)
        }
        let bright = (0..<(4 * rate)).map { i -> Float in
            [523.25, 659.25, 783.99].reduce(0) { $0 + 0.2 * sin(2 * .pi * Float($1) * Float(i) / Float(rate)) }
        }
        try AudioWriter.write(low, sampleRate: rate, to: dir.appendingPathComponent("low.wav").path)
        try AudioWriter.write(bright, sampleRate: rate, to: dir.appendingPathComponent("bright.wav").path)
        let labels = dir.appendingPathComponent("labels.csv")
        try "path,tags\nlow.wav,drums;bass\nbright.wav,piano;strings\n".write(to: labels, atomically: true, encoding: .utf8)
        let shipped = ServerProcess.repositoryRoot.appendingPathComponent("models/default/model.safetensors").path
        let arguments = ["evaluate", "--audio-dir", dir.path, "--labels", labels.path, "--json"]

        var environment = ProcessInfo.processInfo.environment
        environment["TIMBRE_MODEL"] = nil
        let byDefault = try run(arguments, environment: environment)
        let named = try run(arguments + ["--model", shipped], environment: environment)
        XCTAssertEqual(byDefault.status, 0, byDefault.output)
        XCTAssertEqual(named.status, 0, named.output)
        XCTAssertTrue(byDefault.output.contains("roc_auc"), byDefault.output)
        XCTAssertEqual(byDefault.output, named.output, "no --model is the shipped model")

        environment["TIMBRE_MODEL"] = dir.appendingPathComponent("missing.safetensors").path
        let overridden = try run(arguments, environment: environment)
        XCTAssertNotEqual(overridden.status, 0, "$TIMBRE_MODEL names the model to score")
        XCTAssertTrue(overridden.output.contains("missing.safetensors"), overridden.output)
    }

    /// Runs timbre from the repository root (where the shipped model's relative path resolves):
    /// standard output, and standard error too when it fails. Not `runTimbre`, which mixes the
    /// two streams: progress lines would make the two outputs differ.
    private func run(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ServerProcess.binary())
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = ServerProcess.repositoryRoot
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return (process.terminationStatus, process.terminationStatus == 0 ? text : text + String(decoding: errors, as: UTF8.self))
    }
}
