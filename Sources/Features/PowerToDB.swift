import Foundation

/// Power spectrogram to decibels, as `librosa.power_to_db` (0.11):
/// `S_db = 10 log10(max(amin, S)) - 10 log10(max(amin, ref))`, then, when `topDB` is set,
/// `S_db = max(S_db, max(S_db) - topDB)` where the maximum is over the whole input.
/// Defaults: ref=1.0, amin=1e-10, top_db=80.
///
/// Invalid parameters (amin ≤ 0, negative top_db) follow librosa's guards only as far as not
/// crashing: amin ≤ 0 is treated as the smallest positive normal float.
public func powerToDB(_ s: [Float], ref: Float = 1, amin: Float = 1e-10, topDB: Float? = 80) -> [Float] {
    var out = s
    out.withUnsafeMutableBufferPointer { powerToDBInPlace($0, ref: ref, amin: amin, topDB: topDB) }
    return out
}

/// In-place `powerToDB` over a buffer (the log-mel hot path; no allocation).
func powerToDBInPlace(_ s: UnsafeMutableBufferPointer<Float>, ref: Float, amin: Float, topDB: Float?) {
    guard !s.isEmpty else { return }
    let floor = amin > 0 ? amin : Float.leastNormalMagnitude
    // librosa: the ref term is a float64 scalar subtracted from the float32 array.
    let refDB = 10.0 * log10(max(Double(floor), Double(abs(ref))))
    var peak = -Float.infinity
    for i in s.indices {
        var v = 10 * log10(max(floor, s[i]))
        if refDB != 0 { v = Float(Double(v) - refDB) }
        s[i] = v
        peak = max(peak, v)
    }
    if let topDB {
        let threshold = peak - topDB
        for i in s.indices where s[i] < threshold { s[i] = threshold }
    }
}
