import Foundation

/// Mel filterbank, numerically as `librosa.filters.mel` (0.11): triangular filters between
/// `n_mels + 2` points equally spaced on the mel scale from `fmin` to `fmax`, evaluated at
/// the rfft bin frequencies, with Slaney area normalisation (`2 / (f[m+2] - f[m])`) or none.
/// The mel scale is Slaney's (linear below 1 kHz, logarithmic above; Auditory Toolbox)
/// unless `htk` (`2595 log10(1 + f/700)`).
///
/// Stored sparsely: each band keeps only its non-zero bin range, so applying it costs about
/// two multiply-adds per rfft bin instead of `n_mels`, and eight frames go through at once.
public struct MelFilterbank: Sendable, Equatable {
    public let nMels: Int
    /// Number of rfft bins, `1 + n_fft / 2`.
    public let nBins: Int
    /// First bin of each band's non-zero range.
    let bandStart: [Int]
    /// Offset of each band's weights in `weights`; band m has `offsets[m+1] - offsets[m]` weights.
    let offsets: [Int]
    /// The non-zero weights of every band, concatenated.
    let weights: [Float]

    /// Builds the filterbank. Parameters are validated by `SpectrogramConfig.validate()`.
    public init(sampleRate: Int, nFFT: Int, nMels: Int = 128, fmin: Float = 0, fmax: Float? = nil,
                htk: Bool = false, norm: MelNorm = .slaney) {
        let fmaxHz = Double(fmax ?? Float(sampleRate) / 2)
        let nBins = nFFT / 2 + 1
        // np.fft.rfftfreq(n_fft, 1/sr): k * (1 / (n_fft * (1/sr)))
        let binHz = 1.0 / (Double(nFFT) * (1.0 / Double(sampleRate)))
        let fftFreqs = (0..<nBins).map { Double($0) * binHz }
        let melF = MelFilterbank.melFrequencies(count: nMels + 2, fmin: Double(fmin), fmax: fmaxHz, htk: htk)

        var bandStart = [Int](), offsets = [0], weights = [Float]()
        bandStart.reserveCapacity(nMels)
        offsets.reserveCapacity(nMels + 1)
        for m in 0..<nMels {
            let lowDiff = melF[m + 1] - melF[m], highDiff = melF[m + 2] - melF[m + 1]
            let enorm = norm == .slaney ? 2.0 / (melF[m + 2] - melF[m]) : 1.0
            var band = [Float](), first = -1
            for k in 0..<nBins {
                let lower = -(melF[m] - fftFreqs[k]) / lowDiff
                let upper = (melF[m + 2] - fftFreqs[k]) / highDiff
                // librosa stores the triangle in float32, then multiplies by enorm (float64).
                var w = Float(max(0, min(lower, upper)))
                if norm == .slaney { w = Float(Double(w) * enorm) }
                if w != 0 {
                    if first < 0 { first = k }
                    // Triangles are convex: zeros inside [first, last] cannot occur, but keep
                    // the layout exact by filling any gap with explicit zeros.
                    while first + band.count < k { band.append(0) }
                    band.append(w)
                }
            }
            bandStart.append(max(first, 0))
            weights += band
            offsets.append(weights.count)
        }
        self.nMels = nMels
        self.nBins = nBins
        self.bandStart = bandStart
        self.offsets = offsets
        self.weights = weights
    }

    /// The filterbank for a spectrogram config.
    public init(_ config: SpectrogramConfig) {
        self.init(sampleRate: config.sampleRate, nFFT: config.nFFT, nMels: config.nMels, fmin: config.fmin,
                  fmax: config.fmax, htk: config.htk, norm: config.norm)
    }

    /// Dense `[n_mels][n_bins]` row-major matrix, the shape of librosa's `mel_basis`.
    public var dense: [Float] {
        var out = [Float](repeating: 0, count: nMels * nBins)
        for m in 0..<nMels {
            for j in 0..<(offsets[m + 1] - offsets[m]) {
                out[m * nBins + bandStart[m] + j] = weights[offsets[m] + j]
            }
        }
        return out
    }

    /// Eight frames at once: `tile` holds their spectra bin-major (`tile[8k + lane]`), and
    /// `mel[m * melStride + lane] = Σ_k W[m,k] · tile[8k + lane]` for lane in 0..<lanes.
    /// One SIMD lane per frame keeps each frame's summation order that of a scalar loop and
    /// writes eight consecutive output frames of each band at once.
    @inline(__always)
    func apply8(_ tile: UnsafeRawPointer, to mel: UnsafeMutablePointer<Float>, melStride: Int, lanes: Int) {
        weights.withUnsafeBufferPointer { w in
            offsets.withUnsafeBufferPointer { off in
                bandStart.withUnsafeBufferPointer { start in
                    for m in 0..<nMels {
                        let ws = w.baseAddress! + off[m]
                        var acc = SIMD8<Float>()
                        var p = tile + 32 * start[m]
                        for j in 0..<(off[m + 1] - off[m]) {
                            acc += ws[j] * p.loadUnaligned(as: SIMD8<Float>.self)
                            p += 32
                        }
                        let out = mel + m * melStride
                        if lanes == 8 {
                            UnsafeMutableRawPointer(out).storeBytes(of: acc, as: SIMD8<Float>.self)
                        } else {
                            for lane in 0..<lanes { out[lane] = acc[lane] }
                        }
                    }
                }
            }
        }
    }

    // MARK: mel scale (librosa.core.convert)

    /// `n` frequencies equally spaced in mel from `fmin` to `fmax` (`librosa.mel_frequencies`,
    /// with numpy's `linspace`: `start + i * step`, last point exactly `stop`).
    static func melFrequencies(count n: Int, fmin: Double, fmax: Double, htk: Bool) -> [Double] {
        let lo = hzToMel(fmin, htk: htk), hi = hzToMel(fmax, htk: htk)
        let step = n > 1 ? (hi - lo) / Double(n - 1) : 0
        return (0..<n).map { i in
            let mel = (i == n - 1 && n > 1) ? hi : Double(i) * step + lo
            return melToHz(mel, htk: htk)
        }
    }

    private static let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = 1000.0 / (200.0 / 3)
    private static let logStep = log(6.4) / 27.0

    public static func hzToMel(_ f: Double, htk: Bool) -> Double {
        if htk { return 2595.0 * log10(1.0 + f / 700.0) }
        if f >= minLogHz { return minLogMel + log(f / minLogHz) / logStep }
        return f / fSp
    }

    public static func melToHz(_ mel: Double, htk: Bool) -> Double {
        if htk { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0) }
        if mel >= minLogMel { return minLogHz * exp(logStep * (mel - minLogMel)) }
        return fSp * mel
    }
}
