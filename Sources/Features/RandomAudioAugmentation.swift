/// Randomised forms of the waveform augmentations, for on-the-fly training data
/// (the seed's `AudioDataset`): each draws its parameter uniformly from a range with the
/// generator passed in, so a seed fixes the result.
extension AudioAugmentation {
    /// Pitch shift by a uniform number of semitones in `-maxSemitones...maxSemitones`
    /// (the seed uses ±2). Returns the shifted signal and the shift drawn.
    public func randomPitchShift(_ y: [Float], maxSemitones: Double = 2,
                                 using rng: inout some RandomNumberGenerator) throws(FeatureError) -> (audio: [Float], semitones: Double) {
        guard maxSemitones.isFinite, maxSemitones >= 0 else {
            throw .invalidParameter(name: "maxSemitones", reason: "must be >= 0, got \(maxSemitones)")
        }
        let steps = Double.random(in: -maxSemitones...maxSemitones, using: &rng)
        return (try pitchShift(y, semitones: steps), steps)
    }

    /// Time stretch by a rate uniform in `rates` (default 0.9...1.1, the seed's ±10 %).
    public func randomTimeStretch(_ y: [Float], rates: ClosedRange<Double> = 0.9...1.1,
                                  using rng: inout some RandomNumberGenerator) throws(FeatureError) -> (audio: [Float], rate: Double) {
        guard rates.lowerBound > 0, rates.upperBound.isFinite else {
            throw .invalidParameter(name: "rates", reason: "must be positive and finite, got \(rates)")
        }
        let rate = Double.random(in: rates, using: &rng)
        return (try timeStretch(y, rate: rate), rate)
    }

    /// White noise at an SNR uniform in `snrDB` (default 10...40 dB).
    public func randomNoise(_ y: [Float], snrDB: ClosedRange<Float> = 10...40,
                            using rng: inout some RandomNumberGenerator) throws(FeatureError) -> (audio: [Float], snrDB: Float) {
        guard snrDB.lowerBound.isFinite, snrDB.upperBound.isFinite else {
            throw .invalidParameter(name: "snrDB", reason: "must be finite, got \(snrDB)")
        }
        let snr = Float.random(in: snrDB, using: &rng)
        return (try addNoise(y, snrDB: snr, using: &rng), snr)
    }
}
