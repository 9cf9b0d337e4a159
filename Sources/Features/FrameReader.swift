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
        fill(frame: t, from: x, at: 0, signalLength: x.count, window: window, into: out)
    }

    /// As `fill(frame:from:window:into:)` for a signal of `signalLength` samples of which `x`
    /// holds those from `offset` on; samples of the signal outside `x` read as zero.
    @inline(__always)
    func fill(frame t: Int, from x: UnsafeBufferPointer<Float>, at offset: Int, signalLength n: Int,
              window: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let start = t * hop - (center ? nFFT / 2 : 0)
        if start >= max(0, offset) && start + nFFT <= min(n, offset + x.count) {
            let src = x.baseAddress! + (start - offset)
            for j in 0..<nFFT { out[j] = window[j] * src[j] }
            return
        }
        for j in 0..<nFFT {
            var i = start + j
            if i < 0 || i >= n {
                i = padMode == .reflect && n > 0 ? Self.reflectIndex(i, length: n) : -1
            }
            let k = i - offset
            out[j] = i >= 0 && k >= 0 && k < x.count ? window[j] * x[k] : 0
        }
    }

    /// Signal samples frame `t` reads (before padding), clipped to `0..<n`: an excerpt
    /// holding them gives the frame exactly.
    func samplesRead(frame t: Int, signalLength n: Int) -> Range<Int> {
        let start = t * hop - (center ? nFFT / 2 : 0)
        let lower = min(max(0, start), n), upper = max(min(n, start + nFFT), lower)
        return lower..<upper
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
