import COpenBLAS
import Foundation

/// The mean silhouette coefficient (Rousseeuw 1987) of a labelling, with Euclidean distances,
/// as scikit-learn's `silhouette_score`: for each point, a = mean distance to the other
/// members of its cluster, b = the smallest mean distance to another cluster's members,
/// s = (b − a) / max(a, b), and s = 0 for a point alone in its cluster. In [−1, 1]; higher
/// means tighter, better separated groups. The n×n Gram matrix comes from one `cblas_ssyrk`,
/// so callers pass a sample (a few thousand points), not a whole library.
public enum Silhouette {
    public static func score(_ points: [Float], count n: Int, dimension d: Int, labels: [Int]) throws(SimilarityError) -> Double {
        guard n >= 2, points.count == n * d, labels.count == n else {
            throw .notUsable(id: nil, reason: "a silhouette needs at least two points with one label each")
        }
        let k = (labels.max() ?? 0) + 1
        guard k >= 2, k < n + 1 else { return 0 }
        var gram = [Float](repeating: 0, count: n * n)
        points.withUnsafeBufferPointer { x in
            gram.withUnsafeMutableBufferPointer { g in
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(n), Int32(d), 1, x.baseAddress, Int32(d), 0,
                            g.baseAddress, Int32(n))
            }
        }
        let sizes = labels.reduce(into: [Int](repeating: 0, count: k)) { $0[$1] += 1 }
        var total = 0.0
        var sums = [Double](repeating: 0, count: k)
        for i in 0..<n {
            for c in 0..<k { sums[c] = 0 }
            let gii = Double(gram[i * n + i])
            for j in 0..<n where j != i {
                let gij = Double(i < j ? gram[i * n + j] : gram[j * n + i])
                let gjj = Double(gram[j * n + j])
                sums[labels[j]] += max(0, gii + gjj - 2 * gij).squareRoot()
            }
            let own = labels[i]
            guard sizes[own] > 1 else { continue }
            let a = sums[own] / Double(sizes[own] - 1)
            var b = Double.infinity
            for c in 0..<k where c != own && sizes[c] > 0 { b = min(b, sums[c] / Double(sizes[c])) }
            guard b.isFinite else { continue }
            let denominator = max(a, b)
            total += denominator > 0 ? (b - a) / denominator : 0
        }
        return total / Double(n)
    }
}
