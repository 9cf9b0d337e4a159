import NeuralNet
import Tagger
import XCTest

/// Forward/backward behaviour of the networks: shapes, modes, errors.
final class ModelBehaviourTests: XCTestCase {
    private let tiny = ArchitectureConfig(numGenres: 5, baseChannels: 4, embeddingDim: 8, blocks: [1, 1])

    func testOutputShapes() throws {
        for net in [makeNetwork(tiny, seed: 1),
                    makeNetwork(ArchitectureConfig(kind: .baseline, numGenres: 5, baseChannels: 2, embeddingDim: 8), seed: 1)] {
            let out = try net.forward(randomInput([3, 1, 32, 24], seed: 1), training: false)
            XCTAssertEqual(out.logits.shape, [3, 5])
            XCTAssertEqual(out.embeddings.shape, [3, 8])
            XCTAssertTrue(out.embeddings.data.allSatisfy { $0 >= 0 }, "embeddings come after a ReLU")
        }
    }

    /// In evaluation a sample's logits do not depend on the rest of the batch.
    func testEvaluationIsPerSample() throws {
        let net = makeNetwork(tiny, seed: 2)
        _ = try net.forward(randomInput([4, 1, 16, 16], seed: 1), training: true)
        let batch = randomInput([3, 1, 16, 16], seed: 2)
        let all = try net.forward(batch, training: false).logits
        let second = try Tensor(shape: [1, 1, 16, 16], data: Array(batch.data[256..<512]))
        let alone = try net.forward(second, training: false).logits
        for g in 0..<5 { XCTAssertEqual(alone.data[g], all.data[5 + g], accuracy: 1e-5) }
    }

    func testTrainingUpdatesRunningStatisticsAndEvaluationDoesNot() throws {
        let net = makeNetwork(tiny, seed: 3)
        let x = randomInput([4, 1, 16, 16], seed: 4)
        let tracked = { net.stateDict().first { $0.name == "embedding.1.num_batches_tracked" }!.tensor.data[0] }
        let mean = { net.stateDict().first { $0.name == "stem.1.running_mean" }!.tensor }
        let initial = mean()
        _ = try net.forward(x, training: false)
        XCTAssertEqual(mean(), initial)
        XCTAssertEqual(tracked(), 0)
        _ = try net.forward(x, training: true)
        XCTAssertNotEqual(mean(), initial)
        XCTAssertEqual(tracked(), 1)
    }

    func testBackwardAccumulatesUntilZeroGrad() throws {
        var config = tiny
        config.dropout = 0   // the same forward twice
        let net = makeNetwork(config, seed: 4)
        let x = randomInput([2, 1, 16, 16], seed: 5)
        let d = try Tensor(shape: [2, 5], data: [Float](repeating: 0.1, count: 10))
        _ = try net.forward(x, training: true)
        try net.backward(d)
        let once = net.parameters.map(\.grad)
        _ = try net.forward(x, training: true)
        try net.backward(d)
        for (p, g) in zip(net.parameters, once) {
            for i in 0..<min(4, g.count) { XCTAssertEqual(p.grad.data[i], 2 * g.data[i], accuracy: 1e-5 + 1e-4 * abs(g.data[i])) }
        }
        net.zeroGrad()
        XCTAssertTrue(net.parameters.allSatisfy { $0.grad.data.allSatisfy { $0 == 0 } })
    }

    func testWrongShapesThrowInsteadOfCrashing() throws {
        let net = makeNetwork(tiny, seed: 5)
        let cases: [(Tensor, String)] = [
            (Tensor(zeros: [2, 16, 16]), "expected input"),
            (Tensor(zeros: [2, 3, 16, 16]), "input channel"),
            (Tensor(zeros: [0, 1, 16, 16]), "empty batch"),
            (Tensor(zeros: [2, 1, 0, 5]), "too small"),
        ]
        for (x, message) in cases {
            XCTAssertThrowsError(try net.forward(x, training: false)) { error in
                XCTAssertTrue(error is ShapeError)
                XCTAssertTrue("\(error)".contains(message), "\(error) should mention \(message)")
            }
        }
        XCTAssertThrowsError(try net.forward(Tensor(zeros: [1, 1, 16, 16]), training: true)) {
            XCTAssertTrue("\($0)".contains("more than 1 value per channel"), "\($0)")
        }
        // backward without a training forward, then with a gradient of the wrong shape
        _ = try net.forward(randomInput([2, 1, 16, 16], seed: 1), training: false)
        XCTAssertThrowsError(try net.backward(Tensor(zeros: [2, 5]))) {
            XCTAssertTrue("\($0)".contains("forward(training: true)"), "\($0)")
        }
        _ = try net.forward(randomInput([2, 1, 16, 16], seed: 1), training: true)
        XCTAssertThrowsError(try net.backward(Tensor(zeros: [3, 5]))) {
            XCTAssertTrue("\($0)".contains("[2, 5]"), "\($0)")
        }
        XCTAssertNoThrow(try net.backward(Tensor(zeros: [2, 5])))
    }

    /// A batch of another size after a bigger one reuses the buffers and still computes right.
    func testChangingBatchSizeKeepsResultsConsistent() throws {
        let net = makeNetwork(tiny, seed: 6)
        _ = try net.forward(randomInput([4, 1, 16, 16], seed: 1), training: true)
        let x = randomInput([2, 1, 16, 16], seed: 2)
        let first = try net.forward(x, training: false).logits
        _ = try net.forward(randomInput([5, 1, 24, 20], seed: 3), training: false)
        XCTAssertEqual(try net.forward(x, training: false).logits, first)
    }
}
