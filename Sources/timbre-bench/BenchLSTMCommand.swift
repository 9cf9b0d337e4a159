import ArgumentParser
import Dispatch
import Foundation
import NeuralNet

/// `timbre-bench bench-lstm`: the Swift half of `scripts/bench engine`'s LSTM section, which
/// compares `NeuralNet.LSTM` with PyTorch's `nn.LSTM` on the same weights and the same batch.
///
/// `--write-weights W` writes a seeded LSTM's parameters (PyTorch names, no module prefix), an
/// input sequence batch as `bench.input` and this engine's output on it as `bench.output`.
/// `--weights W` loads that file and times inference (forward) and a training pass (zero_grad,
/// forward, backward of Σ output·r) per batch. The default sizes are the CNN + LSTM's of
/// configs/cnn_lstm.yaml: 96 features from the CNN, 128 hidden per direction, bidirectional,
/// 27 steps (10 s of audio after the CNN's 16× time reduction), 32 sequences per batch.
struct BenchLSTMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-lstm",
        abstract: "Benchmark the LSTM layer (used by scripts/bench engine)."
    )

    @Option(help: "Write a seeded LSTM, an input batch and its output to this safetensors file, then stop.")
    var writeWeights: String?
    @Option(help: "Time the LSTM on the weights and batch of this file (written by --write-weights).")
    var weights: String?
    @Option(help: "Timed batches per measurement.") var repeats: Int = 10
    @Option(help: "Untimed batches before each timed loop.") var warmUp: Int = 2
    @Option(help: "Sequences per batch (--write-weights).") var batch: Int = 32
    @Option(help: "Steps per sequence (--write-weights).") var steps: Int = 27
    @Option(help: "Input features (--write-weights).") var inputSize: Int = 96
    @Option(help: "Hidden size per direction (--write-weights).") var hidden: Int = 128
    @Option(help: "Layers (--write-weights).") var layers: Int = 1
    @Flag(inversion: .prefixedNo, help: "Bidirectional (--write-weights).") var bidirectional = true
    @Option(help: "Seed of the weights and the input.") var seed: UInt64 = 0

    struct Shape: Codable { var batch, steps, input_size, hidden, layers: Int; var bidirectional: Bool }

    func validate() throws {
        guard (writeWeights == nil) != (weights == nil) else {
            throw ValidationError("give exactly one of --write-weights FILE or --weights FILE")
        }
        guard repeats >= 1, warmUp >= 0, batch >= 1, steps >= 1, inputSize >= 1, hidden >= 1, (1...8).contains(layers) else {
            throw ValidationError("--repeats, --batch, --steps, --input-size, --hidden must be at least 1, --layers in 1...8, --warm-up at least 0")
        }
    }

    func run() throws {
        if let writeWeights {
            let shape = Shape(batch: batch, steps: steps, input_size: inputSize, hidden: hidden, layers: layers, bidirectional: bidirectional)
            var rng = SeededGenerator(seed: seed)
            let lstm = Self.make(shape, rng: &rng)
            let input = BenchEngineCommand.gaussian(shape: [batch, steps, inputSize], rng: &rng)
            let output = try Self.forward(lstm, input, shape)
            var file = SafetensorsFile(stateDict: lstm.parameters.map { (Self.plain($0), $0.value) },
                                       metadata: ["shape": String(decoding: try JSONEncoder().encode(shape), as: UTF8.self)])
            file.tensors.append(SafetensorsTensor(name: "bench.input", tensor: input))
            file.tensors.append(SafetensorsTensor(name: "bench.output", tensor: output))
            try file.write(to: URL(fileURLWithPath: writeWeights))
            return
        }
        guard let weights else { return }
        let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: weights))
        let shape = try JSONDecoder().decode(Shape.self, from: Data((file.metadata["shape"] ?? "").utf8))
        var rng = SeededGenerator(seed: seed)
        let lstm = Self.make(shape, rng: &rng)
        for p in lstm.parameters { p.value = try file.tensor(named: Self.plain(p)) }
        let input = try file.tensor(named: "bench.input")
        var projection = (0..<shape.batch * shape.steps * shape.hidden * (shape.bidirectional ? 2 : 1)).map { _ in rng.uniform(bound: 1) }
        let inference = try Self.median(repeats: repeats, warmUp: warmUp) { _ = try Self.forward(lstm, input, shape) }
        let training = try Self.median(repeats: repeats, warmUp: warmUp) {
            for p in lstm.parameters { p.zeroGrad() }
            _ = try Self.forward(lstm, input, shape, training: true)
            _ = try projection.withUnsafeMutableBufferPointer { try lstm.backward($0.baseAddress!) }
        }
        let report: [String: Any] = [
            "inference_seconds_per_batch": inference, "train_seconds_per_batch": training,
            "inference_sequences_per_second": Double(shape.batch) / inference,
            "train_sequences_per_second": Double(shape.batch) / training,
            "threads": Parallel.workerCount,
        ]
        let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    static func make(_ s: Shape, rng: inout SeededGenerator) -> LSTM {
        LSTM(name: "", inputSize: s.input_size, hiddenSize: s.hidden, numLayers: s.layers, bidirectional: s.bidirectional, rng: &rng)
    }

    /// `weight_ih_l0`…: nn.LSTM's own names, without the empty module prefix.
    static func plain(_ p: Parameter) -> String { String(p.name.drop { $0 == "." }) }

    static func forward(_ lstm: LSTM, _ input: Tensor, _ s: Shape, training: Bool = false) throws -> Tensor {
        var x = input.data
        return try x.withUnsafeMutableBufferPointer { xb in
            let out = try lstm.forward(Activation(data: xb.baseAddress!, shape: ActivationShape(batch: s.batch, channels: s.steps, height: s.input_size)),
                                       training: training)
            return out.tensor([s.batch, s.steps, out.shape.height])
        }
    }

    static func median(repeats: Int, warmUp: Int, _ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<warmUp { try body() }
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        times.sort()
        return times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
    }
}
