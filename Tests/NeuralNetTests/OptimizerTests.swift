import XCTest
@testable import NeuralNet

/// Adam, AdamW and SGD against torch.optim on fixed gradients (optimizers.safetensors).
final class OptimizerTests: XCTestCase {
    struct Settings: Decodable {
        var lr: Float
        var betas: [Float]?
        var eps: Float?
        var weight_decay: Float?
        var momentum: Float?
        var nesterov: Bool?
    }

    static let names = ["a", "b"]

    func makeParameters(_ fixture: SafetensorsFile) throws -> [Parameter] {
        try Self.names.map { Parameter(name: $0, value: try fixture.tensor(named: "init.\($0)")) }
    }

    func makeOptimizer(_ kind: String, _ parameters: [Parameter], _ fixture: SafetensorsFile) throws -> any Optimizer {
        let settings = try XCTUnwrap(try fixture.metadataJSON("settings", as: [String: Settings].self)[kind])
        let betas = (settings.betas?[0] ?? 0.9, settings.betas?[1] ?? 0.999)
        switch kind {
        case "adam": return Adam(parameters: parameters, learningRate: settings.lr, betas: betas,
                                 eps: settings.eps ?? 1e-8, weightDecay: settings.weight_decay ?? 0)
        case "adamw": return AdamW(parameters: parameters, learningRate: settings.lr, betas: betas,
                                   eps: settings.eps ?? 1e-8, weightDecay: settings.weight_decay ?? 0)
        default: return SGD(parameters: parameters, learningRate: settings.lr, momentum: settings.momentum ?? 0,
                            nesterov: settings.nesterov ?? false, weightDecay: settings.weight_decay ?? 0)
        }
    }

    func setGradients(_ parameters: [Parameter], step: Int, _ fixture: SafetensorsFile) throws {
        for parameter in parameters { parameter.grad = try fixture.tensor(named: "grad\(step).\(parameter.name)") }
    }

    func testTrajectoriesAndStateMatchPyTorch() throws {
        let fixture = try ModelFixtures.load("optimizers")
        let steps = try fixture.metadataJSON("steps", as: Int.self)
        for kind in ["adam", "adamw", "sgd_momentum", "sgd_nesterov", "sgd_plain"] {
            let parameters = try makeParameters(fixture)
            let optimizer = try makeOptimizer(kind, parameters, fixture)
            for step in 0..<steps {
                try setGradients(parameters, step: step, fixture)
                optimizer.step()
                for parameter in parameters {
                    let expected = try fixture.tensor(named: "\(kind).step\(step + 1).\(parameter.name)")
                    assertClose(parameter.value, expected, rel: 1e-6, "\(kind) step \(step + 1) \(parameter.name)")
                }
            }
            // Our state names are torch's state keys.
            let state = optimizer.stateDict()
            let torchState = fixture.tensors.filter { $0.name.hasPrefix("\(kind).state.") }
            XCTAssertEqual(Set(state.map(\.name)), Set(torchState.map { String($0.name.dropFirst("\(kind).state.".count)) }), kind)
            for (name, tensor) in state {
                assertClose(tensor, try fixture.tensor(named: "\(kind).state.\(name)"), rel: 1e-6, "\(kind) state \(name)")
            }
        }
    }

    /// Saving the state through safetensors after 2 steps and resuming gives bit-identical weights.
    func testStateRoundTripThroughSafetensorsResumesExactly() throws {
        let fixture = try ModelFixtures.load("optimizers")
        for kind in ["adamw", "sgd_nesterov"] {
            let straight = try makeParameters(fixture)
            let straightOptimizer = try makeOptimizer(kind, straight, fixture)
            let first = try makeParameters(fixture)
            let firstOptimizer = try makeOptimizer(kind, first, fixture)
            for step in 0..<2 {
                try setGradients(straight, step: step, fixture); straightOptimizer.step()
                try setGradients(first, step: step, fixture); firstOptimizer.step()
            }
            let saved = SafetensorsFile(tensors: (first.map { ($0.name, $0.value) } + firstOptimizer.stateDict())
                .map { SafetensorsTensor(name: $0.0, tensor: $0.1) })
            let loaded = try SafetensorsFile(bytes: saved.serialized()).stateDict
            let resumed = try Self.names.map { Parameter(name: $0, value: try XCTUnwrap(loaded[$0])) }
            let resumedOptimizer = try makeOptimizer(kind, resumed, fixture)
            try resumedOptimizer.loadStateDict(loaded.filter { !Self.names.contains($0.key) })
            for step in 2..<4 {
                try setGradients(straight, step: step, fixture); straightOptimizer.step()
                try setGradients(resumed, step: step, fixture); resumedOptimizer.step()
            }
            for (a, b) in zip(straight, resumed) { XCTAssertEqual(a.value, b.value, "\(kind) \(a.name)") }
        }
    }

    func testLoadStateDictListsEveryProblemAndKeepsState() throws {
        let parameters = [Parameter(name: "w", value: Tensor(zeros: [2, 2])), Parameter(name: "b", value: Tensor(zeros: [3]))]
        let optimizer = AdamW(parameters: parameters)
        for p in parameters { p.grad = try Tensor(shape: p.value.shape, data: Array(repeating: 1, count: p.value.count)) }
        optimizer.step()
        let before = optimizer.stateDict()
        let bad: [String: Tensor] = ["w.step": Tensor(zeros: [1]), "w.exp_avg": Tensor(zeros: [4]),
                                     "b.exp_avg": Tensor(zeros: [3]), "c.step": Tensor(zeros: [1])]
        XCTAssertThrowsError(try optimizer.loadStateDict(bad)) { error in
            let error = error as? OptimizerStateError
            XCTAssertEqual(error?.missing, ["w.exp_avg_sq", "b.step", "b.exp_avg_sq"])
            XCTAssertEqual(error?.unexpected, ["c.step"])
            XCTAssertEqual(error?.wrongShape, ["w.exp_avg expected [2, 2] got [4]"])
        }
        XCTAssertEqual(optimizer.stateDict().map(\.tensor), before.map(\.tensor), "a failed load must not change the state")
    }

    func testZeroGradClearsEveryGradient() throws {
        let parameters = [Parameter(name: "w", value: Tensor(zeros: [2]))]
        parameters[0].grad = try Tensor(shape: [2], data: [1, -2])
        SGD(parameters: parameters, learningRate: 0.1).zeroGrad()
        XCTAssertEqual(parameters[0].grad.data, [0, 0])
    }
}
