import Foundation

/// Decimation by 2 with a half-band Kaiser-windowed sinc (cutoff at a quarter of the input
/// rate, so every tap at an even, non-zero distance from the centre is zero; Vaidyanathan,
/// "Multirate Systems and Filter Banks", §4.6.1). Output n sits at input 2n:
///
///     y[n] = ½·x[2n] + Σ_{m<M} g[m]·(x[2n+1+2m] + x[2n−1−2m]),  g[m] = h(2m+1)
///
/// so an output costs M multiplies for a kernel of 4M−1 taps. With the odd samples in their
/// own stream o[j] = x[2j+1] both sums read contiguous, ascending runs (o[n+m], o[n−1−m]), and
/// the loop runs 16 outputs at a time in SIMD lanes with no horizontal sums.
///
/// The response is symmetric about the output Nyquist frequency R/4: flat to `passbandHz`,
/// at least `attenuation` dB down from R/2 − `passbandHz` on. What lies between R/4 and
/// R/2 − `passbandHz` folds into (`passbandHz`, R/4], the transition band, and nowhere else.
final class HalfBandDecimator: Sendable {
    /// g[m] for m < taps, then zeros up to a multiple of 4.
    let coefficients: [Float]
    let taps: Int

    init(inputRate: Int, passbandHz: Double, attenuation: Double) {
        let rate = Double(inputRate)
        // Transition (cycles per input sample) from the pass-band edge to its mirror about R/4.
        let transition = (rate / 2 - 2 * passbandHz) / rate
        let beta = kaiserBeta(attenuation: attenuation)
        let halfWidth = ((attenuation - 7.95) / (2.285 * 2 * Double.pi * transition) + 1) / 2
        // Odd distances 1, 3, …, 2M−1 inside the window.
        let m = max(1, Int(((halfWidth - 1) / 2).rounded(.down)) + 1)
        let i0Beta = besselI0(beta)
        var g = [Double](repeating: 0, count: m)
        for j in 0..<m {
            let t = Double(2 * j + 1)
            let r = min(1, t / halfWidth)
            let window = besselI0(beta * (1 - r * r).squareRoot()) / i0Beta
            g[j] = 0.5 * sin(Double.pi * t / 2) / (Double.pi * t / 2) * window
        }
        // Unit gain at DC: the two odd halves sum to ½, as the centre tap does.
        let sum = 2 * g.reduce(0, +)
        taps = m
        coefficients = g.map { Float($0 * 0.5 / sum) } + [Float](repeating: 0, count: (4 - m % 4) % 4)
    }

    /// ⌈n/2⌉ outputs; the signal is zero outside its ends.
    func process(_ input: UnsafeBufferPointer<Float>) -> [Float] {
        let count = (input.count + 1) / 2
        guard count > 0, let x = input.baseAddress else { return [] }
        let lanes = 16
        let blocks = (count + lanes - 1) / lanes
        let m = taps
        // Even stream e[n] = x[2n]; odd stream with M zeros before and enough after for
        // the last block: op[M + j] = x[2j + 1].
        var even = [Float](repeating: 0, count: blocks * lanes)
        var odd = [Float](repeating: 0, count: blocks * lanes + 2 * m + lanes)
        even.withUnsafeMutableBufferPointer { e in
            odd.withUnsafeMutableBufferPointer { o in
                let e = e.baseAddress!, o = o.baseAddress! + m
                let pairs = input.count / 2
                for j in 0..<pairs {
                    e[j] = x[2 * j]
                    o[j] = x[2 * j + 1]
                }
                if input.count % 2 == 1 { e[pairs] = x[input.count - 1] }
            }
        }
        return [Float](unsafeUninitializedCapacity: blocks * lanes) { out, initialized in
            even.withUnsafeBufferPointer { e in
                odd.withUnsafeBufferPointer { o in
                    coefficients.withUnsafeBufferPointer { g in
                        let e = UnsafeRawPointer(e.baseAddress!), g = g.baseAddress!
                        let o = UnsafeRawPointer(o.baseAddress! + m)
                        let y = UnsafeMutableRawPointer(out.baseAddress!)
                        for block in 0..<blocks {
                            let n = block * lanes
                            var acc = 0.5 * e.loadUnaligned(fromByteOffset: n * 4, as: SIMD16<Float>.self)
                            for k in 0..<m {
                                let ahead = o.loadUnaligned(fromByteOffset: (n + k) * 4, as: SIMD16<Float>.self)
                                let behind = o.loadUnaligned(fromByteOffset: (n - 1 - k) * 4, as: SIMD16<Float>.self)
                                acc += g[k] * (ahead + behind)
                            }
                            y.storeBytes(of: acc, toByteOffset: n * 4, as: SIMD16<Float>.self)
                        }
                    }
                }
            }
            initialized = count
        }
    }
}

/// Kaiser's β for a stop-band attenuation of `attenuation` dB (Kaiser & Schafer 1980).
func kaiserBeta(attenuation a: Double) -> Double {
    if a > 50 { return 0.1102 * (a - 8.7) }
    if a > 21 { return 0.5842 * pow(a - 21, 0.4) + 0.07886 * (a - 21) }
    return 0
}

/// Modified Bessel function of the first kind, order 0, by its power series Σ ((x/2)^k / k!)².
func besselI0(_ x: Double) -> Double {
    var sum = 1.0, term = 1.0, k = 1.0
    let half = x / 2
    while term > sum * 1e-17 {
        term *= (half / k) * (half / k)
        sum += term
        k += 1
    }
    return sum
}
