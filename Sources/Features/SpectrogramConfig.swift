/// How a signal is padded at its ends when frames are centred (`center=true`).
/// `constant` pads with zeros (librosa's default since 0.9); `reflect` mirrors the signal
/// without repeating the edge sample, as `numpy.pad(mode="reflect")`.
public enum PadMode: String, Codable, Sendable, Equatable {
    case constant
    case reflect
}

/// Normalisation of the mel filters: none, or Slaney's (each triangle divided by its
/// width in Hz, `2 / (f[m+2] - f[m])`, so that filters have roughly constant energy).
public enum MelNorm: String, Codable, Sendable, Equatable {
    case none
    case slaney
}

/// How the mel power spectrogram is compressed into the network's input: `db` is
/// `librosa.power_to_db` (with `ref`, `amin`, `top_db`); `log10_1p` is log10(1 + C·S) with
/// C = `log_scale` (musicnn's "logC" input, C = 10000), in float32 with no floor or clip.
public enum MelCompression: String, Codable, Sendable, Equatable {
    case db
    case log10OnePlus = "log10_1p"
}

/// Parameters of the log-mel front end. Defaults are librosa 0.11's for
/// `librosa.feature.melspectrogram` followed by `librosa.power_to_db`:
/// sr=22050, n_fft=2048, hop_length=512, win_length=n_fft, periodic Hann, center=True,
/// pad_mode='constant', power=2, n_mels=128, fmin=0, fmax=sr/2, htk=False, norm='slaney',
/// and power_to_db(ref=1.0, amin=1e-10, top_db=80).
///
/// Coded with librosa's parameter names (`sr`, `n_fft`, `hop_length`, …) because this goes
/// into model files next to the weights. Decoding accepts `sample_rate` for `sr`, and a
/// missing key takes its default.
public struct SpectrogramConfig: Codable, Sendable, Equatable {
    public var sampleRate: Int
    public var nFFT: Int
    public var hopLength: Int
    /// Window length; `nil` means `nFFT`. A shorter window is zero-padded to `nFFT` at the centre.
    public var winLength: Int?
    public var center: Bool
    public var padMode: PadMode
    /// Exponent of the magnitude: 1 = magnitude, 2 = power.
    public var power: Float
    public var nMels: Int
    public var fmin: Float
    /// Highest mel frequency; `nil` means `sampleRate / 2`.
    public var fmax: Float?
    public var htk: Bool
    public var norm: MelNorm
    /// Clip the dB spectrogram to `max - topDB`; `nil` disables the clip.
    public var topDB: Float?
    public var amin: Float
    public var ref: Float
    /// `db` unless set; `log10_1p` ignores `top_db`, `amin` and `ref`.
    public var compression: MelCompression = .db
    /// C of `log10_1p`.
    public var logScale: Float = 10000

    public init(
        sampleRate: Int = 22050, nFFT: Int = 2048, hopLength: Int = 512, winLength: Int? = nil,
        center: Bool = true, padMode: PadMode = .constant, power: Float = 2, nMels: Int = 128,
        fmin: Float = 0, fmax: Float? = nil, htk: Bool = false, norm: MelNorm = .slaney,
        topDB: Float? = 80, amin: Float = 1e-10, ref: Float = 1
    ) {
        self.sampleRate = sampleRate
        self.nFFT = nFFT
        self.hopLength = hopLength
        self.winLength = winLength
        self.center = center
        self.padMode = padMode
        self.power = power
        self.nMels = nMels
        self.fmin = fmin
        self.fmax = fmax
        self.htk = htk
        self.norm = norm
        self.topDB = topDB
        self.amin = amin
        self.ref = ref
    }

    /// The window length actually used.
    public var effectiveWinLength: Int { winLength ?? nFFT }
    /// The upper mel frequency actually used.
    public var effectiveFmax: Float { fmax ?? Float(sampleRate) / 2 }
    /// Number of rfft bins, `1 + n_fft / 2`.
    public var nBins: Int { nFFT / 2 + 1 }

    /// Number of STFT frames for `samples` input samples (librosa's framing), or 0 when an
    /// uncentered signal is shorter than `nFFT`.
    public func frameCount(samples: Int) -> Int {
        let padded = center ? samples + 2 * (nFFT / 2) : samples
        guard padded >= nFFT, hopLength > 0 else { return 0 }
        return 1 + (padded - nFFT) / hopLength
    }

    /// Checks every parameter; throws the first one out of range.
    public func validate() throws(FeatureError) {
        func bad(_ name: String, _ reason: String) -> FeatureError { .invalidConfig(name: name, reason: reason) }
        guard sampleRate > 0 else { throw bad("sr", "must be positive, got \(sampleRate)") }
        guard nFFT >= 2, nFFT <= 1 << 20 else { throw bad("n_fft", "must be in 2...1048576, got \(nFFT)") }
        guard hopLength > 0 else { throw bad("hop_length", "must be positive, got \(hopLength)") }
        if let w = winLength, !(1...nFFT).contains(w) {
            throw bad("win_length", "must be in 1...n_fft (\(nFFT)), got \(w)")
        }
        guard power.isFinite, power > 0 else { throw bad("power", "must be positive and finite, got \(power)") }
        guard nMels > 0, nMels <= 4096 else { throw bad("n_mels", "must be in 1...4096, got \(nMels)") }
        guard fmin.isFinite, fmin >= 0 else { throw bad("fmin", "must be >= 0, got \(fmin)") }
        let nyquist = Float(sampleRate) / 2
        if let f = fmax {
            guard f.isFinite, f <= nyquist else { throw bad("fmax", "must be <= sr/2 (\(nyquist)), got \(f)") }
        }
        guard effectiveFmax > fmin else { throw bad("fmax", "must be greater than fmin (\(fmin)), got \(effectiveFmax)") }
        if let t = topDB {
            guard t.isFinite, t >= 0 else { throw bad("top_db", "must be >= 0 or null, got \(t)") }
        }
        guard amin.isFinite, amin > 0 else { throw bad("amin", "must be positive, got \(amin)") }
        guard ref.isFinite, ref > 0 else { throw bad("ref", "must be positive, got \(ref)") }
        guard logScale.isFinite, logScale > 0 else { throw bad("log_scale", "must be positive and finite, got \(logScale)") }
    }

    enum CodingKeys: String, CodingKey {
        case sampleRate = "sr", nFFT = "n_fft", hopLength = "hop_length", winLength = "win_length"
        case center, padMode = "pad_mode", power, nMels = "n_mels", fmin, fmax, htk, norm
        case topDB = "top_db", amin, ref
        case compression, logScale = "log_scale"
        case sampleRateAlias = "sample_rate"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SpectrogramConfig()
        sampleRate = try c.decodeIfPresent(Int.self, forKey: .sampleRate)
            ?? c.decodeIfPresent(Int.self, forKey: .sampleRateAlias) ?? d.sampleRate
        nFFT = try c.decodeIfPresent(Int.self, forKey: .nFFT) ?? d.nFFT
        hopLength = try c.decodeIfPresent(Int.self, forKey: .hopLength) ?? d.hopLength
        winLength = try c.decodeIfPresent(Int.self, forKey: .winLength)
        center = try c.decodeIfPresent(Bool.self, forKey: .center) ?? d.center
        padMode = try c.decodeIfPresent(PadMode.self, forKey: .padMode) ?? d.padMode
        power = try c.decodeIfPresent(Float.self, forKey: .power) ?? d.power
        nMels = try c.decodeIfPresent(Int.self, forKey: .nMels) ?? d.nMels
        fmin = try c.decodeIfPresent(Float.self, forKey: .fmin) ?? d.fmin
        fmax = try c.decodeIfPresent(Float.self, forKey: .fmax)
        htk = try c.decodeIfPresent(Bool.self, forKey: .htk) ?? d.htk
        // librosa writes norm=None for no normalisation: null and "none" both mean .none.
        if c.contains(.norm) {
            norm = try c.decodeNil(forKey: .norm) ? .none : c.decode(MelNorm.self, forKey: .norm)
        } else {
            norm = d.norm
        }
        // top_db: null (present) disables the clip; a missing key keeps the default 80.
        if c.contains(.topDB) {
            topDB = try c.decodeNil(forKey: .topDB) ? nil : c.decode(Float.self, forKey: .topDB)
        } else {
            topDB = d.topDB
        }
        amin = try c.decodeIfPresent(Float.self, forKey: .amin) ?? d.amin
        ref = try c.decodeIfPresent(Float.self, forKey: .ref) ?? d.ref
        compression = try c.decodeIfPresent(MelCompression.self, forKey: .compression) ?? d.compression
        logScale = try c.decodeIfPresent(Float.self, forKey: .logScale) ?? d.logScale
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sampleRate, forKey: .sampleRate)
        try c.encode(nFFT, forKey: .nFFT)
        try c.encode(hopLength, forKey: .hopLength)
        try c.encode(winLength, forKey: .winLength)  // null = n_fft
        try c.encode(center, forKey: .center)
        try c.encode(padMode, forKey: .padMode)
        try c.encode(power, forKey: .power)
        try c.encode(nMels, forKey: .nMels)
        try c.encode(fmin, forKey: .fmin)
        try c.encode(fmax, forKey: .fmax)  // null = sr / 2
        try c.encode(htk, forKey: .htk)
        if norm == .none { try c.encodeNil(forKey: .norm) } else { try c.encode(norm, forKey: .norm) }
        try c.encode(topDB, forKey: .topDB)  // null = no clip
        try c.encode(amin, forKey: .amin)
        try c.encode(ref, forKey: .ref)
        // Written only when not dB, so the configs of dB models read as before.
        if compression != .db {
            try c.encode(compression, forKey: .compression)
            try c.encode(logScale, forKey: .logScale)
        }
    }
}
