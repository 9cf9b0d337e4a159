import COpenBLAS
import Foundation

/// The principal axes of a set of vectors, to draw a library on a plane (or in 3-D).
///
/// As scikit-learn's `PCA(n_components)`: centre on the mean, form the covariance matrix
/// (`cblas_ssyrk` over centred blocks of 256 rows, float sums over 4,096 rows moved into double
/// precision; both passes split across the cores, see `scatter`), and take the eigenvectors
/// with the largest eigenvalues (LAPACK `dsyevr`, computing only those). Each
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
        try self.init(points, count: n, dimension: d, components: components, workers: RowPasses.workers(rows: n))
    }

    /// `init` with its passes split across `workers` (tests compare splits).
    init(_ points: [Float], count n: Int, dimension d: Int, components: Int, workers requested: Int) throws(SimilarityError) {
        guard d > 0, n > 1, points.count == n * d else {
            throw .invalidArgument("expected at least 2 points of \(d) values, got \(points.count) values for \(n) points")
        }
        guard components >= 1, components <= d else { throw .invalidArgument("components must be in 1…\(d), got \(components)") }
        let workers = max(1, min(requested, n))
        // One BLAS thread throughout: the passes call BLAS from each worker, and a 256 × 256
        // eigenproblem is a few hundred small BLAS calls that OpenBLAS's threads would only
        // slow down.
        let (mean, total, eigenvalues, vectors) = try RowPasses.withOneBLASThread { () throws(SimilarityError) in
            let mean = Self.columnMeans(points, count: n, dimension: d, workers: workers)
            // A NaN or infinity anywhere makes its column's sum one (a float sum can also
            // overflow: then look at the values themselves).
            guard mean.allSatisfy(\.isFinite) || RowPasses.allFinite(points) else {
                throw .invalidArgument("the points hold NaN or infinite values")
            }
            var covariance = Self.scatter(points, count: n, dimension: d, mean: mean.map { Float($0) }, workers: workers)
            // dsyevr overwrites the matrix: its trace (the total variance) first.
            let total = (0..<d).reduce(0.0) { $0 + covariance[$1 * d + $1] }
            let (eigenvalues, vectors) = try Self.topEigenpairs(&covariance, dimension: d, count: components)
            return (mean, total, eigenvalues, vectors)
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

    /// Coordinates of each of `count` points on the axes, `count × components`, row-major:
    /// x·a − mean·a for each axis a, from the points as they are (as scikit-learn's `transform`
    /// does) rather than a centred copy.
    public func project(_ points: [Float], count n: Int) throws(SimilarityError) -> [Float] {
        try project(points, count: n, workers: RowPasses.workers(rows: n))
    }

    /// `project` split across `workers` (tests compare splits).
    func project(_ points: [Float], count n: Int, workers requested: Int) throws(SimilarityError) -> [Float] {
        guard points.count == n * dimension else {
            throw .dimensionMismatch(id: nil, expected: dimension, got: n > 0 ? points.count / n : points.count)
        }
        var out = [Float](repeating: 0, count: n * components)
        guard n > 0 else { return out }
        // One `cblas_sgemv` per axis over each worker's rows, a block at a time so that the
        // block is still in cache for the next axis (a GEMM would first copy every point).
        let workers = max(1, min(requested, n))
        RowPasses.withOneBLASThread {
            points.withUnsafeBufferPointer { x in
                axes.withUnsafeBufferPointer { a in
                    out.withUnsafeMutableBufferPointer { o in
                        let pass = ProjectionBuffers(points: x.baseAddress!, axes: a.baseAddress!, out: o.baseAddress!)
                        let d = dimension, components = components
                        RowPasses.forEachChunk(n, workers: workers) { _, range in
                            for start in stride(from: range.lowerBound, to: range.upperBound, by: Self.rowsPerBlock) {
                                let rows = min(Self.rowsPerBlock, range.upperBound - start)
                                for c in 0..<components {
                                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(d), 1, pass.points + start * d,
                                                Int32(d), pass.axes + c * d, 1, 0, pass.out + start * components + c,
                                                Int32(components))
                                }
                            }
                        }
                    }
                }
            }
        }
        let offsets = (0..<components).map { c in
            (0..<dimension).reduce(0.0) { $0 + Double(mean[$1]) * Double(axes[c * dimension + $1]) }
        }
        for p in 0..<n {
            for c in 0..<components { out[p * components + c] = Float(Double(out[p * components + c]) - offsets[c]) }
        }
        return out
    }

    /// The `count` largest eigenvalues (ascending) of the symmetric `d × d` matrix whose
    /// row-major upper triangle `matrix` holds, and their eigenvectors (column-major, `d` values
    /// each), through LAPACK `dsyevr` (RANGE = "I": only those pairs). Overwrites `matrix`.
    static func topEigenpairs(_ matrix: inout [Double], dimension d: Int, count components: Int) throws(SimilarityError)
        -> (values: [Double], vectors: [Double]) {
        // Row-major upper = column-major lower: hand LAPACK "L".
        var size = Int32(d), lda = Int32(d), low = Int32(d - components + 1), high = Int32(d), found: Int32 = 0, info: Int32 = 0
        var unused = 0.0, abstol = 0.0
        var eigenvalues = [Double](repeating: 0, count: d)
        var vectors = [Double](repeating: 0, count: d * components)
        var support = [Int32](repeating: 0, count: 2 * components)
        var workSize = 0.0, lwork: Int32 = -1, iworkSize: Int32 = 0, liwork: Int32 = -1
        dsyevr_("V", "I", "L", &size, &matrix, &lda, &unused, &unused, &low, &high, &abstol, &found,
                &eigenvalues, &vectors, &lda, &support, &workSize, &lwork, &iworkSize, &liwork, &info, 1, 1, 1)
        lwork = Int32(max(workSize, Double(26 * d)))
        liwork = max(iworkSize, Int32(10 * d))
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevr_("V", "I", "L", &size, &matrix, &lda, &unused, &unused, &low, &high, &abstol, &found,
                &eigenvalues, &vectors, &lda, &support, &work, &lwork, &iwork, &liwork, &info, 1, 1, 1)
        guard info == 0, found == Int32(components) else {
            throw .invalidArgument("the eigensolver did not converge (LAPACK dsyevr info \(info), \(found) of \(components) eigenpairs)")
        }
        return (eigenvalues, vectors)
    }

    /// Rows centred and multiplied at once: the centred block stays in cache for its `cblas_ssyrk`.
    static let rowsPerBlock = 256
    /// Rows whose products are summed in single precision before they move to double precision.
    static let sumWindow = 4096

    /// The mean of each column: float sums over `sumWindow` rows at a time, moved into double
    /// precision (one partial sum per worker).
    static func columnMeans(_ points: [Float], count n: Int, dimension d: Int, workers: Int) -> [Double] {
        var partials = [Double](repeating: 0, count: workers * d)
        points.withUnsafeBufferPointer { x in
            partials.withUnsafeMutableBufferPointer { out in
                let pass = ScatterBuffers(points: x.baseAddress!, mean: nil, partials: out.baseAddress!)
                RowPasses.forEachChunk(n, workers: workers) { w, range in
                    let sums = pass.partials + w * d
                    var window = [Float](repeating: 0, count: d)
                    window.withUnsafeMutableBufferPointer { window in
                        for start in stride(from: range.lowerBound, to: range.upperBound, by: sumWindow) {
                            for p in start..<min(start + sumWindow, range.upperBound) {
                                add(pass.points + p * d, into: window.baseAddress!, count: d)
                            }
                            for j in 0..<d { sums[j] += Double(window[j]); window[j] = 0 }
                        }
                    }
                }
            }
        }
        return (0..<d).map { j in (0..<workers).reduce(0.0) { $0 + partials[$1 * d + j] } / Double(n) }
    }

    /// The upper triangle of Σ (x − mean)(x − mean)ᵀ, row-major `d × d`. Each worker centres
    /// `rowsPerBlock` rows at a time into a scratch block and adds their products to a float
    /// matrix (`cblas_ssyrk`, one BLAS thread per worker), which moves into its double matrix
    /// every `sumWindow` rows (as scikit-learn's covariance solver, float products for float32
    /// data); the workers' matrices are added in order.
    static func scatter(_ points: [Float], count n: Int, dimension d: Int, mean: [Float], workers: Int) -> [Double] {
        var partials = [Double](repeating: 0, count: workers * d * d)
        points.withUnsafeBufferPointer { x in
            mean.withUnsafeBufferPointer { m in
                partials.withUnsafeMutableBufferPointer { out in
                    let pass = ScatterBuffers(points: x.baseAddress!, mean: m.baseAddress!, partials: out.baseAddress!)
                    RowPasses.forEachChunk(n, workers: workers) { w, range in
                        pass.scatter(range, dimension: d, into: pass.partials + w * d * d)
                    }
                }
            }
        }
        guard workers > 1 else { return partials }
        for w in 1..<workers { for i in 0..<(d * d) { partials[i] += partials[w * d * d + i] } }
        return Array(partials.prefix(d * d))
    }
}

private struct ProjectionBuffers: @unchecked Sendable {
    let points: UnsafePointer<Float>, axes: UnsafePointer<Float>
    /// Each worker writes only its own rows.
    let out: UnsafeMutablePointer<Float>
}

/// What a worker of `columnMeans` or `scatter` reads, and its partial sums (its own part of
/// `partials` only).
private struct ScatterBuffers: @unchecked Sendable {
    let points: UnsafePointer<Float>
    let mean: UnsafePointer<Float>?
    let partials: UnsafeMutablePointer<Double>

    func scatter(_ range: Range<Int>, dimension d: Int, into sums: UnsafeMutablePointer<Double>) {
        let mean = self.mean!
        let block = min(PrincipalComponents.rowsPerBlock, range.count)
        var centred = [Float](repeating: 0, count: block * d)
        var products = [Float](repeating: 0, count: d * d)
        centred.withUnsafeMutableBufferPointer { centred in
            products.withUnsafeMutableBufferPointer { products in
                let c = centred.baseAddress!, product = products.baseAddress!
                var windowed = 0
                for start in stride(from: range.lowerBound, to: range.upperBound, by: block) {
                    let rows = min(block, range.upperBound - start)
                    for r in 0..<rows {
                        let src = points + (start + r) * d, dst = c + r * d
                        for j in 0..<d { dst[j] = src[j] - mean[j] }
                    }
                    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(rows), 1, c, Int32(d),
                                windowed == 0 ? 0 : 1, product, Int32(d))
                    windowed += rows
                    if windowed >= PrincipalComponents.sumWindow || start + rows == range.upperBound {
                        for i in 0..<d { for j in i..<d { sums[i * d + j] += Double(product[i * d + j]) } }
                        windowed = 0
                    }
                }
            }
        }
    }
}
