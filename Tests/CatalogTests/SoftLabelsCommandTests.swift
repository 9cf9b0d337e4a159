import AudioIO
import Features
import Foundation
import Tagger
import XCTest

/// `timbre soft-labels`, run as a user runs it: a teacher's per-track probabilities for every file
/// under a folder, in the CSV `prepare --soft-labels` reads, resumable.
final class SoftLabelsCommandTests: XCTestCase {
    func testWritesTheTeachersProbabilitiesAndResumes() throws {
        let root = try makeTemporaryDirectory("timbre-soft-labels")
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("Teacher_model.safetensors").path
        let network = makeNetwork(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: 5)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 32), chunkFrames: 32)
        let bundle = ModelBundle(network: network, labels: ["No Vocals", "rock", "Mellow"], frontEnd: frontEnd,
                                 normalization: InputNormalization(mean: -40, std: 20))
        try bundle.write(to: model)
        let audio = root.appendingPathComponent("audio")
        for (i, name) in ["a.wav", "real/b.wav", "real/c.wav"].enumerated() {
            let url = audio.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let f = Float(220 * (i + 1))
            try AudioWriter.write((0..<16000).map { 0.4 * sin(2 * .pi * f * Float($0) / 16000) }, sampleRate: 16000, to: url.path)
        }
        try Data("not audio".utf8).write(to: audio.appendingPathComponent("real/broken.wav"))
        let timbre = try WorkerTests.timbreBinary().path
        let out = root.appendingPathComponent("soft.csv").path
        let log = root.appendingPathComponent("log.txt").path
        let errors = root.appendingPathComponent("errors.txt").path

        // Only real/, the default prefix from the file name; the broken file is reported and left out.
        XCTAssertEqual(try waitForExit(spawn([timbre, "soft-labels", "--model", model, "--audio-dir", audio.path,
                                              "--under", "real", "--out", out], output: log, errors: errors)), 0,
                       (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
        XCTAssertTrue(try String(contentsOfFile: errors, encoding: .utf8).contains("skipped real/broken.wav"))
        var table = try SoftLabelTable.read(csvAt: out)
        XCTAssertEqual(table.labels, ["teacher-model:no-vocals", "teacher-model:rock", "teacher-model:mellow"])
        XCTAssertEqual(Set(table.rows.keys), ["real/b.wav", "real/c.wav"])
        let predictor = try Predictor(bundle: try ModelBundle.read(from: model))
        for path in ["real/b.wav", "real/c.wav"] {
            let expected = try predictor.predict(file: audio.appendingPathComponent(path).path).probabilities
            for (label, p) in zip(table.labels, expected) {
                XCTAssertEqual(table.rows[path]?[label] ?? -1, p, accuracy: 1e-4, "\(path) \(label)")
            }
        }

        // The whole folder into the same file: the two done are kept, the new one added.
        XCTAssertEqual(try waitForExit(spawn([timbre, "soft-labels", "--model", model, "--audio-dir", audio.path, "--out", out],
                                             output: log, errors: errors)), 0)
        XCTAssertTrue(try String(contentsOfFile: log, encoding: .utf8).contains("(2 already there, 1 failed)"))
        table = try SoftLabelTable.read(csvAt: out)
        XCTAssertEqual(Set(table.rows.keys), ["a.wav", "real/b.wav", "real/c.wav"])

        // Another prefix would mix two vocabularies in one file: refused.
        XCTAssertNotEqual(try waitForExit(spawn([timbre, "soft-labels", "--model", model, "--audio-dir", audio.path, "--out", out,
                                                 "--prefix", "t:"], output: log, errors: errors)), 0)
        XCTAssertTrue(try String(contentsOfFile: errors, encoding: .utf8).contains("holds other tags"))
    }
}
