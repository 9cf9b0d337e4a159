import ArgumentParser
import NeuralNet

/// The `timbre-bench` command: the Swift halves of `scripts/bench`, which runs each next to
/// its named peer (librosa, PyTorch, ONNX Runtime, numpy, scikit-learn, FAISS) and prints
/// ratios. Its own executable, so that the `timbre` users run carries no benchmark code.
@main
struct TimbreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbre-bench",
        abstract: "Timbre's benchmarks (run them through scripts/bench).",
        subcommands: [
            BenchAudioCommand.self,
            BenchEngineCommand.self,
            BenchLSTMCommand.self,
            BenchCatalogCommand.self,
            BenchSimilarityCommand.self,
        ]
    )

    /// The benchmarks run on the OpenBLAS kernels `timbre` itself would choose (which may execute
    /// this program again, silently, with OPENBLAS_CORETYPE set: see BLASKernel).
    static func main() {
        BLASKernel.selectBestCore()
        main(nil)
    }
}

/// A benchmark's own failure: the message says what to do.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
