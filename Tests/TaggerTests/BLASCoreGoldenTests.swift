import Foundation
import NeuralNet
import XCTest

/// The engine's golden and numeric tests under every OpenBLAS kernel set Timbre may select on
/// this CPU, not only the one this process loaded: OpenBLAS reads OPENBLAS_CORETYPE once, at
/// load, so each core gets a child run of this test binary with the variable set.
final class BLASCoreGoldenTests: XCTestCase {
    /// Set in the children, to the core they were started on.
    static let childVariable = "TIMBRE_TEST_BLAS_CORE"

    /// The suites that exercise the GEMMs: the PyTorch-golden model, layers and optimizers, the
    /// Winograd and worker-split paths, eval folding, and the scikit-learn-golden similarity code.
    static let suites = [
        "TaggerTests.GoldenModelTests", "TaggerTests.ModelBehaviourTests", "TaggerTests.BlockGradientTests",
        "TaggerTests.GradCAMTests/testResNetSEGradCAMMatchesPyTorch", "TaggerTests.GradCAMTests/testBaselineGradCAMMatchesPyTorch",
        "TaggerTests.GradCAMTests/testCNNLSTMGradCAMMatchesPyTorch",
        "NeuralNetTests.LayerGradientTests", "NeuralNetTests.LayerBehaviourTests", "NeuralNetTests.WinogradTests",
        "NeuralNetTests.WorkerSplitTests", "NeuralNetTests.EvaluationFoldingTests", "NeuralNetTests.BCEWithLogitsLossTests",
        "NeuralNetTests.OptimizerTests", "NeuralNetTests.GradientClippingTests",
        "SimilarityTests.ClusteringGoldenTests", "SimilarityTests.EmbeddingIndexTests", "SimilarityTests.KMeansTests",
    ]

    func testEngineGoldenTestsPassUnderEveryCoreThisCPURuns() throws {
        guard ProcessInfo.processInfo.environment[Self.childVariable] == nil else { throw XCTSkip("a child run") }
        let binary = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).standardizedFileURL
        guard binary.lastPathComponent.hasSuffix(".xctest"), FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("not run as an .xctest executable (\(binary.path))")
        }
        let cores = BLASKernel.runnableCores(on: .current)
        guard !cores.isEmpty else { throw XCTSkip("no x86 kernel sets to choose between") }
        let selectors = (Self.suites + ["TaggerTests.BLASCoreGoldenTests/testChildRunsOnTheRequestedCore"]).joined(separator: ",")
        for core in cores {
            let (status, crashed, output) = try run(binary, [selectors], core: core)
            let tail = output.split(separator: "\n").suffix(30).joined(separator: "\n")
            XCTAssertFalse(crashed, "\(core): the child crashed\n\(tail)")
            XCTAssertEqual(status, 0, "\(core): the golden tests failed\n\(tail)")
            for suite in Self.suites + ["BLASCoreGoldenTests"] {
                // "Module.Suite" or "Module.Suite/testMethod": the suite's own line says it passed.
                let name = suite.split(separator: ".").last.flatMap { $0.split(separator: "/").first }.map(String.init) ?? suite
                XCTAssertTrue(output.contains("Test Suite '\(name)' passed"), "\(core): \(name) did not run and pass\n\(tail)")
            }
        }
    }

    /// Run only in the children: OpenBLAS took the core it was given.
    func testChildRunsOnTheRequestedCore() throws {
        guard let core = ProcessInfo.processInfo.environment[Self.childVariable] else { throw XCTSkip("only in a child run") }
        XCTAssertEqual(BLASKernel.active.lowercased(), core.lowercased())
    }

    private func run(_ binary: URL, _ arguments: [String], core: String) throws -> (Int32, Bool, String) {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment[BLASKernel.restartMarker] = nil
        environment[BLASKernel.simulateMisdetection] = nil
        environment[BLASKernel.coreTypeVariable] = core
        environment[Self.childVariable] = core
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason != .exit, String(decoding: output, as: UTF8.self))
    }
}
