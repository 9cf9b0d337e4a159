import COpenBLAS
import Foundation

/// The principal axes of a set of vectors, to draw a library on a plane (or in 3-D).
///
/// As scikit-learn's `PCA(n_components)`: centre on the mean, form the covariance matrix
/// (`cblas_ssyrk` over blocks of 4,096 rows, the blocks summed in double precision), and take
/// the eigenvectors with the largest eigenvalues (LAPACK `dsyevr`, computing only those). Each
/// axis's sign makes its largest-magnitude coefficient positive (scikit-learn's `svd_flip` for
/// PCA), so results are deterministic.
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
        points.withUnsafeBufferPointer { x in
            mean.withUnsafeMutableBufferPointer { m in
                for p in 0..<n { let row = x.baseAddress! + p * d; for j in 0..<d { m[j] += Double(row[j]) } }
                for j in 0..<d { m[j] /= Double(n) }
            }
        }

        // Upper triangle of Σ (x − mean)(x − mean)ᵀ: float products over blocks of rows (as
        // scikit-learn's covariance solver does for float32 data), summed in double precision.
        var covariance = [Double](repeating: 0, count: d * d)
        var block = [Float](repeating: 0, count: d * d)
        let rowsPerBlock = 4096
        var centred = [Float](repeating: 0, count: min(rowsPerBlock, n) * d)
        let meanFloat = mean.map { Float($0) }
        for start in stride(from: 0, to: n, by: rowsPerBlock) {
            let rows = min(rowsPerBlock, n - start)
            centre(points, from: start, rows: rows, dimension: d, mean: meanFloat, into: &centred)
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(rows), 1, centred, Int32(d), 0, &block, Int32(d))
            for i in 0..<(d * d) { covariance[i] += Double(block[i]) }
        }
        // Row-major upper = column-major lower: hand LAPACK "L". Only the top `components`
        // eigenpairs are computed (dsyevr, RANGE = "I"), in ascending order.
        var size = Int32(d), lda = Int32(d), low = Int32(d - components + 1), high = Int32(d), found: Int32 = 0, info: Int32 = 0
        var unused = 0.0, abstol = 0.0
        var eigenvalues = [Double](repeating: 0, count: d)
        var vectors = [Double](repeating: 0, count: d * components)
        var support = [Int32](repeating: 0, count: 2 * components)
        var workSize = 0.0, lwork: Int32 = -1, iworkSize: Int32 = 0, liwork: Int32 = -1
        dsyevr_("V", "I", "L", &size, &covariance, &lda, &unused, &unused, &low, &high, &abstol, &found,
                &eigenvalues, &vectors, &lda, &support, &workSize, &lwork, &iworkSize, &liwork, &info, 1, 1, 1)
        lwork = Int32(max(workSize, Double(26 * d)))
        liwork = max(iworkSize, Int32(10 * d))
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        // dsyevr overwrites the matrix: keep its trace (the total variance) first.
        let total = (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] }
        dsyevr_("V", "I", "L", &size, &covariance, &lda, &unused, &unused, &low, &high, &abstol, &found,
                &eigenvalues, &vectors, &lda, &support, &work, &lwork, &iwork, &liwork, &info, 1, 1, 1)
        guard info == 0, found == Int32(components) else {
            throw .invalidArgument("the eigensolver did not converge (LAPACK dsyevr info \(info), \(found) of \(components) eigenpairs)")
        }

        // Eigenvector i is column i of the column-major `vectors`: values i·d ..< (i+1)·d.
        var axes = [Float](repeating: 0, count: components * d)
        var ratios: [Double] = []
        for c in 0..<components {
            let i = components - 1 - c
            let row = Array(vectors[(i * d)..<((i + 1) * d)])
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
        var centred = [Float](repeating: 0, count: points.count)
        centre(points, from: 0, rows: n, dimension: dimension, mean: mean, into: &centred)
        var out = [Float](repeating: 0, count: n * components)
        guard n > 0 else { return out }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(components), Int32(dimension), 1,
                    centred, Int32(dimension), axes, Int32(dimension), 0, &out, Int32(components))
        return out
    }
}

/// `out[r][j] = points[start + r][j] − mean[j]` for `rows` rows.
private func centre(_ points: [Float], from start: Int, rows: Int, dimension d: Int, mean: [Float], into out: inout [Float]) {
    points.withUnsafeBufferPointer { x in
        mean.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows {
                    let src = x.baseAddress! + (start + r) * d, dst = o.baseAddress! + r * d
                    for j in 0..<d { dst[j] = src[j] - m[j] }
                }
            }
        }
    }
}
