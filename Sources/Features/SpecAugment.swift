/// SpecAugment's masking (Park et al. 2019, "SpecAugment: A Simple Data Augmentation Method
/// for Automatic Speech Recognition"), without time warping: `frequencyMasks` bands of
/// mel rows and `timeMasks` spans of frames are set to a mask value.
///
/// Each mask's width is uniform in `0...maxWidth` (clipped to the axis length) and its
/// start uniform over the positions where it fits, as torchaudio's `FrequencyMasking` /
/// `TimeMasking`. Masks may overlap. The mask value is, by default, the mean of the
/// spectrogram *before* masking (for a dB spectrogram a neutral level, unlike 0 dB which
/// is the loudest possible value); `.constant(v)` uses `v`.
public struct SpecAugment: Codable, Sendable, Equatable {
    /// Coded as the string `"mean"` or a number.
    public enum MaskValue: Codable, Sendable, Equatable {
        case mean
        case constant(Float)

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Float.self) {
                self = .constant(v)
            } else if try c.decode(String.self) == "mean" {
                self = .mean
            } else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "mask_value must be \"mean\" or a number")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .mean: try c.encode("mean")
            case .constant(let v): try c.encode(v)
            }
        }
    }

    public enum Axis: String, Codable, Sendable, Equatable {
        case frequency
        case time
    }

    /// One applied mask: rows (`frequency`) or columns (`time`) `start..<start+width`.
    public struct Mask: Sendable, Equatable {
        public var axis: Axis
        public var start: Int
        public var width: Int
    }

    public var frequencyMasks: Int
    public var maxFrequencyWidth: Int
    public var timeMasks: Int
    public var maxTimeWidth: Int
    public var maskValue: MaskValue

    enum CodingKeys: String, CodingKey {
        case frequencyMasks = "freq_masks", maxFrequencyWidth = "max_freq_width"
        case timeMasks = "time_masks", maxTimeWidth = "max_time_width", maskValue = "mask_value"
    }

    /// Defaults: two masks on each axis (as the seed), up to 15 mel bands and 20 frames
    /// (≈ 0.46 s at hop 512, 22050 Hz) each.
    public init(frequencyMasks: Int = 2, maxFrequencyWidth: Int = 15, timeMasks: Int = 2, maxTimeWidth: Int = 20,
                maskValue: MaskValue = .mean) {
        self.frequencyMasks = frequencyMasks
        self.maxFrequencyWidth = maxFrequencyWidth
        self.timeMasks = timeMasks
        self.maxTimeWidth = maxTimeWidth
        self.maskValue = maskValue
    }

    /// Masks `spectrogram` in place and returns the masks applied (frequency masks first).
    @discardableResult
    public func apply(to spectrogram: inout Spectrogram, using rng: inout some RandomNumberGenerator) throws(FeatureError) -> [Mask] {
        for (name, value) in [("frequencyMasks", frequencyMasks), ("maxFrequencyWidth", maxFrequencyWidth),
                              ("timeMasks", timeMasks), ("maxTimeWidth", maxTimeWidth)] where value < 0 {
            throw .invalidParameter(name: name, reason: "must be >= 0, got \(value)")
        }
        guard spectrogram.values.count == spectrogram.nMels * spectrogram.frames else {
            throw .shapeMismatch("spectrogram has \(spectrogram.values.count) values, not \(spectrogram.nMels)x\(spectrogram.frames)")
        }
        let fill: Float
        switch maskValue {
        case .mean: fill = spectrogram.mean
        case .constant(let v): fill = v
        }
        var masks = [Mask]()
        func draw(_ axis: Axis, count: Int, maxWidth: Int, size: Int) {
            for _ in 0..<count {
                let width = Int.random(in: 0...min(maxWidth, size), using: &rng)
                let start = Int.random(in: 0...(size - width), using: &rng)
                masks.append(Mask(axis: axis, start: start, width: width))
            }
        }
        draw(.frequency, count: frequencyMasks, maxWidth: maxFrequencyWidth, size: spectrogram.nMels)
        draw(.time, count: timeMasks, maxWidth: maxTimeWidth, size: spectrogram.frames)
        let frames = spectrogram.frames
        spectrogram.values.withUnsafeMutableBufferPointer { v in
            for mask in masks where mask.width > 0 {
                switch mask.axis {
                case .frequency:
                    for i in (mask.start * frames)..<((mask.start + mask.width) * frames) { v[i] = fill }
                case .time:
                    for m in 0..<spectrogram.nMels {
                        for t in mask.start..<(mask.start + mask.width) { v[m * frames + t] = fill }
                    }
                }
            }
        }
        return masks
    }
}
