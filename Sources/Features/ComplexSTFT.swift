import Foundation

/// Complex short-time Fourier transform and its inverse, as `librosa.stft` / `librosa.istft`
/// (0.11) with a periodic Hann window. Used by the phase vocoder; the log-mel path has its
/// own allocation-free loop.
struct ComplexSTFT {
    /// Number of frequency bins (`1 + n_fft / 2`).
    let bins: Int
    let frames: Int
    /// Interleaved re/im, frame-major: bin k of frame t at `2 * (t * bins + k)`.
    var data: [Float]

    /// `librosa.stft(x, n_fft, hop_length, win_length=n_fft, window='hann', center, pad_mode)`.
    static func forward(_ x: [Float], nFFT: Int, hop: Int, center: Bool = true,
                        padMode: PadMode = .constant) throws(FeatureError) -> ComplexSTFT {
        guard let fft = RealFFT.shared(size: nFFT) else {
            throw .invalidParameter(name: "n_fft", reason: "FFTW could not plan size \(nFFT)")
        }
        let reader = FrameReader(nFFT: nFFT, hop: hop, center: center, padMode: padMode)
        let frames = reader.frameCount(length: x.count)
        guard frames > 0 else { throw .signalTooShort(samples: x.count, needed: nFFT) }
        let bins = nFFT / 2 + 1
        let window = Window.analysis(nFFT: nFFT, winLength: nFFT)
        let frameBuffer = FFTWBuffer(count: nFFT), spectrum = FFTWBuffer(count: 2 * bins)
        var data = [Float](repeating: 0, count: 2 * bins * frames)
        x.withUnsafeBufferPointer { xs in
            window.withUnsafeBufferPointer { w in
                data.withUnsafeMutableBufferPointer { out in
                    for t in 0..<frames {
                        reader.fill(frame: t, from: xs, window: w.baseAddress!, into: frameBuffer.pointer)
                        fft.forward(frameBuffer, spectrum)
                        (out.baseAddress! + 2 * bins * t).update(from: spectrum.pointer, count: 2 * bins)
                    }
                }
            }
        }
        return ComplexSTFT(bins: bins, frames: frames, data: data)
    }

    /// `librosa.istft(D, hop_length, window='hann', center, length)`: windowed overlap-add of
    /// the inverse FFTs of the first `min(frames, ceil(padded_length / hop))` frames, divided
    /// by the overlap-added squared window where that exceeds float32 `tiny`, trimmed to `length`.
    func inverse(hop: Int, center: Bool = true, length: Int) throws(FeatureError) -> [Float] {
        let nFFT = 2 * (bins - 1)
        guard let fft = RealFFT.shared(size: nFFT) else {
            throw .invalidParameter(name: "n_fft", reason: "FFTW could not plan size \(nFFT)")
        }
        let padded = center ? length + 2 * (nFFT / 2) : length
        let used = min(frames, (padded + hop - 1) / hop)
        guard used > 0, length > 0 else { return [Float](repeating: 0, count: max(length, 0)) }
        let window = Window.analysis(nFFT: nFFT, winLength: nFFT)
        let total = nFFT + hop * (used - 1)
        var sum = [Float](repeating: 0, count: total), windowSquares = [Float](repeating: 0, count: total)
        let spectrum = FFTWBuffer(count: 2 * bins), frame = FFTWBuffer(count: nFFT)
        let scale = 1 / Float(nFFT)
        data.withUnsafeBufferPointer { d in
            for t in 0..<used {
                spectrum.pointer.update(from: d.baseAddress! + 2 * bins * t, count: 2 * bins)
                // numpy's irfft ignores the imaginary parts of the DC and Nyquist bins.
                spectrum.pointer[1] = 0
                spectrum.pointer[2 * bins - 1] = 0
                fft.inverse(spectrum, frame)
                let offset = t * hop
                for j in 0..<nFFT {
                    sum[offset + j] += window[j] * (frame.pointer[j] * scale)
                    windowSquares[offset + j] += window[j] * window[j]
                }
            }
        }
        let start = center ? nFFT / 2 : 0
        var y = [Float](repeating: 0, count: length)
        for i in 0..<length where start + i < total {
            let wss = windowSquares[start + i]
            y[i] = wss > Float.leastNormalMagnitude ? sum[start + i] / wss : sum[start + i]
        }
        return y
    }
}
