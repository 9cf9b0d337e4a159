import Foundation

/// Log-mel spectrogram front end, numerically librosa 0.11's
/// `power_to_db(melspectrogram(y, sr, n_fft, hop_length, ...), ref, amin, top_db)`.
///
/// Built once per config: the window, the sparse mel filterbank and the FFT plan are
/// precomputed. Immutable and `Sendable`: one instance may serve many threads at once;
/// each call allocates only its output and two FFT scratch buffers (none per frame).
///
/// Pipeline per frame: window (periodic Hann, centred with zero or reflect padding) →
/// real FFT (FFTW r2c, float32) → |X|^power → mel filterbank (sparse, eight frames per pass)
/// → columns of the output.
public final class LogMelSpectrogram: Sendable {
    public let config: SpectrogramConfig
    public let filterbank: MelFilterbank
    private let window: [Float]
    private let fft: RealFFT
    private let reader: FrameReader

    public init(_ config: SpectrogramConfig) throws(FeatureError) {
        try config.validate()
        guard let fft = RealFFT.shared(size: config.nFFT) else {
            throw .invalidConfig(name: "n_fft", reason: "FFTW could not plan a transform of size \(config.nFFT)")
        }
        self.config = config
        self.fft = fft
        self.window = Window.analysis(nFFT: config.nFFT, winLength: config.effectiveWinLength)
        self.filterbank = MelFilterbank(config)
        self.reader = FrameReader(nFFT: config.nFFT, hop: config.hopLength, center: config.center,
                                  padMode: config.padMode)
    }

    /// Mel power spectrogram `(n_mels, frames)` of mono `samples` at `config.sampleRate`
    /// (`librosa.feature.melspectrogram`). Throws for an empty signal, a NaN/Inf sample, or
    /// an uncentered signal shorter than `n_fft`.
    public func melPower(_ samples: [Float]) throws(FeatureError) -> Spectrogram {
        try samples.withUnsafeBufferPointer { (x) throws(FeatureError) -> Spectrogram in try melPower(x) }
    }

    /// As `melPower(_:)`, compressed as `config.compression` says (dB with `config.ref`, `amin`
    /// and `topDB` by default; see `compress`).
    public func logMel(_ samples: [Float]) throws(FeatureError) -> Spectrogram {
        try samples.withUnsafeBufferPointer { (x) throws(FeatureError) -> Spectrogram in try logMel(x) }
    }

    /// `logMel` over a buffer, for callers that hold samples in their own memory.
    public func logMel(_ samples: UnsafeBufferPointer<Float>) throws(FeatureError) -> Spectrogram {
        var spec = try melPower(samples)
        spec.values.withUnsafeMutableBufferPointer { compress($0) }
        return spec
    }

    /// Mel power values to the network's input scale in place, as `config.compression` says: dB
    /// (`toDB`), or log10(1 + logScale·S) in float32 — musicnn's input, which its own extractor
    /// computes in float16, where 10000·S overflows for loud audio.
    public func compress(_ values: UnsafeMutableBufferPointer<Float>) {
        switch config.compression {
        case .db: toDB(values)
        case .log10OnePlus:
            let scale = config.logScale
            for i in values.indices { values[i] = log10(scale * values[i] + 1) }
        }
    }

    /// Mel power values to dB in place with `config.ref`, `amin` and `topDB` (the top-dB floor
    /// is relative to the largest of `values`).
    public func toDB(_ values: UnsafeMutableBufferPointer<Float>) {
        powerToDBInPlace(values, ref: config.ref, amin: config.amin, topDB: config.topDB)
    }

    /// `melPower` over a buffer, for callers that hold samples in their own memory.
    public func melPower(_ x: UnsafeBufferPointer<Float>) throws(FeatureError) -> Spectrogram {
        try Self.checkSignal(x)
        let frames = reader.frameCount(length: x.count)
        guard frames > 0 else { throw .signalTooShort(samples: x.count, needed: config.nFFT) }
        return computeMelPower(frames: 0..<frames, of: x, at: 0, signalLength: x.count)
    }

    /// Frames `frames` of the mel power spectrogram of a signal of `signalLength` samples of
    /// which only an excerpt is at hand: `excerpt` holds the samples from `offset` on. Equal
    /// to the same frames of `melPower` over the whole signal when the excerpt holds every
    /// sample they read (`samplesRead(frames:signalLength:)`); throws otherwise, and for a
    /// NaN/Inf sample.
    public func melPower(frames: Range<Int>, of excerpt: UnsafeBufferPointer<Float>, at offset: Int,
                         signalLength: Int) throws(FeatureError) -> Spectrogram {
        guard !frames.isEmpty else { return Spectrogram(nMels: config.nMels, frames: 0, values: []) }
        let total = reader.frameCount(length: signalLength)
        guard frames.lowerBound >= 0, frames.upperBound <= total else {
            throw .shapeMismatch("frames \(frames) of a \(total)-frame spectrogram")
        }
        let needed = samplesRead(frames: frames, signalLength: signalLength)
        guard offset <= needed.lowerBound, offset + excerpt.count >= needed.upperBound else {
            throw .shapeMismatch("the excerpt holds samples \(offset)..<\(offset + excerpt.count) but frames \(frames) read \(needed)")
        }
        if !excerpt.isEmpty { try Self.checkSignal(excerpt) }
        return computeMelPower(frames: frames, of: excerpt, at: offset, signalLength: signalLength)
    }

    /// Samples (clipped to the signal) that frames `frames` read. Reflect padding mirrors
    /// samples within n_fft/2 of an end, which the frames at that end read anyway.
    public func samplesRead(frames: Range<Int>, signalLength: Int) -> Range<Int> {
        guard !frames.isEmpty else { return 0..<0 }
        let first = reader.samplesRead(frame: frames.lowerBound, signalLength: signalLength)
        let last = reader.samplesRead(frame: frames.upperBound - 1, signalLength: signalLength)
        return first.lowerBound..<max(first.lowerBound, last.upperBound)
    }

    private func computeMelPower(frames range: Range<Int>, of x: UnsafeBufferPointer<Float>, at offset: Int,
                                 signalLength: Int) -> Spectrogram {
        let nMels = config.nMels, nBins = config.nBins
        let frameBuffer = FFTWBuffer(count: config.nFFT)
        let spectrum = FFTWBuffer(count: 2 * nBins)
        // Power spectra of up to 8 frames, bin-major (`tile[8k + lane]`), for `apply8`.
        let tile = FFTWBuffer(count: 8 * nBins)
        let power = config.power
        let frames = range.count
        let values = [Float](unsafeUninitializedCapacity: nMels * frames) { out, initialized in
            window.withUnsafeBufferPointer { w in
                let s = spectrum.pointer, p = tile.pointer
                for t0 in stride(from: 0, to: frames, by: 8) {
                    let lanes = min(8, frames - t0)
                    for lane in 0..<lanes {
                        reader.fill(frame: range.lowerBound + t0 + lane, from: x, at: offset, signalLength: signalLength,
                                    window: w.baseAddress!, into: frameBuffer.pointer)
                        fft.forward(frameBuffer, spectrum)
                        if power == 2 {
                            for k in 0..<nBins { p[8 * k + lane] = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1] }
                        } else if power == 1 {
                            for k in 0..<nBins {
                                p[8 * k + lane] = (s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1]).squareRoot()
                            }
                        } else {
                            for k in 0..<nBins {
                                p[8 * k + lane] = pow((s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1]).squareRoot(), power)
                            }
                        }
                    }
                    filterbank.apply8(UnsafeRawPointer(p), to: out.baseAddress! + t0, melStride: frames, lanes: lanes)
                }
            }
            initialized = nMels * frames
        }
        return Spectrogram(nMels: nMels, frames: frames, values: values)
    }

    static func checkSignal(_ x: UnsafeBufferPointer<Float>) throws(FeatureError) {
        guard let base = x.baseAddress, !x.isEmpty else { throw .emptySignal }
        // v * 0 is 0 for every finite v and NaN for NaN or ±Inf, so the sum is non-finite
        // exactly when some sample is; only then do we look for it. Eight lanes keep it fast.
        var lanes = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(base)
        while i + 8 <= x.count {
            lanes += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self) * 0
            i += 8
        }
        var sum = lanes.sum()
        while i < x.count { sum += x[i] * 0; i += 1 }
        if !sum.isFinite, let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteSample(index: bad)
        }
    }
}
