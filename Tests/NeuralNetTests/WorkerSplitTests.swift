import NeuralNet
import Foundation
import XCTest

/// The layers that split their GEMMs across workers (Conv2d by samples, Linear by rows) give the
/// one-worker results for any worker count, and the same bits on every run of one count.
final class WorkerSplitTests: XCTestCase {
    /// Outputs, input gradients and parameter gradients of one forward/backward pass.
    struct Pass: Equatable {
        var output: [Float], inputGradient: [Float], parameterGradients: [[Float]]
    }

    func run(_ layer: any Layer, input: [Float], shape: ActivationShape, outputGradient: [Float], workers: Int) throws -> Pass {
        try Parallel.withWorkerCount(workers) {
            for p in layer.parameters { p.zeroGrad() }
            var x = input, dy = outputGradient
            let out = try x.withUnsafeMutableBufferPointer { xb in
                Array(try layer.forward(Activation(data: xb.baseAddress!, shape: shape), training: true).buffer)
            }
            XCTAssertEqual(out.count, dy.count)
            let dx = try dy.withUnsafeMutableBufferPointer { db in
                Array(UnsafeBufferPointer(start: try layer.backward(db.baseAddress!), count: shape.count))
            }
            return Pass(output: out, inputGradient: dx, parameterGradients: layer.parameters.map(\.grad.data))
        }
    }

    /// |a − b| ≤ 1e-5 relative to the largest magnitude in `expected`.
    func assertClose(_ actual: [Float], _ expected: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        let scale = max(expected.map(abs).max() ?? 0, Float.leastNormalMagnitude)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, 1e-5, "\(what): max difference \(worst) at scale \(scale)", file: file, line: line)
    }

    func checkSplits(_ layer: any Layer, shape: ActivationShape, outputCount: Int, seed: UInt64,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SeededGenerator(seed: seed)
        let input = (0..<shape.count).map { _ in rng.uniform(bound: 1) }
        let dy = (0..<outputCount).map { _ in rng.uniform(bound: 1) }
        let one = try run(layer, input: input, shape: shape, outputGradient: dy, workers: 1)
        XCTAssertGreaterThan(one.parameterGradients.flatMap { $0 }.map(abs).max() ?? 0, 0, file: file, line: line)
        for workers in [2, 3, 5] {
            let split = try run(layer, input: input, shape: shape, outputGradient: dy, workers: workers)
            assertClose(split.output, one.output, "output, \(workers) workers", file: file, line: line)
            assertClose(split.inputGradient, one.inputGradient, "input gradient, \(workers) workers", file: file, line: line)
            for (g, g1) in zip(split.parameterGradients, one.parameterGradients) {
                assertClose(g, g1, "parameter gradient, \(workers) workers", file: file, line: line)
            }
            let again = try run(layer, input: input, shape: shape, outputGradient: dy, workers: workers)
            XCTAssertEqual(again, split, "a second run with \(workers) workers differs", file: file, line: line)
        }
    }

    /// Planes of 16×16 and up: one GEMM per sample, straight into NCHW.
    func testConv2dPerSampleProducts() throws {
        var rng = SeededGenerator(seed: 31)
        let conv = Conv2d(name: "c", inChannels: 3, outChannels: 5, kernelSize: 3, stride: 1, padding: 1, bias: true, rng: &rng)
        conv.usesWinograd = false
        let shape = ActivationShape(batch: 7, channels: 3, height: 16, width: 17)
        try checkSplits(conv, shape: shape, outputCount: 7 * 5 * 16 * 17, seed: 32)
    }

    /// Winograd's forward and input gradient, in groups of samples.
    func testConv2dWinograd() throws {
        var rng = SeededGenerator(seed: 37)
        let conv = Conv2d(name: "c", inChannels: 24, outChannels: 20, kernelSize: 3, stride: 1, padding: 1, bias: true, rng: &rng)
        let shape = ActivationShape(batch: 11, channels: 24, height: 9, width: 6)
        try checkSplits(conv, shape: shape, outputCount: 11 * 20 * 9 * 6, seed: 38)
    }

    /// Small planes: samples grouped into shared GEMMs, several groups per worker.
    func testConv2dGroupedProducts() throws {
        var rng = SeededGenerator(seed: 33)
        let conv = Conv2d(name: "c", inChannels: 128, outChannels: 6, kernelSize: 3, stride: 2, padding: 1, bias: true, rng: &rng)
        let shape = ActivationShape(batch: 19, channels: 128, height: 15, width: 15)
        try checkSplits(conv, shape: shape, outputCount: 19 * 6 * 8 * 8, seed: 34)
    }

    /// A product big enough to be split by rows (batch rows forward, weight rows backward).
    func testLinearRowBlocks() throws {
        var rng = SeededGenerator(seed: 35)
        let linear = Linear(name: "l", inFeatures: 512, outFeatures: 256, rng: &rng)
        let shape = ActivationShape(batch: 67, channels: 512)
        try checkSplits(linear, shape: shape, outputCount: 67 * 256, seed: 36)
    }

    func testChunksCoverTheRangeInOrder() {
        for count in [0, 1, 5, 32, 33] {
            for chunks in 1...4 {
                let parts = (0..<chunks).map { Parallel.chunk($0, of: chunks, count: count) }
                XCTAssertEqual(parts.first?.lowerBound, 0)
                XCTAssertEqual(parts.last?.upperBound, count)
                for (a, b) in zip(parts, parts.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            }
        }
    }

    /// Parts taken as workers come free: each of the fixed parts runs exactly once, on a worker
    /// index below the worker count, whatever the scheduling.
    func testPartsRunOnceEach() {
        final class Log: @unchecked Sendable {
            let lock = NSLock()
            var runs: [(worker: Int, range: Range<Int>)] = []
        }
        for (count, parts, workers) in [(32, 32, 2), (33, 5, 3), (7, 7, 1), (10, 3, 8)] {
            let log = Log()
            Parallel.forEachPart(count, parts: parts, workers: workers) { worker, range in
                log.lock.lock(); log.runs.append((worker, range)); log.lock.unlock()
            }
            let ranges = log.runs.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(ranges, (0..<parts).map { Parallel.chunk($0, of: parts, count: count) }, "\(count) in \(parts)")
            XCTAssertTrue(log.runs.allSatisfy { (0..<min(workers, parts)).contains($0.worker) }, "\(count) in \(parts)")
        }
    }
}
