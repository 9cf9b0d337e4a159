import COpenBLAS
import Foundation

/// The principal axes of a set of vectors, to draw a library on a plane (or in 3-D).
///
/// As scikit-learn's `PCA(n_components)`: centre on the mean, take the eigenvectors of the
/// covariance matrix (accumulated in double precision, `cblas_dsyrk` over blocks of rows;
/// LAPACK `dsyev`) with the largest eigenvalues; each axis's sign makes its largest-magnitude
/// coefficient positive (scikit-learn's `svd_flip` for PCA), so results are deterministic.
/// Golden-tested against scikit-learn 1.9 (`tools/golden/make_similarity_fixtures.py`).
public struct PrincipalComponents: Sendable, Equatable {
    public var dimension: Int
    public var mean: [Float]
    /// `components × dimension`, row-major, unit rows, strongest first.
    public var axes: [Float]
    /// Each axis's share of the total variance.
    public var explainedVarianceRatio: [Double]

    public var components: Int { axes.count / dimension }

    public init(_ points: [Float], count n: Int, dimension d: Int, components: Int = 2) throws(SimilarityError) {
        guard d > 0, n > 1, points.count == n * d else {
            throw .invalidArgument("expected at least 2 points of \(d) values, got \(points.count) values for \(n) points")
        }
        guard components >= 1, components <= d else { throw .invalidArgument("components must be in 1…\(d), got \(components)") }
        guard points.allSatisfy(\.isFinite) else { throw .invalidArgument("the points hold NaN or infinite values") }
        var mean = [Double](repeating: 0, count: d)
        for p in 0..<n { for j in 0..<d { mean[j] += Double(points[p * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }

        // Upper triangle of Σ (x − mean)(x − mean)ᵀ.
        var covariance = [Double](repeating: 0, count: d * d)
        let block = 2048
        var centred = [Double](repeating: 0, count: min(block, n) * d)
        for start in stride(from: 0, to: n, by: block) {
            let rows = min(block, n - start)
            for r in 0..<rows { for j in 0..<d { centred[r * d + j] = Double(points[(start + r) * d + j]) - mean[j] } }
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(rows), 1, centred, Int32(d), 1, &covariance, Int32(d))
        }
        // Row-major upper = column-major lower: hand LAPACK "L".
        var eigenvalues = [Double](repeating: 0, count: d)
        var size = Int32(d), lda = Int32(d), info: Int32 = 0
        var query = 0.0, lwork: Int32 = -1
        dsyev_("V", "L", &size, &covariance, &lda, &eigenvalues, &query, &lwork, &info, 1, 1)
        lwork = Int32(max(query, Double(3 * d)))
        var work = [Double](repeating: 0, count: Int(lwork))
        dsyev_("V", "L", &size, &covariance, &lda, &eigenvalues, &work, &lwork, &info, 1, 1)
        guard info == 0 else { throw .invalidArgument("the eigensolver did not converge (LAPACK dsyev info \(info))") }

        // Ascending eigenvalues; eigenvector i is column i of the column-major result, which is
        // row i of `covariance` read row-major.
        let total = eigenvalues.reduce(0) { $0 + max(0, $1) }
        var axes = [Float](repeating: 0, count: components * d)
        var ratios: [Double] = []
        for c in 0..<components {
            let i = d - 1 - c
            let row = Array(covariance[(i * d)..<((i + 1) * d)])
            let largest = row.indices.max { abs(row[$0]) < abs(row[$1]) }!
            let sign: Double = row[largest] < 0 ? -1 : 1
            for j in 0..<d { axes[c * d + j] = Float(sign * row[j]) }
            ratios.append(total > 0 ? max(0, eigenvalues[i]) / total : 0)
        }
        self.dimension = d
        self.mean = mean.map { Float($0) }
        self.axes = axes
        self.explainedVarianceRatio = ratios
    }

    /// Coordinates of each of `count` points on the axes, `count × components`, row-major.
    public func project(_ points: [Float], count n: Int) throws(SimilarityError) -> [Float] {
        guard points.count == n * dimension else {
            throw .dimensionMismatch(id: nil, expected: dimension, got: n > 0 ? points.count / n : points.count)
        }
        var centred = points
        for p in 0..<n { for j in 0..<dimension { centred[p * dimension + j] -= mean[j] } }
        var out = [Float](repeating: 0, count: n * components)
        guard n > 0 else { return out }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(components), Int32(dimension), 1,
                    centred, Int32(dimension), axes, Int32(dimension), 0, &out, Int32(components))
        return out
    }
}
