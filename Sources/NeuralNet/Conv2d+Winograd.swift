import COpenBLAS

/// Conv2d's Winograd path for 3×3 convolutions with stride 1 and padding 1 (`Winograd`). Per
/// worker and group of samples: V = Bᵀ d B, then 16 GEMMs over the tile positions ξ, then back.
extension Conv2d {
    var runsWinograd: Bool { usesWinograd && geometry == ConvGeometry(kernel: 3, stride: 1, padding: 1) }

    /// Workers and samples per group: the transformed tiles of a group (16 × channels × tiles)
    /// stay near `columnBudget`.
    func winogradSplit(_ s: ActivationShape, channels: Int) -> (workers: Int, group: Int) {
        let (tr, tc) = Winograd.tiles(height: s.height, width: s.width)
        let workers = max(1, min(Parallel.workerCount, s.batch))
        let perWorker = (s.batch + workers - 1) / workers
        let most = max(1, min(perWorker, Self.columnBudget / max(1, 16 * channels * tr * tc)))
        let groups = (perWorker + most - 1) / most
        return (workers, (perWorker + groups - 1) / groups)
    }

    /// out (B, K, H, W) = the 3×3 convolution (stride 1, padding 1) of inp (B, C, H, W) by this
    /// layer's weights, or with `transposed` by their 180° rotation with C and K swapped (the
    /// input gradient from the output gradient).
    func winograd(_ inp: Activation, outChannels K: Int, transposed: Bool, into output: UnsafeMutablePointer<Float>,
                          epilogue: ChannelEpilogue) {
        let s = inp.shape, C = s.channels
        let (tr, tc) = Winograd.tiles(height: s.height, width: s.width)
        let perSample = tr * tc
        let (workers, G) = winogradSplit(s, channels: max(C, K))
        let u = SendablePointer(workspace.transformedWeights(count: 16 * K * C))
        weight.value.data.withUnsafeBufferPointer {
            Winograd.transformWeights(u.pointer, $0.baseAddress!, outChannels: K, inChannels: C, transposed: transposed)
        }
        // The 16 matrices of V and of M a little more than a power of two apart, so that their
        // runs do not all fall into the same cache sets.
        let vStride = C * G * perSample + 16, mStride = K * G * perSample + 16
        let vs = workspace.columns(workers, count: 16 * vStride)
        let ms = workspace.products(workers, count: 16 * mStride)
        let scratch = workspace.paddedPlanes(workers, count: Winograd.inputScratch(height: s.height, width: s.width))
        let out = SendablePointer(output), x = SendablePointer(inp.data)
        let outShape = ActivationShape(batch: s.batch, channels: K, height: s.height, width: s.width)
        Parallel.forEachChunk(s.batch, chunks: workers) { worker, run in
            let v = vs[worker].pointer, m = ms[worker].pointer
            for b0 in stride(from: run.lowerBound, to: run.upperBound, by: G) {
                let samples = b0..<min(run.upperBound, b0 + G), T = samples.count * perSample
                Winograd.transformInput(v, stride: vStride, x.pointer, s, samples: samples, scratch: scratch[worker].pointer)
                for xi in 0..<16 {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(T), Int32(C),
                                1, u.pointer + xi * K * C, Int32(C), v + xi * vStride, Int32(T), 0, m + xi * mStride, Int32(T))
                }
                Winograd.transformOutput(out.pointer, m, stride: mStride, outShape, outChannels: K, samples: samples,
                                         epilogue: epilogue)
            }
        }
    }

    /// dW += Gᵀ dU G with dU[ξ] (K × C) = Σ_t dM[ξ][t] · V[ξ][t]ᵀ, dM = A dY Aᵀ per output tile and
    /// V the forward's transformed input tiles. Each worker sums its own dU (worker 0 in place),
    /// added in worker order.
    func winogradWeightGradient(_ inp: Activation, _ dout: UnsafeMutablePointer<Float>) {
        let s = inp.shape, C = s.channels, K = outChannels
        let (tr, tc) = Winograd.tiles(height: s.height, width: s.width)
        let perSample = tr * tc
        let (workers, G) = winogradSplit(s, channels: max(C, K))
        let vStride = C * G * perSample + 16, mStride = K * G * perSample + 16
        let vs = workspace.columns(workers, count: 16 * vStride)
        let ms = workspace.products(workers, count: 16 * mStride)
        let dus = workspace.weightGradients(workers, count: 16 * K * C)
        let scratch = workspace.paddedPlanes(workers, count: max(Winograd.inputScratch(height: s.height, width: s.width),
                                                                 Winograd.gradientScratch(height: s.height, width: s.width)))
        let x = SendablePointer(inp.data), dy = SendablePointer(dout)
        let outShape = outputShape
        Parallel.forEachChunk(s.batch, chunks: workers) { worker, run in
            let v = vs[worker].pointer, m = ms[worker].pointer, du = dus[worker].pointer
            var beta: Float = 0
            for b0 in stride(from: run.lowerBound, to: run.upperBound, by: G) {
                let samples = b0..<min(run.upperBound, b0 + G), T = samples.count * perSample
                Winograd.transformInput(v, stride: vStride, x.pointer, s, samples: samples, scratch: scratch[worker].pointer)
                Winograd.transformOutputGradient(m, stride: mStride, dy.pointer, outShape, samples: samples,
                                                 scratch: scratch[worker].pointer)
                for xi in 0..<16 {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(K), Int32(C), Int32(T),
                                1, m + xi * mStride, Int32(T), v + xi * vStride, Int32(T), beta, du + xi * K * C, Int32(C))
                }
                beta = 1
            }
        }
        let total = dus[0]
        if workers > 1 {
            Parallel.forEachChunk(16 * K * C, grain: 16384) { range in
                for worker in 1..<workers {
                    let part = dus[worker].pointer
                    for i in range { total.pointer[i] += part[i] }
                }
            }
        }
        weight.grad.data.withUnsafeMutableBufferPointer { dw in
            Winograd.accumulateWeightGradient(dw.baseAddress!, total.pointer, outChannels: K, inChannels: C)
        }
    }
}
