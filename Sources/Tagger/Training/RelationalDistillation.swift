import Foundation
import NeuralNet

/// Similarity-preserving distillation of a teacher's embeddings: among the examples of a batch
/// that have a teacher vector, the student's cosine similarities should be the teacher's,
///
///     L = w · mean over pairs i ≠ j of (cos(e_i, e_j) − cos(t_i, t_j))²,
///
/// so that tracks the teacher finds alike are neighbours of the student's embedding too. The
/// student's vectors are the network's embeddings (before dropout); no layer is added.
public enum RelationalDistillation {
    /// The loss and its gradient with respect to `embeddings` ((B, D)); `teacher[i]` is example
    /// i's unit teacher vector, nil when it has none. Fewer than two known examples: zero loss,
    /// zero gradient.
    public static func loss(embeddings: Tensor, teacher: [[Float]?], weight: Float) -> (loss: Float, gradient: Tensor) {
        let b = embeddings.shape[0], d = embeddings.count / max(1, b)
        var gradient = Tensor(zeros: embeddings.shape)
        let known = teacher.indices.filter { $0 < b && teacher[$0] != nil }
        let n = known.count
        guard n >= 2, weight > 0 else { return (0, gradient) }
        let rows = UnitRows(embeddings, known)
        let unit = rows.unit
        let pairs = Float(n * (n - 1))
        var total: Float = 0
        // dL/dû_r = (4w / pairs) Σ_{s≠r} (S_rs − T_rs) û_s
        var dUnit = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            for s in 0..<n where s != r {
                var student: Float = 0
                for k in 0..<d { student += unit[r * d + k] * unit[s * d + k] }
                let t = teacher[known[r]]!, u = teacher[known[s]]!
                var target: Float = 0
                for k in 0..<min(t.count, u.count) { target += t[k] * u[k] }
                let diff = student - target
                total += diff * diff
                let scale = 4 * weight / pairs * diff
                for k in 0..<d { dUnit[r * d + k] += scale * unit[s * d + k] }
            }
        }
        rows.backward(dUnit, into: &gradient)
        return (weight * total / pairs, gradient)
    }

    /// The neighbour form, which ranks rather than matches levels: for each example i with a
    /// teacher vector, the distribution over the batch's other such examples j,
    /// softmax_j(cos(t_i, t_j)/τ), should be the student's softmax_j(cos(e_i, e_j)/τ):
    ///
    ///     L = w · mean over i of KL(p_i ‖ q_i),
    ///
    /// unchanged when a row's similarities all move together, so the student keeps its own
    /// overall level of similarity and learns only who is nearer whom.
    public static func neighbourLoss(embeddings: Tensor, teacher: [[Float]?], weight: Float,
                                     temperature: Float) -> (loss: Float, gradient: Tensor) {
        let b = embeddings.shape[0], d = embeddings.count / max(1, b)
        var gradient = Tensor(zeros: embeddings.shape)
        let known = teacher.indices.filter { $0 < b && teacher[$0] != nil }
        let n = known.count
        guard n >= 3, weight > 0, temperature > 0 else { return (0, gradient) }
        let rows = UnitRows(embeddings, known)
        let unit = rows.unit
        func softmax(_ logits: [Float]) -> [Float] {
            let m = logits.max() ?? 0
            let e = logits.map { exp($0 - m) }
            let z = e.reduce(0, +)
            return e.map { $0 / z }
        }
        var total: Float = 0
        // g[r][s] = dL/dS_rs = w/n · (q_rs − p_rs)/τ, over s ≠ r
        var g = [Float](repeating: 0, count: n * n)
        for r in 0..<n {
            let others = (0..<n).filter { $0 != r }
            let t = teacher[known[r]]!
            let teacherLogits = others.map { s -> Float in
                let u = teacher[known[s]]!
                var dot: Float = 0
                for k in 0..<min(t.count, u.count) { dot += t[k] * u[k] }
                return dot / temperature
            }
            let studentLogits = others.map { s -> Float in
                var dot: Float = 0
                for k in 0..<d { dot += unit[r * d + k] * unit[s * d + k] }
                return dot / temperature
            }
            let p = softmax(teacherLogits), q = softmax(studentLogits)
            for (c, s) in others.enumerated() {
                if p[c] > 0 { total += p[c] * (log(p[c]) - log(max(q[c], 1e-30))) }
                g[r * n + s] = weight / Float(n) * (q[c] - p[c]) / temperature
            }
        }
        var dUnit = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            for s in 0..<n where s != r {
                let scale = g[r * n + s] + g[s * n + r]
                for k in 0..<d { dUnit[r * d + k] += scale * unit[s * d + k] }
            }
        }
        rows.backward(dUnit, into: &gradient)
        return (weight * total / Float(n), gradient)
    }

    /// The known examples' rows of (B, D) embeddings made unit, and the way back through that.
    struct UnitRows {
        let known: [Int], d: Int
        var unit: [Float], norms: [Float]

        init(_ embeddings: Tensor, _ known: [Int]) {
            self.known = known
            d = embeddings.count / max(1, embeddings.shape[0])
            unit = [Float](repeating: 0, count: known.count * d)
            norms = [Float](repeating: 0, count: known.count)
            for (r, i) in known.enumerated() {
                var s: Float = 0
                for k in 0..<d { s += embeddings.data[i * d + k] * embeddings.data[i * d + k] }
                norms[r] = max(s.squareRoot(), 1e-8)
                for k in 0..<d { unit[r * d + k] = embeddings.data[i * d + k] / norms[r] }
            }
        }

        /// The gradient of the embeddings from that of the unit rows: de = (dû − û (û·dû)) / |e|.
        func backward(_ dUnit: [Float], into gradient: inout Tensor) {
            for (r, i) in known.enumerated() {
                var dot: Float = 0
                for k in 0..<d { dot += unit[r * d + k] * dUnit[r * d + k] }
                for k in 0..<d { gradient.data[i * d + k] = (dUnit[r * d + k] - unit[r * d + k] * dot) / norms[r] }
            }
        }
    }

    /// The teacher vector of a mixed example (mixup: λ·t_a + (1−λ)·t_b, made unit), known only
    /// when both are.
    public static func mixed(_ a: [Float]?, _ b: [Float]?, lambda: Float) -> [Float]? {
        guard let a, let b, a.count == b.count else { return nil }
        var v = zip(a, b).map { lambda * $0 + (1 - lambda) * $1 }
        let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm > 1e-8 else { return nil }
        for k in v.indices { v[k] /= norm }
        return v
    }
}
