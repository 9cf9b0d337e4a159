import Foundation

/// L2-regularised logistic regression fit by Newton's method (IRLS) — the "linear probe" that
/// starts a new tag's classifier row when a model grows (linear probing, then fine-tuning:
/// the new output begins where the frozen embedding already separates the corrections, so
/// fine-tuning refines features instead of first dragging them towards a random row).
///
/// Minimises Σᵢ wᵢ · BCE(σ(xᵢ·β + b), yᵢ) + (λ/2)‖β‖² — the bias is not penalised, as in
/// scikit-learn's `LogisticRegression` (whose `C` is 1/λ when every sample weighs 1).
public enum LogisticProbe {
    public struct Fit: Equatable, Sendable {
        public var weight: [Float]
        public var bias: Float
        public var iterations: Int
    }

    /// `features`: n rows of `dimension` values, row-major; `targets` in [0, 1]; `weights` ≥ 0.
    public static func fit(features: [Float], dimension d: Int, targets: [Float], weights: [Float],
                           l2 lambda: Double = 1, maxIterations: Int = 50, tolerance: Double = 1e-8) -> Fit {
        let n = targets.count
        precondition(features.count == n * d && weights.count == n && d > 0)
        let p = d + 1  // β then b
        var beta = [Double](repeating: 0, count: p)
        // Start the bias at the weighted log-odds: the fit then only has to find the direction.
        let totalWeight = weights.reduce(0, { $0 + Double($1) })
        let positive = zip(targets, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        if totalWeight > 0 {
            let rate = min(max(positive / totalWeight, 1e-4), 1 - 1e-4)
            beta[d] = log(rate / (1 - rate))
        }
        var iterations = 0
        var previous = Double.infinity
        var x = [Double](repeating: 0, count: p)
        for iteration in 1...max(1, maxIterations) {
            iterations = iteration
            var gradient = [Double](repeating: 0, count: p)
            var hessian = [Double](repeating: 0, count: p * p)
            var objective = 0.0
            for i in 0..<n {
                let w = Double(weights[i])
                guard w > 0 else { continue }
                for j in 0..<d { x[j] = Double(features[i * d + j]) }
                x[d] = 1
                var z = 0.0
                for j in 0..<p { z += x[j] * beta[j] }
                let q = 1 / (1 + exp(-z)), y = Double(targets[i])
                // log(1 + e^z) − y z, stably.
                objective += w * ((z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y * z)
                let r = w * (q - y), s = w * q * (1 - q)
                for j in 0..<p {
                    gradient[j] += r * x[j]
                    let sx = s * x[j]
                    guard sx != 0 else { continue }
                    for k in j..<p { hessian[j * p + k] += sx * x[k] }
                }
            }
            for j in 0..<d {
                objective += 0.5 * lambda * beta[j] * beta[j]
                gradient[j] += lambda * beta[j]
                hessian[j * p + j] += lambda
            }
            hessian[d * p + d] += 1e-9
            for j in 0..<p { for k in 0..<j { hessian[j * p + k] = hessian[k * p + j] } }
            guard let step = solveSPD(hessian, gradient, size: p) else { break }
            // Newton step with halving until the objective does not rise (it rarely must).
            var scale = 1.0
            var candidate = beta
            for _ in 0..<20 {
                for j in 0..<p { candidate[j] = beta[j] - scale * step[j] }
                if Self.objective(features, d, targets, weights, lambda, candidate) <= objective + 1e-12 { break }
                scale /= 2
            }
            beta = candidate
            if abs(previous - objective) <= tolerance * max(1, abs(objective)) { break }
            previous = objective
        }
        return Fit(weight: beta[0..<d].map { Float($0) }, bias: Float(beta[d]), iterations: iterations)
    }

    static func objective(_ features: [Float], _ d: Int, _ targets: [Float], _ weights: [Float], _ lambda: Double,
                          _ beta: [Double]) -> Double {
        var total = 0.0
        for i in 0..<targets.count where weights[i] > 0 {
            var z = beta[d]
            for j in 0..<d { z += Double(features[i * d + j]) * beta[j] }
            total += Double(weights[i]) * ((z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - Double(targets[i]) * z)
        }
        for j in 0..<d { total += 0.5 * lambda * beta[j] * beta[j] }
        return total
    }

    /// Solves A x = b for a symmetric positive-definite A (size × size, row-major) by Cholesky;
    /// nil when A is not positive definite.
    static func solveSPD(_ a: [Double], _ b: [Double], size n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard sum > 0 else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        var y = [Double](repeating: 0, count: n)
        for i in 0..<n {
            var sum = b[i]
            for k in 0..<i { sum -= l[i * n + k] * y[k] }
            y[i] = sum / l[i * n + i]
        }
        var x = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = y[i]
            for k in (i + 1)..<n { sum -= l[k * n + i] * x[k] }
            x[i] = sum / l[i * n + i]
        }
        return x
    }
}
