import Foundation

/// Power spectrogram to decibels, as `librosa.power_to_db` (0.11):
/// `S_db = 10 log10(max(amin, S)) - 10 log10(max(amin, |ref|))`, then, when `topDB` is set,
/// `S_db = max(S_db, max(S_db) - topDB)` where the maximum is over the whole input.
/// Defaults: ref=1.0, amin=1e-10, top_db=80.
///
/// librosa raises for amin ≤ 0 or top_db < 0; here amin ≤ 0 is taken as the smallest normal
/// float (`LogMelSpectrogram` validates both). NaN inputs give NaN outputs.
public func powerToDB(_ s: [Float], ref: Float = 1, amin: Float = 1e-10, topDB: Float? = 80) -> [Float] {
    var out = s
    out.withUnsafeMutableBufferPointer { powerToDBInPlace($0, ref: ref, amin: amin, topDB: topDB) }
    return out
}

/// In-place `powerToDB` over a buffer (the log-mel hot path; no allocation).
func powerToDBInPlace(_ s: UnsafeMutableBufferPointer<Float>, ref: Float, amin: Float, topDB: Float?) {
    guard let base = s.baseAddress, !s.isEmpty else { return }
    let floor = amin >= Float.leastNormalMagnitude ? amin : Float.leastNormalMagnitude
    // librosa: the ref term is a float64 scalar subtracted from the float32 array.
    let refDB = 10.0 * log10(max(Double(floor), Double(abs(ref))))
    let refDBFloat = Float(refDB)
    var peak = -Float.infinity
    var peaks = SIMD8<Float>(repeating: -.infinity)
    let count = s.count
    var i = 0
    let raw = UnsafeMutableRawPointer(base)
    while i + 8 <= count {
        let x = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self)
        // Only finite values take the vector path (NaN and +Inf fail `<`).
        guard all(x .< Float.greatestFiniteMagnitude) else {
            for j in i..<(i + 8) { peak = max(peak, scalarDB(&s[j], floor: floor, refDB: refDB)) }
            i += 8
            continue
        }
        var v = tenLog10(x.replacing(with: floor, where: x .< floor))
        if refDB != 0 { v -= refDBFloat }
        raw.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD8<Float>.self)
        peaks = pointwiseMax(peaks, v)
        i += 8
    }
    while i < count {
        peak = max(peak, scalarDB(&s[i], floor: floor, refDB: refDB))
        i += 1
    }
    peak = max(peak, peaks.max())
    if let topDB {
        let threshold = peak - topDB
        for j in 0..<count where s[j] < threshold { s[j] = threshold }
    }
}

@inline(__always)
private func scalarDB(_ v: inout Float, floor: Float, refDB: Double) -> Float {
    var db = 10 * log10(v.isNaN ? v : max(floor, v))
    if refDB != 0 { db = Float(Double(db) - refDB) }
    v = db
    return db
}
