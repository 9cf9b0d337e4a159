import AudioIO
import Foundation

/// Waveform augmentations of the seed's `AudioAugmentation`: time stretch, pitch shift and
/// noise injection, numerically following librosa 0.11's `effects.time_stretch` and
/// `effects.pitch_shift` (STFT defaults n_fft=2048, hop_length=512, Hann, centred, zero pad).
/// Deterministic: the only randomness (noise) comes from the generator passed in.
public struct AudioAugmentation: Sendable, Equatable {
    public var sampleRate: Int
    public var nFFT: Int
    public var hopLength: Int

    public init(sampleRate: Int = 22050, nFFT: Int = 2048, hopLength: Int = 512) {
        self.sampleRate = sampleRate
        self.nFFT = nFFT
        self.hopLength = hopLength
    }

    /// Speeds up (`rate > 1`) or slows down (`rate < 1`) without changing pitch:
    /// `librosa.effects.time_stretch` = stft → phase vocoder → istft, output length
    /// `round(len / rate)` (round half to even, as Python).
    public func timeStretch(_ y: [Float], rate: Double) throws(FeatureError) -> [Float] {
        guard rate.isFinite, rate > 0 else { throw .invalidParameter(name: "rate", reason: "must be positive, got \(rate)") }
        try checkSettings()
        try y.withUnsafeBufferPointer { (b) throws(FeatureError) in try LogMelSpectrogram.checkSignal(b) }
        let length = Int((Double(y.count) / rate).rounded(.toNearestOrEven))
        guard length > 0 else { throw .invalidParameter(name: "rate", reason: "\(rate) leaves no samples of \(y.count)") }
        let stft = try ComplexSTFT.forward(y, nFFT: nFFT, hop: hopLength)
        let stretched = PhaseVocoder.stretch(stft, rate: rate, hop: hopLength)
        return try stretched.inverse(hop: hopLength, length: length)
    }

    /// Shifts the pitch by `semitones` (fractional allowed) keeping the duration, as
    /// `librosa.effects.pitch_shift(y, sr, n_steps, bins_per_octave)`: time stretch by
    /// `rate = 2^(-n_steps / bins_per_octave)`, then resample from `sr / rate` to `sr`, then
    /// trim or zero-pad to `len(y)`.
    ///
    /// Resampling uses AudioIO's `Resampler` (Kaiser-windowed sinc) instead of librosa's
    /// soxr_hq, with the source rate `sr / rate` rounded to 0.01 Hz, so the output matches
    /// librosa's closely in the pass band but not to float precision: the two filters treat
    /// the band near Nyquist differently (see `PitchShiftTests`).
    public func pitchShift(_ y: [Float], semitones: Double, binsPerOctave: Int = 12) throws(FeatureError) -> [Float] {
        guard semitones.isFinite, abs(semitones) <= 48 else {
            throw .invalidParameter(name: "semitones", reason: "must be finite and within ±48, got \(semitones)")
        }
        guard binsPerOctave > 0 else {
            throw .invalidParameter(name: "binsPerOctave", reason: "must be positive, got \(binsPerOctave)")
        }
        if semitones == 0 {
            try y.withUnsafeBufferPointer { (b) throws(FeatureError) in try LogMelSpectrogram.checkSignal(b) }
            return y
        }
        let rate = pow(2.0, -semitones / Double(binsPerOctave))
        let stretched = try timeStretch(y, rate: rate)
        // Resampler takes whole-number rates: express both in centihertz (ratio error < 1e-7,
        // 0.02 cent), reduced by their common divisor inside Resampler.
        let scale = 100
        let sourceRate = Int((Double(sampleRate * scale) / rate).rounded())
        let resampler: Resampler
        do {
            resampler = try Resampler(from: sourceRate, to: sampleRate * scale)
        } catch {
            throw .resamplingFailed(error.description)
        }
        var shifted = resampler.process(stretched)
        // librosa.util.fix_length: trim, or pad with zeros at the end.
        if shifted.count > y.count {
            shifted.removeLast(shifted.count - y.count)
        } else if shifted.count < y.count {
            shifted += [Float](repeating: 0, count: y.count - shifted.count)
        }
        return shifted
    }

    /// Adds white Gaussian noise scaled so that `10 log10(P_signal / P_noise) = snrDB`
    /// exactly for the realised noise (P = mean square). A silent signal is returned unchanged.
    public func addNoise(_ y: [Float], snrDB: Float, using rng: inout some RandomNumberGenerator) throws(FeatureError) -> [Float] {
        guard snrDB.isFinite else { throw .invalidParameter(name: "snrDB", reason: "must be finite, got \(snrDB)") }
        try y.withUnsafeBufferPointer { (b) throws(FeatureError) in try LogMelSpectrogram.checkSignal(b) }
        var signalPower = 0.0
        for v in y { signalPower += Double(v) * Double(v) }
        signalPower /= Double(y.count)
        guard signalPower > 0 else { return y }
        var noise = [Double](repeating: 0, count: y.count)
        var noisePower = 0.0
        for i in noise.indices {
            noise[i] = RandomDistributions.standardNormal(using: &rng)
            noisePower += noise[i] * noise[i]
        }
        noisePower /= Double(y.count)
        let gain = (signalPower / pow(10, Double(snrDB) / 10) / noisePower).squareRoot()
        var out = y
        for i in out.indices { out[i] = Float(Double(y[i]) + gain * noise[i]) }
        return out
    }

    func checkSettings() throws(FeatureError) {
        guard sampleRate > 0 else { throw .invalidParameter(name: "sampleRate", reason: "must be positive, got \(sampleRate)") }
        guard nFFT >= 2, nFFT <= 1 << 20 else { throw .invalidParameter(name: "nFFT", reason: "must be in 2...1048576, got \(nFFT)") }
        guard hopLength > 0 else { throw .invalidParameter(name: "hopLength", reason: "must be positive, got \(hopLength)") }
    }
}
