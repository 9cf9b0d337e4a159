/// Reductions and element-wise kernels on 8 lanes: Swift does not reorder float sums by itself,
/// so the hot reductions spell out their SIMD accumulators. Callers keep partial sums per plane
/// short (≤ a few thousand values) and add planes in double.
enum VectorMath {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// Σ x[i]
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(), i = 0
        while i + 8 <= n { acc += load(x + i); i += 8 }
        var s = acc.sum()
        while i < n { s += x[i]; i += 1 }
        return s
    }

    /// Σ (x[i] − m)²
    static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int, around m: Float) -> Float {
        var acc = SIMD8<Float>(), i = 0
        let mv = SIMD8<Float>(repeating: m)
        while i + 8 <= n { let d = load(x + i) - mv; acc += d * d; i += 8 }
        var s = acc.sum()
        while i < n { let d = x[i] - m; s += d * d; i += 1 }
        return s
    }

    /// (Σ dy[i], Σ dy[i]·(x[i] − m))
    static func sumAndCenteredDot(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                                  around m: Float) -> (Float, Float) {
        var a = SIMD8<Float>(), b = SIMD8<Float>(), i = 0
        let mv = SIMD8<Float>(repeating: m)
        while i + 8 <= n {
            let d = load(dy + i)
            a += d
            b += d * (load(x + i) - mv)
            i += 8
        }
        var s = a.sum(), t = b.sum()
        while i < n { s += dy[i]; t += dy[i] * (x[i] - m); i += 1 }
        return (s, t)
    }

    /// dx[i] = dy[i] where y[i] > 0, else 0 (ReLU backward from its output)
    static func reluBackward(_ dx: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        let zero = SIMD8<Float>()
        while i + 8 <= n {
            store(load(dy + i).replacing(with: 0, where: load(y + i) .<= zero), dx + i)
            i += 8
        }
        while i < n { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
    }
}
