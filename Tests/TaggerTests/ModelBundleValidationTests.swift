import Features
import Foundation
import XCTest
@testable import Tagger

/// A model file whose labels repeat (or are empty) is refused with a clear error when read:
/// labels key the predictions' dictionaries, where a repeated one would trap.
final class ModelBundleValidationTests: XCTestCase {
    func testRepeatedOrEmptyLabelsAreRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-bundle-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let network = makeNetwork(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1], attentionReduction: 2), seed: 1)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 16), chunkFrames: 16)
        for (labels, expected) in [(["rock", "jazz", "rock"], "the label \"rock\" appears more than once"), (["rock", " ", "jazz"], "a label is empty")] {
            let path = directory.appendingPathComponent("model.safetensors").path
            try ModelBundle(network: network, labels: labels, frontEnd: frontEnd, normalization: InputNormalization(mean: 0, std: 1))
                .write(to: path)
            XCTAssertThrowsError(try ModelBundle.read(from: path)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
            }
        }
        let path = directory.appendingPathComponent("good.safetensors").path
        try ModelBundle(network: network, labels: ["rock", "jazz", "folk"], frontEnd: frontEnd,
                        normalization: InputNormalization(mean: 0, std: 1)).write(to: path)
        XCTAssertEqual(try ModelBundle.read(from: path).labels, ["rock", "jazz", "folk"])
    }
}
