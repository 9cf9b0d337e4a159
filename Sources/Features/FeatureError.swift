/// Why a feature could not be computed. Each case says what was wrong and what to do.
public enum FeatureError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A configuration value is out of range (`name` is the librosa parameter name).
    case invalidConfig(name: String, reason: String)
    /// The signal has no samples.
    case emptySignal
    /// The signal contains NaN or ±Inf at `index`.
    case nonFiniteSample(index: Int)
    /// The signal is shorter than one analysis frame (uncentered STFT).
    case signalTooShort(samples: Int, needed: Int)
    /// Two inputs that must agree in shape do not.
    case shapeMismatch(String)
    /// An augmentation parameter is out of range.
    case invalidParameter(name: String, reason: String)
    /// Resampling (pitch shift) failed in AudioIO.
    case resamplingFailed(String)

    public var description: String {
        switch self {
        case .invalidConfig(let name, let reason):
            return "invalid spectrogram config: \(name) \(reason); fix it in the feature config"
        case .emptySignal:
            return "the audio signal is empty: decode a non-empty file before computing features"
        case .nonFiniteSample(let index):
            return "the audio signal has a NaN or infinite sample at index \(index): the decoder output is corrupt"
        case .signalTooShort(let samples, let needed):
            return "the signal has \(samples) samples but an uncentered STFT needs at least \(needed) (n_fft): use center=true or a longer signal"
        case .shapeMismatch(let what):
            return "shape mismatch: \(what)"
        case .invalidParameter(let name, let reason):
            return "invalid augmentation parameter \(name): \(reason)"
        case .resamplingFailed(let reason):
            return "resampling failed: \(reason)"
        }
    }
}
