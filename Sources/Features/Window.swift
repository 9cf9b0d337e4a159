import Foundation

/// Analysis windows, as `librosa.filters.get_window(..., fftbins=True)` + `util.pad_center`.
enum Window {
    /// Periodic Hann window of `length` (scipy `hann(length, sym=False)`):
    /// `w[n] = 0.5 - 0.5 cos(2πn / length)`, computed in Double.
    static func periodicHann(_ length: Int) -> [Double] {
        guard length > 1 else { return [Double](repeating: 1, count: max(length, 0)) }
        return (0..<length).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(length)) }
    }

    /// `window` zero-padded on both sides to `size`, centred as `librosa.util.pad_center`
    /// (left pad = (size - length) / 2, rounded down).
    static func padCenter(_ window: [Double], to size: Int) -> [Double] {
        let left = (size - window.count) / 2
        var out = [Double](repeating: 0, count: size)
        for (i, w) in window.enumerated() { out[left + i] = w }
        return out
    }

    /// The STFT window for a config: periodic Hann of `winLength`, centred in `nFFT`.
    static func analysis(nFFT: Int, winLength: Int) -> [Float] {
        padCenter(periodicHann(winLength), to: nFFT).map { Float($0) }
    }
}
