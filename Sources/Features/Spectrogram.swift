/// A (mel) spectrogram: `nMels` rows by `frames` columns, row-major `[mel][frame]`,
/// the layout of librosa's `(n_mels, t)` arrays and of a CNN input `(1, n_mels, t)`.
public struct Spectrogram: Sendable, Equatable {
    public var nMels: Int
    public var frames: Int
    /// Row-major `[mel][frame]`; `values.count == nMels * frames`.
    public var values: [Float]

    public init(nMels: Int, frames: Int, values: [Float]) {
        self.nMels = nMels
        self.frames = frames
        self.values = values
    }

    /// A spectrogram filled with `value`.
    public init(nMels: Int, frames: Int, repeating value: Float) {
        self.init(nMels: nMels, frames: frames, values: [Float](repeating: value, count: nMels * frames))
    }

    public subscript(mel: Int, frame: Int) -> Float {
        get { values[mel * frames + frame] }
        set { values[mel * frames + frame] = newValue }
    }

    /// Mean of all values (0 for an empty spectrogram), accumulated in Double.
    public var mean: Float {
        guard !values.isEmpty else { return 0 }
        var sum = 0.0
        for v in values { sum += Double(v) }
        return Float(sum / Double(values.count))
    }
}
