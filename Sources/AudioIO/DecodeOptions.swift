/// What part of a file to decode, and at which rate.
public struct DecodeOptions: Sendable, Equatable {
    /// Output rate in Hz; nil keeps the source rate. Default 22050 (the model front end's rate).
    public var targetSampleRate: Int?
    /// Seconds to skip at the start (seeks; the skipped part is not decoded). Default 0.
    public var offset: Double
    /// Seconds to decode from `offset`; nil reads to the end.
    public var duration: Double?
    /// Safety cap on decoded seconds (default 3 h): longer input throws instead of growing
    /// memory without bound. Ignored when `duration` is shorter.
    public var maxDuration: Double
    /// Resampler quality (default `.high`: ≥ 80 dB SNR in the pass band).
    public var resamplerQuality: Resampler.Quality

    public init(targetSampleRate: Int? = 22050, offset: Double = 0, duration: Double? = nil,
                maxDuration: Double = 3 * 3600, resamplerQuality: Resampler.Quality = .high) {
        self.targetSampleRate = targetSampleRate
        self.offset = offset
        self.duration = duration
        self.maxDuration = maxDuration
        self.resamplerQuality = resamplerQuality
    }

    func validate(name: String) throws(AudioError) {
        if let rate = targetSampleRate, !StreamLimits.sampleRates.contains(rate) {
            throw .invalidParameters(path: name, reason: "target sample rate \(rate) Hz is outside \(StreamLimits.sampleRates.lowerBound)…\(StreamLimits.sampleRates.upperBound) Hz")
        }
        guard offset.isFinite, offset >= 0 else {
            throw .invalidParameters(path: name, reason: "offset \(offset) s must be a finite number ≥ 0")
        }
        if let duration, !(duration.isFinite && duration >= 0) {
            throw .invalidParameters(path: name, reason: "duration \(duration) s must be a finite number ≥ 0")
        }
        guard maxDuration.isFinite, maxDuration > 0 else {
            throw .invalidParameters(path: name, reason: "maxDuration \(maxDuration) s must be a finite number > 0")
        }
    }
}

/// Mono audio decoded from a file or upload, with what is known of its source.
public struct DecodedAudio: Sendable, Equatable {
    /// Mono samples (mean of the source channels), nominally in [-1, 1].
    public var samples: [Float]
    public var sampleRate: Int
    public var sourceSampleRate: Int
    public var sourceChannels: Int
    public var sourceFormat: AudioFileFormat
    /// Length of the whole source in seconds, when its header says (nil for some streams).
    public var sourceDuration: Double?

    public init(samples: [Float], sampleRate: Int, sourceSampleRate: Int, sourceChannels: Int,
                sourceFormat: AudioFileFormat, sourceDuration: Double?) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.sourceSampleRate = sourceSampleRate
        self.sourceChannels = sourceChannels
        self.sourceFormat = sourceFormat
        self.sourceDuration = sourceDuration
    }

    /// Seconds of `samples`.
    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }
}
