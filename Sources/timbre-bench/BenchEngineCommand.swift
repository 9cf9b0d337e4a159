import ArgumentParser
import COpenBLAS
import CommandLineProgress
import Dispatch
import Foundation
import NeuralNet
import Tagger

/// `timbre-bench bench-engine`: the Swift half of `scripts/bench engine`, which compares the
/// CNN engine with PyTorch and ONNX Runtime on the same weights and the same batch.
///
/// `--write-weights W` writes a seeded default network's state_dict (BatchNorm running
/// statistics randomised, so eval mode is a real comparison), the input batch as `bench.input`,
/// and this engine's eval logits on it as `bench.logits`, for the peer to check against.
/// `--weights W` loads that file and times inference (forward, eval mode) per batch, then the
/// train step (zero_grad, forward in training mode, BCE-with-logits, backward, AdamW step),
/// then a large GEMM through `Linear` for the machine's sgemm peak (OpenBLAS, on the kernel set
/// `BLASKernel` selected, which the report names).
struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-engine",
        abstract: "Benchmark the CNN engine (used by scripts/bench engine)."
    )

    @Option(help: "Write a seeded model's weights, an input batch and its logits to this safetensors file, then stop.")
    var writeWeights: String?

    @Option(help: "Time the engine on the weights and batch of this file (written by --write-weights).")
    var weights: String?

    @Option(help: "Timed inference batches; resident memory is read before and after them (1000 checks for growth).")
    var iterations: Int = 50

    @Option(help: "Timed train steps (0 skips training, e.g. to profile inference alone).")
    var trainSteps: Int = 5

    @Option(help: "Untimed batches before each timed loop.")
    var warmUp: Int = 2

    @Option(help: "Chunks per batch (--write-weights).")
    var batch: Int = 32

    @Option(help: "Genres (--write-weights); the other sizes are ArchitectureConfig's defaults.")
    var genres: Int = 50

    @Option(help: "Seed of the weights, the input and the targets.")
    var seed: UInt64 = 0

    @Option(help: "Side of the square matrices of the sgemm peak measurement (0 skips it).")
    var gemmSize: Int = 2048

    @Flag(help: "Print one JSON object instead of a summary.")
    var json = false

    func validate() throws {
        guard (writeWeights == nil) != (weights == nil) else {
            throw ValidationError("give exactly one of --write-weights FILE or --weights FILE")
        }
        guard iterations >= 1, batch >= 1, genres >= 1, trainSteps >= 0, warmUp >= 0, gemmSize >= 0 else {
            throw ValidationError("--iterations, --batch and --genres must be at least 1; --train-steps, --warm-up and --gemm-size at least 0")
        }
    }

    func run() throws {
        if let writeWeights { return try write(to: URL(fileURLWithPath: writeWeights)) }
        guard let weights else { return }
        let report = try measure(URL(fileURLWithPath: weights))
        if json {
            let data = try JSONSerialization.data(withJSONObject: report.json, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(report.summary)
        }
    }

    // MARK: writing the shared weights

    private func write(to url: URL) throws {
        let config = ArchitectureConfig(numGenres: genres)
        let network = makeNetwork(config, seed: seed)
        var rng = SeededGenerator(seed: seed &+ 1)
        var state = Dictionary(network.stateDict().map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        for (name, tensor) in state {
            var randomised = tensor
            if name.hasSuffix("running_mean") {
                for i in randomised.data.indices { randomised.data[i] = rng.uniform(bound: 0.1) }
            } else if name.hasSuffix("running_var") {
                for i in randomised.data.indices { randomised.data[i] = 0.5 + rng.nextUnitFloat() }
            } else {
                continue
            }
            state[name] = randomised
        }
        try network.loadStateDict(state)
        let input = Self.gaussian(shape: [batch, config.inputChannels, 128, 128], rng: &rng)
        let logits = try network.forward(input, training: false).logits
        let encoded = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        var file = SafetensorsFile(stateDict: network.stateDict(), metadata: ["config": encoded])
        file.tensors.append(SafetensorsTensor(name: "bench.input", tensor: input))
        file.tensors.append(SafetensorsTensor(name: "bench.logits", tensor: logits))
        try file.write(to: url)
        FileHandle.standardError.write(Data("timbre: wrote \(network.parameterCount) parameters, input \(input.shape) and logits to \(url.path)\n".utf8))
    }

    /// Standard normal values (Box–Muller), as normalised log-mel chunks roughly are.
    static func gaussian(shape: [Int], rng: inout SeededGenerator) -> Tensor {
        var t = Tensor(zeros: shape)
        var i = 0
        while i < t.count {
            let u = max(rng.nextUnitFloat(), 1e-7), v = rng.nextUnitFloat()
            let r = (-2 * log(u)).squareRoot()
            t.data[i] = r * cos(2 * .pi * v)
            if i + 1 < t.count { t.data[i + 1] = r * sin(2 * .pi * v) }
            i += 2
        }
        return t
    }

    // MARK: timing

    private func measure(_ url: URL) throws -> EngineBenchReport {
        let file = try SafetensorsFile(contentsOf: url)
        guard let configJSON = file.metadata["config"] else {
            throw CommandFailure("\(url.path) has no \"config\" metadata: write it with timbre-bench bench-engine --write-weights")
        }
        let config = try JSONDecoder().decode(ArchitectureConfig.self, from: Data(configJSON.utf8))
        let input = try file.tensor(named: "bench.input")
        let expected = try file.tensor(named: "bench.logits")
        var state = file.stateDict
        state["bench.input"] = nil
        state["bench.logits"] = nil
        let network = makeNetwork(config, seed: seed)
        try network.loadStateDict(state)
        var report = EngineBenchReport(batch: input.shape.first ?? 0, parameters: network.parameterCount)

        // Inference: the logits must be the ones the peer checked, then the memory loop.
        let first = try network.forward(input, training: false).logits
        report.logitsMaxAbsDiff = zip(first.data, expected.data).map { abs($0 - $1) }.max() ?? .nan
        for _ in 0..<warmUp { _ = try network.forward(input, training: false) }
        report.rssAfterWarmUpKB = ProcessMemory.read("VmRSS")
        let progress = ProgressReporter(label: "timbre inference", total: iterations)
        for _ in 0..<iterations {
            let start = DispatchTime.now()
            _ = try network.forward(input, training: false)
            report.inferenceSeconds.append(start.secondsSince())
            progress.advance()
        }
        progress.finish()
        report.rssAfterLoopKB = ProcessMemory.read("VmRSS")
        report.inferencePeakKB = ProcessMemory.read("VmHWM")

        if trainSteps > 0 { report.trainSeconds = try trainSteps(network, input: input) }
        report.trainPeakKB = ProcessMemory.read("VmHWM")
        if gemmSize > 0 { report.sgemmSeconds = try sgemmSeconds(size: gemmSize) }
        report.sgemmSize = gemmSize
        return report
    }

    /// Seconds of each timed step of zero_grad → forward(training) → BCE → backward → AdamW.
    private func trainSteps(_ network: any TaggingNetwork, input: Tensor) throws -> [Double] {
        var rng = SeededGenerator(seed: seed &+ 2)
        let classes = network.config.numGenres
        var targets = Tensor(zeros: [input.shape[0], classes])
        for i in targets.data.indices { targets.data[i] = rng.nextUnitFloat() < 0.1 ? 1 : 0 }
        let optimizer = AdamW(parameters: network.parameters, learningRate: 1e-3, weightDecay: 1e-2)
        let loss = BCEWithLogitsLoss()
        func step() throws {
            optimizer.zeroGrad()
            let logits = try network.forward(input, training: true).logits
            let (_, gradient) = try loss(logits: logits, targets: targets)
            try network.backward(gradient)
            optimizer.step()
        }
        for _ in 0..<warmUp { try step() }
        let progress = ProgressReporter(label: "timbre train", total: trainSteps)
        var seconds: [Double] = []
        for _ in 0..<trainSteps {
            let start = DispatchTime.now()
            try step()
            seconds.append(start.secondsSince())
            progress.advance()
        }
        progress.finish()
        return seconds
    }

    /// Seconds of each of 10 products (n×n)·(n×n)ᵀ by one `cblas_sgemm` with OpenBLAS's own
    /// threads on every core: the machine's GEMM peak, which the layers (splitting work across
    /// cores themselves, one BLAS thread each) are measured against.
    private func sgemmSeconds(size n: Int) throws -> [Double] {
        var rng = SeededGenerator(seed: seed &+ 3)
        var a = [Float](repeating: 0, count: n * n), c = [Float](repeating: 0, count: n * n)
        for i in a.indices { a[i] = rng.uniform(bound: 1) }
        let b = a
        BLASThreads.configure()
        defer { BLASThreads.single() }
        func product() {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(n),
                        1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
        }
        product()
        var seconds: [Double] = []
        for _ in 0..<10 {
            let start = DispatchTime.now()
            product()
            seconds.append(start.secondsSince())
        }
        return seconds
    }
}

/// What `timbre-bench bench-engine --weights` measured.
struct EngineBenchReport {
    let batch: Int
    let parameters: Int
    var logitsMaxAbsDiff: Float = .nan
    var inferenceSeconds: [Double] = []
    var trainSeconds: [Double] = []
    var sgemmSeconds: [Double] = []
    var sgemmSize = 0
    var rssAfterWarmUpKB = 0
    var rssAfterLoopKB = 0
    var inferencePeakKB = 0
    var trainPeakKB = 0
    /// The OpenBLAS kernels every GEMM here ran on, and why.
    var blas = BLASKernel.report()

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    var sgemmGFLOPs: Double {
        let flops = 2 * pow(Double(sgemmSize), 3)
        return flops / Self.median(sgemmSeconds) / 1e9
    }

    var json: [String: Any] {
        [
            "tool": "timbre", "batch": batch, "parameters": parameters, "threads": Parallel.workerCount,
            "logits_max_abs_diff_vs_written": Double(logitsMaxAbsDiff),
            "inference_s": inferenceSeconds, "inference_median_s": Self.median(inferenceSeconds),
            "train_s": trainSeconds, "train_median_s": trainSeconds.isEmpty ? NSNull() : Self.median(trainSeconds) as Any,
            "sgemm_size": sgemmSize, "sgemm_s": sgemmSeconds,
            "sgemm_gflops_median": sgemmSeconds.isEmpty ? 0 : sgemmGFLOPs,
            "sgemm_gflops_best": sgemmSeconds.min().map { 2 * pow(Double(sgemmSize), 3) / $0 / 1e9 } ?? 0,
            "rss_after_warm_up_kb": rssAfterWarmUpKB, "rss_after_loop_kb": rssAfterLoopKB,
            "inference_peak_rss_kb": inferencePeakKB, "train_peak_rss_kb": trainPeakKB,
            "blas_core": blas.activeCore, "blas_core_openblas_choice": blas.openblasChoice ?? NSNull() as Any,
            "blas_core_selected": blas.selectedCore ?? NSNull() as Any, "blas_core_reason": blas.reason,
        ]
    }

    var summary: String {
        let inference = Self.median(inferenceSeconds), train = Self.median(trainSeconds)
        return """
            timbre engine, batch \(batch), \(parameters) parameters, \(Parallel.workerCount) threads, OpenBLAS core \(blas.activeCore)
            inference: median \(String(format: "%.4f", inference)) s/batch, \(String(format: "%.1f", Double(batch) / inference)) chunks/s over \(inferenceSeconds.count) batches
            train step: median \(String(format: "%.4f", train)) s/batch, \(String(format: "%.1f", Double(batch) / train)) samples/s over \(trainSeconds.count) steps
            RSS: \(rssAfterWarmUpKB / 1024) MiB after warm-up, \(rssAfterLoopKB / 1024) MiB after the loop; peak \(inferencePeakKB / 1024) MiB inference, \(trainPeakKB / 1024) MiB training
            sgemm \(sgemmSize)³: \(sgemmSeconds.isEmpty ? "skipped" : String(format: "%.1f GFLOP/s", sgemmGFLOPs))
            """
    }
}

/// Fields of /proc/self/status, in kB (0 where there is no /proc, as on macOS).
enum ProcessMemory {
    static func read(_ field: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let number = line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return number.flatMap { Int($0) } ?? 0
        }
        return 0
    }
}
