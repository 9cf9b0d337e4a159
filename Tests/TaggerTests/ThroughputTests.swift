import COpenBLAS
import Foundation
import NeuralNet
import Tagger
import XCTest

/// Throughput of the default model (50 genres, base 64, batch 32, chunks 1×128×128) against a
/// plain sgemm on this machine. Skipped unless TIMBRE_PERF=1 (it takes tens of seconds):
/// `TIMBRE_PERF=1 swift test -c release --skip-build -Xswiftc -enable-testing --filter ThroughputTests`;
/// one core in CPU time: add `TIMBRE_THREADS=1 TIMBRE_PERF_CLOCK=cpu`.
final class ThroughputTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["TIMBRE_PERF"] == "1", "set TIMBRE_PERF=1 to measure")
    }

    func testDefaultModelThroughput() throws {
        let batch = 32, iterations = Int(ProcessInfo.processInfo.environment["TIMBRE_PERF_ITERATIONS"] ?? "") ?? 3
        let net = makeNetwork(ArchitectureConfig(numGenres: 50), seed: 1)
        let x = randomInput([batch, 1, 128, 128], seed: 2)
        let dLogits = randomInput([batch, 50], seed: 3)
        let forwardFlops = Double(Self.forwardMultiplyAdds()) * 2
        // Backward: dW for every conv/linear, dX for all but the stem conv.
        let stem = 2.0 * 64 * 49 * 64 * 64
        let trainFlops = forwardFlops * 3 - stem

        _ = try net.forward(x, training: false)   // buffers allocated here, once
        let forward = try Self.seconds(iterations) { _ = try net.forward(x, training: false) }
        _ = try net.forward(x, training: true)
        try net.backward(dLogits)
        let train = try Self.seconds(iterations) {
            _ = try net.forward(x, training: true)
            try net.backward(dLogits)
        }
        let peak = Self.sgemmGFLOPs(n: 1024)
        let report = String(format: """
            default model, batch %d, %d threads, %@ time (forward %.2f GFLOP/chunk):
              sgemm 1024³ peak         %7.1f GFLOP/s
              forward (eval)   %7.1f chunks/s  %7.1f GFLOP/s  (%.0f%% of sgemm)
              train step       %7.1f chunks/s  %7.1f GFLOP/s  (%.0f%% of sgemm)
            """, batch, Parallel.workerCount, ProcessInfo.processInfo.environment["TIMBRE_PERF_CLOCK"] == "cpu" ? "CPU" : "wall",
            forwardFlops / 1e9,
            peak,
            Double(batch) / forward, forwardFlops * Double(batch) / forward / 1e9, 100 * forwardFlops * Double(batch) / forward / 1e9 / peak,
            Double(batch) / train, trainFlops * Double(batch) / train / 1e9, 100 * trainFlops * Double(batch) / train / 1e9 / peak)
        print(report)
        XCTAssertGreaterThan(forward, 0)
    }

    /// Multiply-adds of one 1×128×128 chunk through the convolutions and linear layers.
    static func forwardMultiplyAdds() -> Int {
        func conv(_ c: Int, _ k: Int, _ kernel: Int, _ size: Int) -> Int { c * k * kernel * kernel * size * size }
        var total = conv(1, 64, 7, 64)                                // stem at 64×64
        total += 4 * conv(64, 64, 3, 32)                               // stage 0 at 32×32
        total += conv(64, 128, 3, 16) + 5 * conv(128, 128, 3, 16) + conv(64, 128, 1, 16)
        total += conv(128, 256, 3, 8) + 3 * conv(256, 256, 3, 8) + conv(128, 256, 1, 8)
        total += 256 * 256 + 256 * 50
        return total
    }

    /// Seconds per iteration: wall-clock, or the process's CPU time when TIMBRE_PERF_CLOCK=cpu
    /// (with TIMBRE_THREADS=1 that measures one core even on a machine busy with other work).
    static func seconds(_ iterations: Int, _ body: () throws -> Void) rethrows -> Double {
        let cpu = ProcessInfo.processInfo.environment["TIMBRE_PERF_CLOCK"] == "cpu"
        func now() -> Double {
            var t = timespec()
            clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        let start = now()
        for _ in 0..<iterations { try body() }
        return (now() - start) / Double(iterations)
    }

    static func sgemmGFLOPs(n: Int) -> Double {
        BLASThreads.configure()
        let a = [Float](repeating: 0.5, count: n * n), b = a
        var c = [Float](repeating: 0, count: n * n)
        let run = {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                        1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
        }
        run()
        let t = seconds(5) { run() }
        return 2 * Double(n * n * n) / t / 1e9
    }
}
