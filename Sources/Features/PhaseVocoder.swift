import Foundation

/// Phase vocoder time stretch, as `librosa.phase_vocoder` (0.11; Ellis 2002,
/// "A phase vocoder in Matlab"): output frame t reads input position `t * rate`,
/// interpolates magnitudes linearly between the two neighbouring frames, and advances
/// each bin's phase by the expected advance `hop · 2πk/n_fft` plus the measured deviation
/// wrapped to [-π, π].
///
/// The phase accumulator is float32 and each update is rounded to float32, exactly as
/// librosa's `phase_acc += ...` on a complex64 STFT, so the output follows librosa's
/// rounding and not an idealised double-precision result.
enum PhaseVocoder {
    static func stretch(_ D: ComplexSTFT, rate: Double, hop: Int) -> ComplexSTFT {
        let bins = D.bins, n = D.frames, nFFT = 2 * (bins - 1)
        // np.arange(0, n, rate): ceil(n / rate) steps of t * rate.
        let steps = Int((Double(n) / rate).rounded(.up))
        // hop * np.fft.rfftfreq(n_fft, 1 / (2π))
        let binRadians = 1.0 / (Double(nFFT) * (1.0 / (2 * Double.pi)))
        let phiAdvance = (0..<bins).map { Double(hop) * (Double($0) * binRadians) }
        var out = [Float](repeating: 0, count: 2 * bins * steps)
        var phaseAcc = (0..<bins).map { atan2f(D.data[2 * $0 + 1], D.data[2 * $0]) }
        let twoPi = 2 * Double.pi
        D.data.withUnsafeBufferPointer { d in
            // Frames past the end are zero (librosa pads two zero columns).
            func column(_ t: Int, _ k: Int) -> (re: Float, im: Float) {
                t < n ? (d[2 * (t * bins + k)], d[2 * (t * bins + k) + 1]) : (0, 0)
            }
            for t in 0..<steps {
                let step = Double(t) * rate
                let t0 = Int(step)
                let alpha = step - step.rounded(.down)
                for k in 0..<bins {
                    let c0 = column(t0, k), c1 = column(t0 + 1, k)
                    let mag = (1 - alpha) * Double(hypotf(c0.re, c0.im)) + alpha * Double(hypotf(c1.re, c1.im))
                    out[2 * (t * bins + k)] = Float(mag * Double(cosf(phaseAcc[k])))
                    out[2 * (t * bins + k) + 1] = Float(mag * Double(sinf(phaseAcc[k])))
                    var dphase = Double(atan2f(c1.im, c1.re) - atan2f(c0.im, c0.re)) - phiAdvance[k]
                    dphase -= twoPi * (dphase / twoPi).rounded(.toNearestOrEven)
                    phaseAcc[k] = Float(Double(phaseAcc[k]) + (phiAdvance[k] + dphase))
                }
            }
        }
        return ComplexSTFT(bins: bins, frames: steps, data: out)
    }
}
