import Foundation
import NeuralNet
import XCTest
@testable import Tagger

/// Similarity-preserving distillation of a teacher's embeddings (`training.teacher_embeddings`,
/// `training.relational_distillation_weight`): the loss and its gradient against PyTorch
/// (Tests/Fixtures/model/relational.safetensors, tools/golden/make_model_fixtures.py relational),
/// through the whole network too, the mixed teacher vector of a mixup pair, and the CSV's reader.
final class RelationalDistillationTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/model/relational.safetensors")

    func assertClose(_ actual: Tensor, _ expected: Tensor, rel: Float, abs absolute: Float = 0, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        guard actual.count == expected.count, actual.count > 0 else { return XCTFail("\(what): \(actual.count) values, expected \(expected.count)", file: file, line: line) }
        let scale = max(expected.data.map(abs).max() ?? 0, 1e-12)
        let error = zip(actual.data, expected.data).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(error, rel * scale + absolute, "\(what): max error \(error), scale \(scale)", file: file, line: line)
    }

    func rows(_ t: Tensor) -> [[Float]] {
        let d = t.shape[1]
        return (0..<t.shape[0]).map { Array(t.data[($0 * d)..<(($0 + 1) * d)]) }
    }

    func testLossAndGradientMatchPyTorch() throws {
        let golden = try SafetensorsFile(contentsOf: Self.fixture)
        let embeddings = try golden.tensor(named: "alone.embeddings")
        let known = try golden.tensor(named: "alone.known").data
        let teacher = zip(rows(try golden.tensor(named: "alone.teacher")), known).map { $1 > 0 ? $0 : nil }
        XCTAssertEqual(teacher.filter { $0 == nil }.count, 2, "two examples without a teacher vector")
        let (loss, gradient) = RelationalDistillation.loss(embeddings: embeddings, teacher: teacher, weight: 0.7)
        XCTAssertEqual(loss, try golden.tensor(named: "alone.loss").data[0], accuracy: 1e-6)
        assertClose(gradient, try golden.tensor(named: "alone.grad"), rel: 1e-5, "dL/d embeddings")
        for (i, k) in known.enumerated() where k == 0 {
            XCTAssertTrue(gradient.data[(i * 6)..<((i + 1) * 6)].allSatisfy { $0 == 0 }, "no gradient for example \(i) without a teacher")
        }
        // Fewer than two known examples, or weight 0: nothing to match.
        let one = RelationalDistillation.loss(embeddings: embeddings, teacher: [teacher[0]] + Array(repeating: nil, count: 6), weight: 1)
        XCTAssertEqual(one.loss, 0)
        XCTAssertTrue(one.gradient.data.allSatisfy { $0 == 0 })
        XCTAssertEqual(RelationalDistillation.loss(embeddings: embeddings, teacher: teacher, weight: 0).loss, 0)

        // The neighbour form (KL of each example's softmax over the others), τ 0.2.
        let kl = RelationalDistillation.neighbourLoss(embeddings: embeddings, teacher: teacher, weight: 0.7, temperature: 0.2)
        XCTAssertEqual(kl.loss, try golden.tensor(named: "neighbours.loss").data[0], accuracy: 1e-6)
        assertClose(kl.gradient, try golden.tensor(named: "neighbours.grad"), rel: 1e-5, "neighbours: dL/d embeddings")
        // A student with the teacher's own directions has no loss.
        let same = RelationalDistillation.neighbourLoss(embeddings: try Tensor(shape: [3, 2], data: [1, 0, 0, 1, 1, 1]),
                                                        teacher: [[1, 0], [0, 1], [Float(0.5).squareRoot(), Float(0.5).squareRoot()]],
                                                        weight: 1, temperature: 0.2)
        XCTAssertEqual(same.loss, 0, accuracy: 1e-6)
    }

    /// BCE on the logits plus the relational loss on the embeddings, backward through the tiny
    /// ResNet-SE in train mode: every parameter's gradient as PyTorch's.
    func testThroughTheNetworkEveryGradientMatchesPyTorch() throws {
        let golden = try SafetensorsFile(contentsOf: Self.fixture)
        let config = try JSONDecoder().decode(ArchitectureConfig.self, from: Data(try XCTUnwrap(golden.metadata["config"]).utf8))
        let net = makeNetwork(config, seed: 0)
        var weights: [String: Tensor] = [:]
        for entry in golden.tensors where entry.name.hasPrefix("net.weights.") { weights[String(entry.name.dropFirst(12))] = entry.tensor }
        try net.loadStateDict(weights)
        net.zeroGrad()
        let output = try net.forward(try golden.tensor(named: "net.input"), training: true)
        let (bce, dLogits) = try BCEWithLogitsLoss(posWeight: nil)(logits: output.logits, targets: try golden.tensor(named: "net.targets"))
        let relational = RelationalDistillation.loss(embeddings: output.embeddings, teacher: rows(try golden.tensor(named: "net.teacher")), weight: 0.5)
        XCTAssertEqual(bce + relational.loss, try golden.tensor(named: "net.loss").data[0], accuracy: 1e-5)
        XCTAssertGreaterThan(relational.loss, 0.01, "the fixture's teacher disagrees with the network, so the loss matters")
        try net.backward(dLogits, dEmbeddings: relational.gradient)
        var checked = 0
        for parameter in net.parameters {
            let expected = try golden.tensor(named: "net.grad.\(parameter.name)")
            // embedding.0.bias sits before BatchNorm: zero in exact arithmetic, noise on both sides.
            assertClose(parameter.grad, expected, rel: 1e-3, abs: parameter.name == "embedding.0.bias" ? 2e-5 : 1e-6, "grad \(parameter.name)")
            checked += 1
        }
        XCTAssertEqual(checked, net.parameters.count)

        // The embedding gradient is used once: a plain backward after it is the BCE's alone.
        net.zeroGrad()
        _ = try net.forward(try golden.tensor(named: "net.input"), training: true)
        try net.backward(dLogits)
        let classifierOnly = net.parameters.first { $0.name == "embedding.0.weight" }!.grad
        XCTAssertNotEqual(classifierOnly.data, try golden.tensor(named: "net.grad.embedding.0.weight").data)
        XCTAssertThrowsError(try net.backward(dLogits, dEmbeddings: Tensor(zeros: [3, 16]))) {
            XCTAssertTrue("\($0)".contains("gradient of the embeddings"), "\($0)")
        }
    }

    func testMixedTeacherVectorIsTheUnitBlendAndUnknownUnlessBothAreKnown() throws {
        let a: [Float] = [1, 0, 0], b: [Float] = [0, 1, 0]
        XCTAssertNil(RelationalDistillation.mixed(a, nil, lambda: 0.7))
        XCTAssertNil(RelationalDistillation.mixed(nil, b, lambda: 0.7))
        let m = try XCTUnwrap(RelationalDistillation.mixed(a, b, lambda: 0.75))
        XCTAssertEqual(m[0], 0.75 / (0.75 * 0.75 + 0.25 * 0.25).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(m.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-6)
        XCTAssertNil(RelationalDistillation.mixed(a, a.map { -$0 }, lambda: 0.5), "opposite vectors blend to no direction")
    }

    func testTeacherEmbeddingTableNormalisesRowsAndReportsEveryProblem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("timbre-teacher-emb-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ text: String, _ name: String) -> String {
            let path = dir.appendingPathComponent(name).path
            try! text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let text = TeacherEmbeddingTable.csvText(dimension: 2, rows: [("a dir/with, comma.wav", [3, 4]), ("b.wav", [0, 2])])
        let table = try TeacherEmbeddingTable.read(csvAt: write(text, "ok.csv"))
        XCTAssertEqual(table.dimension, 2)
        XCTAssertEqual(table.rows["a dir/with, comma.wav"]?[0] ?? 0, 0.6, accuracy: 1e-6)
        XCTAssertEqual(table.rows["b.wav"], [0, 1])
        XCTAssertThrowsError(try TeacherEmbeddingTable.read(csvAt: write("path,e0,e1\nx.wav,1\nx2.wav,0,0\ny.wav,nan,1\ny.wav,1,1\ny.wav,1,2\n", "bad.csv"))) { error in
            for expected in ["line 2: 2 columns, the header has 3", "line 3: the vector is all zeros", "line 4: every value must be a finite number",
                             "line 6: y.wav is listed twice"] {
                XCTAssertTrue("\(error)".contains(expected), "\(expected) in \(error)")
            }
        }
        XCTAssertThrowsError(try TeacherEmbeddingTable.read(csvAt: write("file,tags\n", "header.csv"))) {
            XCTAssertTrue("\($0)".contains("the header must be path,e0,e1"), "\($0)")
        }
        var config = ExperimentConfig()
        config.training.relationalDistillationWeight = 1
        XCTAssertTrue(config.problems.contains { $0.contains("needs training.teacher_embeddings") }, "\(config.problems)")
        config.training.relationalDistillationWeight = -1
        XCTAssertTrue(config.problems.contains { $0.contains("relational_distillation_weight must be 0 or more") })
    }

    /// Optimising the loss alone (no tag loss) through a tiny ResNet-SE on a fixed batch: the
    /// student's similarities come to the teacher's, in both forms.
    func testOptimisingTheLossAloneDrawsTheNetworkToTheTeacher() throws {
        for form in ["cosine", "neighbours"] {
            let config = ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0, blocks: [1], attentionReduction: 2)
            let net = makeNetwork(config, seed: 7)
            var rng = SeededGenerator(seed: 5)
            let input = try Tensor(shape: [8, 1, 16, 16], data: (0..<(8 * 256)).map { _ in rng.nextUnitFloat() * 2 - 1 })
            let teacher: [[Float]?] = (0..<8).map { $0 % 2 == 0 ? [1, 0] : [0, 1] }
            let optimizer = AdamW(parameters: net.parameters, learningRate: 0.01, weightDecay: 0)
            func step() throws -> Float {
                net.zeroGrad()
                let output = try net.forward(input, training: true)
                let (loss, gradient) = form == "cosine"
                    ? RelationalDistillation.loss(embeddings: output.embeddings, teacher: teacher, weight: 1)
                    : RelationalDistillation.neighbourLoss(embeddings: output.embeddings, teacher: teacher, weight: 1, temperature: 0.1)
                try net.backward(Tensor(zeros: [8, 3]), dEmbeddings: gradient)
                optimizer.step()
                return loss
            }
            let first = try step()
            var last = first
            for _ in 0..<60 { last = try step() }
            XCTAssertLessThan(last, 0.3 * first, "\(form): loss \(first) → \(last)")
        }
    }
}
