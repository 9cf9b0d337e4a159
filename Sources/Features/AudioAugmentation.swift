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
