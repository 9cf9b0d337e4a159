import NeuralNet
import XCTest

/// Compares analytic gradients with central differences (f(x+ε) − f(x−ε)) / 2ε of a scalar loss
/// computed in double from Float32 outputs.
struct GradientCheck {
    var eps: Float = 1e-2
    /// Allowed error: rtol·|analytic| + atol·rms(analytic of the whole tensor).
    var rtol: Double = 1e-2
    var atol: Double = 1e-2
    /// Coordinates sampled per tensor (all when the tensor is smaller).
    var samples = 40
    /// Fraction of sampled coordinates allowed to miss (kinks of ReLU/max crossed by ±ε in a whole network).
    var allowedMissFraction = 0.0

    /// `perturb(i, δ)` adds δ to coordinate i; `loss` recomputes the forward pass.
    func check(_ name: String, analytic: [Float], perturb: (Int, Float) -> Void, loss: () throws -> Double,
               rng: inout SeededGenerator, file: StaticString = #filePath, line: UInt = #line) rethrows {
        let n = analytic.count
        guard n > 0 else { return XCTFail("\(name): empty gradient", file: file, line: line) }
        let rms = (analytic.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)).squareRoot()
        var coordinates = Array(0..<n)
        if n > samples {
            coordinates.shuffle(using: &rng)
            coordinates = Array(coordinates.prefix(samples))
        }
        var misses: [String] = []
        for i in coordinates {
            perturb(i, eps)
            let plus = try loss()
            perturb(i, -2 * eps)
            let minus = try loss()
            perturb(i, eps)
            let numeric = (plus - minus) / Double(2 * eps)
            let a = Double(analytic[i])
            if abs(numeric - a) > rtol * abs(a) + atol * max(rms, 1e-6) {
                misses.append("[\(i)] analytic \(a) numeric \(numeric)")
            }
        }
        let allowed = Int(Double(coordinates.count) * allowedMissFraction)
        XCTAssertLessThanOrEqual(misses.count, allowed,
                                 "\(name): \(misses.count) of \(coordinates.count) coordinates off (rms \(rms)): "
                                    + misses.prefix(5).joined(separator: ", "), file: file, line: line)
        XCTAssertGreaterThan(rms, 0, "\(name): gradient is all zeros, the check would be vacuous", file: file, line: line)
    }
}

/// Drives one layer through forward/backward on a random input with loss Σ r·out.
final class LayerHarness {
    let input: FloatStorage
    let shape: ActivationShape
    var rng = SeededGenerator(seed: 42)

    init(shape: ActivationShape, values: (inout SeededGenerator, Int) -> Float = { rng, _ in rng.uniform(bound: 1) }) {
        self.shape = shape
        input = FloatStorage(capacity: shape.count)
        for i in 0..<shape.count { input.pointer[i] = values(&rng, i) }
    }

    var activation: Activation { Activation(data: input.pointer, shape: shape) }

    /// Checks the input gradient (when `checkInput`) and every parameter's gradient of `layer`.
    func checkGradients(of layer: any Layer, training: Bool, check: GradientCheck = GradientCheck(),
                        checkInput: Bool = true, beforeForward: () -> Void = {},
                        file: StaticString = #filePath, line: UInt = #line) throws {
        beforeForward()
        let outCount = try layer.forward(activation, training: training).shape.count
        var projection = (0..<outCount).map { _ in rng.uniform(bound: 1) }
        let loss = { [self] () throws -> Double in
            beforeForward()
            let out = try layer.forward(activation, training: training)
            var sum = 0.0
            for i in 0..<outCount { sum += Double(projection[i]) * Double(out.data[i]) }
            return sum
        }
        for p in layer.parameters { p.zeroGrad() }
        beforeForward()
        _ = try layer.forward(activation, training: training)
        let dinp = try projection.withUnsafeMutableBufferPointer { try layer.backward($0.baseAddress!) }
        let inputGradient = Array(UnsafeBufferPointer(start: dinp, count: shape.count))
        var checkRNG = SeededGenerator(seed: 9)
        if checkInput {
            try check.check("input", analytic: inputGradient, perturb: { input.pointer[$0] += $1 }, loss: loss,
                            rng: &checkRNG, file: file, line: line)
        }
        for p in layer.parameters {
            try check.check(p.name, analytic: p.grad.data, perturb: { p.value.data[$0] += $1 }, loss: loss,
                            rng: &checkRNG, file: file, line: line)
        }
    }
}

/// Values at least `gap` apart in random order, so ±ε never changes which is the max or the sign.
func distinctValues(count: Int, gap: Float = 0.05, rng: inout SeededGenerator) -> [Float] {
    var values = (0..<count).map { (Float($0) - Float(count) / 2) * gap + gap / 2 }
    values.shuffle(using: &rng)
    return values
}
