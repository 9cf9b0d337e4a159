/// Cuts a signal into windowed analysis frames exactly as `librosa.stft` does: frame `t`
/// starts at sample `t * hop - (center ? n_fft/2 : 0)`; samples outside the signal are
/// zeros (`pad_mode='constant'`) or mirrored (`'reflect'`, numpy's even reflection without
/// repeating the edge, extended periodically for pads longer than the signal).
struct FrameReader {
    let nFFT: Int
    let hop: Int
    let center: Bool
    let padMode: PadMode

    /// Number of frames for a signal of `length` samples (0 if an uncentered signal is short).
    func frameCount(length: Int) -> Int {
        let padded = center ? length + 2 * (nFFT / 2) : length
        return padded >= nFFT ? 1 + (padded - nFFT) / hop : 0
    }

    /// `out[j] = window[j] * x[t*hop - offset + j]` for j in 0..<nFFT, with padding.
    @inline(__always)
    func fill(frame t: Int, from x: UnsafeBufferPointer<Float>, window: UnsafePointer<Float>,
              into out: UnsafeMutablePointer<Float>) {
        let start = t * hop - (center ? nFFT / 2 : 0)
        let n = x.count
        if start >= 0 && start + nFFT <= n {
            let src = x.baseAddress! + start
            for j in 0..<nFFT { out[j] = window[j] * src[j] }
            return
        }
        for j in 0..<nFFT {
            let i = start + j
            let sample: Float
            if i >= 0 && i < n {
                sample = x[i]
            } else if padMode == .reflect && n > 0 {
                sample = x[Self.reflectIndex(i, length: n)]
            } else {
                sample = 0
            }
            out[j] = window[j] * sample
        }
    }

    /// numpy `reflect` index for `i` outside `0..<length`.
    static func reflectIndex(_ i: Int, length: Int) -> Int {
        guard length > 1 else { return 0 }
        let period = 2 * (length - 1)
        var m = i % period
        if m < 0 { m += period }
        return m >= length ? period - m : m
    }
}
