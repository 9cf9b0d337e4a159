/// Retrieval by embedding: does a track's nearest neighbour come from its own group (the same
/// soundtrack, album or artist)? Leave-one-out over a collection, cosine similarity.
public enum RetrievalMetrics {
    /// Mean over tracks, of the share of its `k` nearest other tracks (cosine similarity; ties
    /// broken by index) that belong to its group. Tracks whose group has no other member are
    /// skipped (nothing could be found); nil when none remain. `vectors` need not be normalised;
    /// a zero vector is as far from everything as can be (similarity −1).
    public static func precisionAtK(vectors: [[Float]], groups: [String], k: Int) -> Double? {
        precisionAtKPerTrack(vectors: vectors, groups: groups, k: k).map { values in
            values.reduce(0, +) / Double(values.count)
        }
    }

    /// Each scored track's precision at k, in track order (tracks alone in their group left out).
    public static func precisionAtKPerTrack(vectors: [[Float]], groups: [String], k: Int) -> [Double]? {
        precondition(vectors.count == groups.count, "one group per vector")
        guard k > 0, vectors.count > 1 else { return nil }
        let unit = vectors.map { v -> [Float]? in
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? v.map { $0 / norm } : nil
        }
        var sizes: [String: Int] = [:]
        for g in groups { sizes[g, default: 0] += 1 }
        var result: [Double] = []
        for i in vectors.indices where sizes[groups[i], default: 0] > 1 {
            var scored: [(similarity: Float, index: Int)] = []
            scored.reserveCapacity(vectors.count - 1)
            for j in vectors.indices where j != i {
                var s: Float = -1
                if let a = unit[i], let b = unit[j], a.count == b.count {
                    s = 0
                    for d in a.indices { s += a[d] * b[d] }
                }
                scored.append((s, j))
            }
            scored.sort { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.index < $1.index }
            let top = scored.prefix(k)
            let hits = top.filter { groups[$0.index] == groups[i] }.count
            result.append(Double(hits) / Double(top.count))
        }
        return result.isEmpty ? nil : result
    }

    /// Each dimension standardised over the collection (zero mean, unit variance; a constant
    /// dimension becomes 0), as a statistics baseline needs before cosine similarity.
    public static func standardised(_ vectors: [[Float]]) -> [[Float]] {
        guard let d = vectors.first?.count, !vectors.isEmpty else { return vectors }
        let n = Double(vectors.count)
        var mean = [Double](repeating: 0, count: d), variance = [Double](repeating: 0, count: d)
        for v in vectors { for j in 0..<d { mean[j] += Double(v[j]) / n } }
        for v in vectors { for j in 0..<d { let x = Double(v[j]) - mean[j]; variance[j] += x * x / n } }
        return vectors.map { v in
            (0..<d).map { j in variance[j] > 0 ? Float((Double(v[j]) - mean[j]) / variance[j].squareRoot()) : 0 }
        }
    }
}
