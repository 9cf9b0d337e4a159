import Foundation

/// `nn.BatchNorm2d` over (B,C,H,W) and `nn.BatchNorm1d` over (B,F) = (B,F,1,1): statistics
/// per channel over batch and space.
///
/// Training normalises with the biased batch variance and updates the running statistics as
/// PyTorch does: `running = (1 − momentum)·running + momentum·batch`, with the unbiased
/// variance (·N/(N−1)) for `running_var`; evaluation uses the running statistics.
/// Defaults: eps 1e-5, momentum 0.1, weight 1, bias 0, running mean 0, running var 1.
public final class BatchNorm: Layer {
    public let numFeatures: Int
    public let eps: Float
    public let momentum: Float
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: PersistentBuffer
    public let runningVar: PersistentBuffer
    /// `num_batches_tracked`, a 0-dimensional int64 in PyTorch, kept here as one float (exact below 2²⁴).
    public let numBatchesTracked: PersistentBuffer

    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var input: Activation?
    private var usedBatchStatistics = false
    // Per channel: the mean and 1/√(var+eps) applied by the last forward, then Σdout, Σdout·x̂.
    private let statistics: FloatStorage
    private var mean: UnsafeMutablePointer<Float> { statistics.pointer }
    private var invStd: UnsafeMutablePointer<Float> { statistics.pointer + numFeatures }

    /// `name` is the module path, e.g. `stem.1`.
    public init(name: String, numFeatures: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        weight = Parameter(name: name + ".weight", value: Tensor(ones: [numFeatures]))
        bias = Parameter(name: name + ".bias", value: Tensor(zeros: [numFeatures]))
        runningMean = PersistentBuffer(name: name + ".running_mean", value: Tensor(zeros: [numFeatures]))
        runningVar = PersistentBuffer(name: name + ".running_var", value: Tensor(ones: [numFeatures]))
        numBatchesTracked = PersistentBuffer(name: name + ".num_batches_tracked", value: Tensor(zeros: []))
        statistics = FloatStorage(capacity: 4 * numFeatures)
    }

    public var stateEntries: [StateEntry] {
        [.parameter(weight), .parameter(bias), .buffer(runningMean), .buffer(runningVar), .buffer(numBatchesTracked)]
    }

    // inp is (B,C,H,W), out is (B,C,H,W): out = (inp − mean)/√(var+eps)·weight + bias
    public func forward(_ inp: Activation, training: Bool) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard s.channels == numFeatures else {
            throw ShapeError("BatchNorm \(weight.name): expected \(numFeatures) channels, got input \(s)")
        }
        let n = s.batch * s.planeSize
        if training && n <= 1 {
            throw ShapeError("BatchNorm \(weight.name): training needs more than 1 value per channel, got input \(s)")
        }
        input = inp
        usedBatchStatistics = training
        let out = output.reserve(s.count)
        let C = s.channels, B = s.batch, P = s.planeSize
        if training {
            let meanBox = SendablePointer(mean), varBox = SendablePointer(invStd)
            let inBox = SendablePointer(inp.data)
            // Two passes: the mean, then the biased variance around it; planes summed in float
            // on 8 lanes, planes added in double.
            Parallel.forEachChunk(C, grain: max(1, 16384 / max(1, B * P))) { channels in
                let x = inBox.pointer
                for c in channels {
                    var sum = 0.0
                    for b in 0..<B { sum += Double(VectorMath.sum(x + (b * C + c) * P, P)) }
                    let m = sum / Double(B * P)
                    var sq = 0.0
                    for b in 0..<B { sq += Double(VectorMath.sumOfSquares(x + (b * C + c) * P, P, around: Float(m))) }
                    meanBox.pointer[c] = Float(m)
                    varBox.pointer[c] = Float(sq / Double(B * P))   // biased variance for now
                }
            }
            let unbias = Float(n) / Float(n - 1)
            runningMean.value.data.withUnsafeMutableBufferPointer { rm in
                runningVar.value.data.withUnsafeMutableBufferPointer { rv in
                    for c in 0..<C {
                        rm[c] = (1 - momentum) * rm[c] + momentum * mean[c]
                        rv[c] = (1 - momentum) * rv[c] + momentum * invStd[c] * unbias
                        invStd[c] = 1 / (invStd[c] + eps).squareRoot()
                    }
                }
            }
            numBatchesTracked.value.data[0] += 1
        } else {
            for c in 0..<C {
                mean[c] = runningMean.value.data[c]
                invStd[c] = 1 / (runningVar.value.data[c] + eps).squareRoot()
            }
        }
        normalize(out, inp.data, s)
        return Activation(data: out, shape: s)
    }

    /// Evaluation's map out = inp·scale + shift per channel, from the running statistics, for a
    /// convolution to apply to its own output (`Conv2d.forwardEvaluation`); the same arithmetic as
    /// `forward(_:training: false)`. Valid until the next forward or call; backward then throws.
    public func evaluationAffine() -> (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
        input = nil
        let C = numFeatures, scale = statistics.pointer + 2 * C, shift = statistics.pointer + 3 * C
        weight.value.data.withUnsafeBufferPointer { w in
            bias.value.data.withUnsafeBufferPointer { b in
                for c in 0..<C {
                    mean[c] = runningMean.value.data[c]
                    invStd[c] = 1 / (runningVar.value.data[c] + eps).squareRoot()
                    scale[c] = invStd[c] * w[c]
                    shift[c] = b[c] - mean[c] * scale[c]
                }
            }
        }
        return (UnsafePointer(scale), UnsafePointer(shift))
    }

    private func normalize(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafeMutablePointer<Float>, _ s: ActivationShape) {
        let C = s.channels, P = s.planeSize
        weight.value.data.withUnsafeBufferPointer { w in
            bias.value.data.withUnsafeBufferPointer { bb in
                let outBox = SendablePointer(out), inBox = SendablePointer(inp)
                let wBox = SendablePointer(UnsafeMutablePointer(mutating: w.baseAddress!))
                let bBox = SendablePointer(UnsafeMutablePointer(mutating: bb.baseAddress!))
                let mBox = SendablePointer(mean), iBox = SendablePointer(invStd)
                Parallel.forEachChunk(s.batch * C, grain: max(1, 16384 / max(1, P))) { rows in
                    for row in rows {
                        let c = row % C
                        let scale = iBox.pointer[c] * wBox.pointer[c]
                        let shift = bBox.pointer[c] - mBox.pointer[c] * scale
                        let x = inBox.pointer + row * P, y = outBox.pointer + row * P
                        for p in 0..<P { y[p] = x[p] * scale + shift }
                    }
                }
            }
        }
    }

    // dout is (B,C,H,W), dinp is (B,C,H,W). With x̂ = (x − mean)·invstd and N = B·H·W (training):
    // dinp = weight·invstd/N · (N·dout − Σdout − x̂·Σ(dout·x̂)); dweight += Σ(dout·x̂), dbias += Σdout.
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let inp = input else { throw backwardBeforeForward("BatchNorm \(weight.name)") }
        let s = inp.shape, C = s.channels, B = s.batch, P = s.planeSize
        let n = Float(B * P)
        let dinp = inputGradient.reserve(s.count)
        let batchStats = usedBatchStatistics
        let sums = statistics.pointer + 2 * C
        let sumBox = SendablePointer(sums)
        let doutBox = SendablePointer(dout), inBox = SendablePointer(inp.data), dinBox = SendablePointer(dinp)
        weight.value.data.withUnsafeBufferPointer { w in
            let wBox = SendablePointer(UnsafeMutablePointer(mutating: w.baseAddress!))
            let mBox = SendablePointer(mean), iBox = SendablePointer(invStd)
            Parallel.forEachChunk(C, grain: max(1, 16384 / max(1, B * P))) { channels in
                for c in channels {
                    let mc = mBox.pointer[c], ic = iBox.pointer[c]
                    var sumDy = 0.0, sumDyXhat = 0.0
                    for b in 0..<B {
                        let (s, t) = VectorMath.sumAndCenteredDot(doutBox.pointer + (b * C + c) * P,
                                                                  inBox.pointer + (b * C + c) * P, P, around: mc)
                        sumDy += Double(s)
                        sumDyXhat += Double(t) * Double(ic)
                    }
                    sumBox.pointer[c] = Float(sumDy)
                    sumBox.pointer[C + c] = Float(sumDyXhat)
                    let scale = wBox.pointer[c] * ic
                    let meanDy = Float(sumDy) / n, meanDyXhat = Float(sumDyXhat) / n
                    // dx = scale·(dy − meanDy − x̂·meanDyX̂) with x̂ = (x − mean)·invstd, as dy·a + x·b + c0
                    let a = scale
                    let bx = batchStats ? -scale * meanDyXhat * ic : 0
                    let c0 = batchStats ? -scale * meanDy + scale * meanDyXhat * ic * mc : 0
                    for b in 0..<B {
                        let x = inBox.pointer + (b * C + c) * P, dy = doutBox.pointer + (b * C + c) * P
                        let dx = dinBox.pointer + (b * C + c) * P
                        for p in 0..<P { dx[p] = dy[p] * a + x[p] * bx + c0 }
                    }
                }
            }
        }
        weight.grad.data.withUnsafeMutableBufferPointer { dw in
            bias.grad.data.withUnsafeMutableBufferPointer { db in
                for c in 0..<C {
                    db[c] += sums[c]
                    dw[c] += sums[C + c]
                }
            }
        }
        return dinp
    }
}

public typealias BatchNorm2d = BatchNorm
public typealias BatchNorm1d = BatchNorm
