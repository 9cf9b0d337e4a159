import COpenBLAS
import Foundation

/// `nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=…)`, zero
/// initial states, no inter-layer dropout. A sequence (N, T, F) travels as the activation
/// (N, T, F, 1): row `n·T + t` of an (N·T, F) matrix. The output is (N, T, D·H) with D = 2 for
/// a bidirectional LSTM, the forward direction's h in the first H features (PyTorch's layout).
///
/// Per layer and direction, with PyTorch's gate order (i, f, g, o) and names
/// `<name>.weight_ih_l<k>[_reverse]` (4H, in), `weight_hh_l<k>` (4H, H), `bias_ih_l<k>`,
/// `bias_hh_l<k>` (4H):
///     a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   i, f, o = σ(a), g = tanh(a)
///     c_t = f ⊙ c_{t-1} + i ⊙ g,                      h_t = o ⊙ tanh(c_t)
/// The input projections of all steps are one GEMM; each step adds one (N×H)·(H×4H) GEMM.
/// Backward is backpropagation through time over the same buffers.
public final class LSTM: Layer {
    public let inputSize: Int
    public let hiddenSize: Int
    public let numLayers: Int
    public let bidirectional: Bool
    public var directions: Int { bidirectional ? 2 : 1 }
    /// Off for a first layer whose input needs no gradient (saves one GEMM per direction).
    public var computesInputGradient = true

    /// One direction of one layer: its parameters and what its forward saved. Unchecked
    /// Sendable: in a parallel loop each cell is touched by exactly one worker.
    final class Cell: @unchecked Sendable {
        let weightIH: Parameter, weightHH: Parameter, biasIH: Parameter, biasHH: Parameter
        /// (N·T, 4H): i, f, g, o after their nonlinearities.
        let gates = FloatStorage()
        /// (N·T, H): c_t and tanh(c_t).
        let cells = FloatStorage()
        let tanhCells = FloatStorage()
        /// Backward scratch: the gates' pre-activation gradients (N·T, 4H), and dh, dc (N, H).
        let gateGradient = FloatStorage()
        let hiddenGradient = FloatStorage()
        let cellGradient = FloatStorage()

        init(prefix: String, suffix: String, inputSize: Int, hiddenSize: Int, rng: inout SeededGenerator) {
            func make(_ kind: String, _ shape: [Int]) -> Parameter {
                var t = Tensor(zeros: shape)
                DefaultInitialization.fill(&t, fanIn: hiddenSize, using: &rng)  // U(-1/√H, 1/√H), as PyTorch
                return Parameter(name: "\(prefix)\(kind)\(suffix)", value: t)
            }
            weightIH = make("weight_ih_l", [4 * hiddenSize, inputSize])
            weightHH = make("weight_hh_l", [4 * hiddenSize, hiddenSize])
            biasIH = make("bias_ih_l", [4 * hiddenSize])
            biasHH = make("bias_hh_l", [4 * hiddenSize])
        }

        var stateEntries: [StateEntry] { [.parameter(weightIH), .parameter(weightHH), .parameter(biasIH), .parameter(biasHH)] }
    }

    /// [layer][direction]
    let cells: [[Cell]]
    /// Per layer: its output (N·T, D·H), which is the next layer's input.
    private let outputs: [FloatStorage]
    /// Per layer: the gradient of its input.
    private let inputGradients: [FloatStorage]
    private var input: Activation?
    private var steps = 0

    /// `name` is the module path, e.g. `lstm`.
    public init(name: String, inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bidirectional: Bool = false,
                rng: inout SeededGenerator) {
        let inputs = max(1, inputSize), hidden = max(1, hiddenSize), layers = max(1, numLayers)
        self.inputSize = inputs
        self.hiddenSize = hidden
        self.numLayers = layers
        self.bidirectional = bidirectional
        let d = bidirectional ? 2 : 1
        var cells: [[Cell]] = []
        for layer in 0..<layers {
            var pair: [Cell] = []
            for dir in 0..<d {
                pair.append(Cell(prefix: name + ".", suffix: "\(layer)" + (dir == 1 ? "_reverse" : ""),
                                 inputSize: layer == 0 ? inputs : d * hidden, hiddenSize: hidden, rng: &rng))
            }
            cells.append(pair)
        }
        self.cells = cells
        outputs = (0..<layers).map { _ in FloatStorage() }
        inputGradients = (0..<layers).map { _ in FloatStorage() }
    }

    public var stateEntries: [StateEntry] { cells.flatMap { $0.flatMap(\.stateEntries) } }

    // inp is (N, T, inputSize, 1); out (N, T, D·H, 1)
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard s.height * s.width == inputSize, s.channels > 0, s.batch > 0 else {
            throw ShapeError("LSTM \(cells[0][0].weightIH.name): expected a sequence (batch, steps, \(inputSize)), got \(s)")
        }
        BLASThreads.single()
        input = inp
        steps = s.channels
        let N = s.batch, T = s.channels, H = hiddenSize, D = directions
        var x = inp.data, inSize = inputSize
        for layer in 0..<numLayers {
            let out = outputs[layer].reserve(N * T * D * H)
            // The two directions are independent and write disjoint halves of `out`: one worker each.
            let pair = cells[layer], xs = SendablePointer(x), outs = SendablePointer(out), I = inSize
            Parallel.forEachChunk(D, chunks: D) { _, dirs in
                for dir in dirs { Self.forwardCell(pair[dir], x: xs.pointer, inSize: I, out: outs.pointer, N: N, T: T, H: H, D: D, dir: dir) }
            }
            x = out
            inSize = D * H
        }
        return Activation(data: x, shape: ActivationShape(batch: N, channels: T, height: D * H))
    }

    private static func forwardCell(_ cell: Cell, x: UnsafeMutablePointer<Float>, inSize I: Int, out: UnsafeMutablePointer<Float>,
                                    N: Int, T: Int, H: Int, D: Int, dir: Int) {
        let rows = N * T, G4 = 4 * H, outStride = D * H
        let g = cell.gates.reserve(rows * G4)
        let c = cell.cells.reserve(rows * H)
        let tc = cell.tanhCells.reserve(rows * H)
        // a = x·W_ihᵀ + b_ih + b_hh for every step at once
        cell.biasIH.value.data.withUnsafeBufferPointer { bi in
            cell.biasHH.value.data.withUnsafeBufferPointer { bh in
                for j in 0..<G4 { g[j] = bi[j] + bh[j] }
            }
        }
        for r in 1..<max(1, rows) { (g + r * G4).update(from: g, count: G4) }
        cell.weightIH.value.data.withUnsafeBufferPointer { w in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(G4), Int32(I),
                        1, x, Int32(I), w.baseAddress!, Int32(I), 1, g, Int32(G4))
        }
        let hOut = out + dir * H
        // c_{-1} = 0 (the state before the first step); reused as the cell buffer's scratch
        let zeros = cell.cellGradient.reserve(H)
        zeros.update(repeating: 0, count: H)
        cell.weightHH.value.data.withUnsafeBufferPointer { wb in
            let w = wb.baseAddress!
            for s in 0..<T {
                let t = dir == 0 ? s : T - 1 - s
                let tp = dir == 0 ? t - 1 : t + 1
                if s > 0 {
                    // a_t += h_{t-1}·W_hhᵀ, rows n of h at stride T·D·H, of a at stride T·4H
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(N), Int32(G4), Int32(H),
                                1, hOut + tp * outStride, Int32(T * outStride), w, Int32(H), 1, g + t * G4, Int32(T * G4))
                }
                for n in 0..<N {
                    let row = n * T + t
                    let a = g + row * G4
                    let cRow = c + row * H, tcRow = tc + row * H, h = hOut + row * outStride
                    let cPrev = s > 0 ? c + (n * T + tp) * H : zeros
                    VectorMath.lstmCell(a, cPrev: cPrev, c: cRow, tanhC: tcRow, h: h, hidden: H)
                }
            }
        }
    }

    // dout is (N, T, D·H); returns (N, T, inputSize)
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let inp = input else { throw backwardBeforeForward("LSTM \(cells[0][0].weightIH.name)") }
        BLASThreads.single()
        let N = inp.shape.batch, T = steps, H = hiddenSize, D = directions
        var dy = dout
        for layer in stride(from: numLayers - 1, through: 0, by: -1) {
            let x = layer == 0 ? inp.data : outputs[layer - 1].pointer
            let inSize = layer == 0 ? inputSize : D * H
            let wantInput = layer > 0 || computesInputGradient
            let dx = inputGradients[layer].reserve(N * T * inSize)
            if wantInput { dx.update(repeating: 0, count: N * T * inSize) }
            // Through time per direction, one worker each (their parameters' gradients are their
            // own); then both directions' input gradients are added in order, deterministically.
            let pair = cells[layer], xs = SendablePointer(x), outs = SendablePointer(outputs[layer].pointer)
            let dys = SendablePointer(dy), I = inSize
            Parallel.forEachChunk(D, chunks: D) { _, dirs in
                for dir in dirs {
                    Self.backwardCell(pair[dir], x: xs.pointer, inSize: I, out: outs.pointer, dout: dys.pointer, N: N, T: T, H: H, D: D, dir: dir)
                }
            }
            if wantInput {
                for cell in pair {
                    cell.weightIH.value.data.withUnsafeBufferPointer { w in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N * T), Int32(inSize), Int32(4 * H),
                                    1, cell.gateGradient.pointer, Int32(4 * H), w.baseAddress!, Int32(inSize), 1, dx, Int32(inSize))
                    }
                }
            }
            dy = dx
        }
        return dy
    }

    /// Leaves dA in `cell.gateGradient` for the input gradient, dA·W_ih, which the caller adds.
    private static func backwardCell(_ cell: Cell, x: UnsafeMutablePointer<Float>, inSize I: Int, out: UnsafeMutablePointer<Float>,
                                     dout: UnsafeMutablePointer<Float>, N: Int, T: Int, H: Int, D: Int, dir: Int) {
        let rows = N * T, G4 = 4 * H, outStride = D * H
        let g = cell.gates.pointer, c = cell.cells.pointer, tc = cell.tanhCells.pointer
        let da = cell.gateGradient.reserve(rows * G4)
        let dh = cell.hiddenGradient.reserve(N * H), dc = cell.cellGradient.reserve(N * H)
        dh.update(repeating: 0, count: N * H)
        dc.update(repeating: 0, count: N * H)
        let hOut = out + dir * H, dyOut = dout + dir * H
        cell.weightHH.value.data.withUnsafeBufferPointer { wb in
            cell.weightHH.grad.data.withUnsafeMutableBufferPointer { dwb in
                let w = wb.baseAddress!, dw = dwb.baseAddress!
                // Steps in the reverse of the forward order: dh, dc carry from step t to the one before.
                for s in 0..<T {
                    let t = dir == 0 ? T - 1 - s : s
                    let tp = dir == 0 ? t - 1 : t + 1
                    let hasPrevious = s < T - 1
                    for n in 0..<N {
                        let row = n * T + t
                        let a = g + row * G4, dA = da + row * G4
                        let tcRow = tc + row * H, dyRow = dyOut + row * outStride
                        let cPrev: UnsafeMutablePointer<Float>? = hasPrevious ? c + (n * T + tp) * H : nil
                        let dhRow = dh + n * H, dcRow = dc + n * H
                        for j in 0..<H {
                            let i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], th = tcRow[j]
                            let dhv = dyRow[j] + dhRow[j]
                            let dcv = dhv * o * (1 - th * th) + dcRow[j]
                            let dO = dhv * th, dI = dcv * gg, dG = dcv * i, dF = dcv * (cPrev?[j] ?? 0)
                            dcRow[j] = dcv * f
                            dA[j] = dI * i * (1 - i)
                            dA[H + j] = dF * f * (1 - f)
                            dA[2 * H + j] = dG * (1 - gg * gg)
                            dA[3 * H + j] = dO * o * (1 - o)
                        }
                    }
                    guard hasPrevious else { continue }
                    // dh_{t-1} = dA_t·W_hh;  dW_hh += dA_tᵀ·h_{t-1}
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N), Int32(H), Int32(G4),
                                1, da + t * G4, Int32(T * G4), w, Int32(H), 0, dh, Int32(H))
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(G4), Int32(H), Int32(N),
                                1, da + t * G4, Int32(T * G4), hOut + tp * outStride, Int32(T * outStride), 1, dw, Int32(H))
                }
            }
        }
        // dW_ih += dAᵀ·x;  db_ih, db_hh += Σ rows of dA
        cell.weightIH.grad.data.withUnsafeMutableBufferPointer { dw in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(G4), Int32(I), Int32(rows),
                        1, da, Int32(G4), x, Int32(I), 1, dw.baseAddress!, Int32(I))
        }
        cell.biasIH.grad.data.withUnsafeMutableBufferPointer { dbi in
            cell.biasHH.grad.data.withUnsafeMutableBufferPointer { dbh in
                for r in 0..<rows {
                    let dA = da + r * G4
                    for j in 0..<G4 { dbi[j] += dA[j]; dbh[j] += dA[j] }
                }
            }
        }
    }
}


/// The mean over frequency of a feature map, as a sequence over time: (B, C, H, W) →
/// (B, W, C, 1), `x.mean(dim=2).transpose(1, 2)` — the CNN's per-frame features for an LSTM.
public final class FrequencyMeanSequence: Layer {
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var inputShape: ActivationShape?

    public init() {}
    public var stateEntries: [StateEntry] { [] }

    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let s = inp.shape
        inputShape = s
        let (B, C, H, W) = (s.batch, s.channels, s.height, s.width)
        let out = output.reserve(B * W * C)
        out.update(repeating: 0, count: B * W * C)
        let scale = 1 / Float(max(1, H))
        for b in 0..<B {
            for ch in 0..<C {
                let plane = inp.data + (b * C + ch) * H * W
                for h in 0..<H {
                    let row = plane + h * W
                    for w in 0..<W { out[(b * W + w) * C + ch] += row[w] }
                }
                for w in 0..<W { out[(b * W + w) * C + ch] *= scale }
            }
        }
        return Activation(data: out, shape: ActivationShape(batch: B, channels: W, height: C))
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let s = inputShape else { throw backwardBeforeForward("FrequencyMeanSequence") }
        let (B, C, H, W) = (s.batch, s.channels, s.height, s.width)
        let dx = inputGradient.reserve(s.count)
        let scale = 1 / Float(max(1, H))
        for b in 0..<B {
            for ch in 0..<C {
                let plane = dx + (b * C + ch) * H * W
                for w in 0..<W { plane[w] = dout[(b * W + w) * C + ch] * scale }
                for h in 1..<max(1, H) { (plane + h * W).update(from: plane, count: W) }
            }
        }
        return dx
    }
}

/// The mean over time of a sequence: (N, T, F, 1) → (N, F, 1, 1), `x.mean(dim=1)`.
public final class SequenceMeanPool: Layer {
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var inputShape: ActivationShape?

    public init() {}
    public var stateEntries: [StateEntry] { [] }

    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let s = inp.shape
        inputShape = s
        let N = s.batch, T = s.channels, F = s.height * s.width
        let out = output.reserve(N * F)
        out.update(repeating: 0, count: N * F)
        let scale = 1 / Float(max(1, T))
        for n in 0..<N {
            let o = out + n * F
            for t in 0..<T {
                let row = inp.data + (n * T + t) * F
                for f in 0..<F { o[f] += row[f] }
            }
            for f in 0..<F { o[f] *= scale }
        }
        return Activation(data: out, shape: ActivationShape(batch: N, channels: F))
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let s = inputShape else { throw backwardBeforeForward("SequenceMeanPool") }
        let N = s.batch, T = s.channels, F = s.height * s.width
        let dx = inputGradient.reserve(s.count)
        let scale = 1 / Float(max(1, T))
        for n in 0..<N {
            for t in 0..<T {
                let row = dx + (n * T + t) * F
                for f in 0..<F { row[f] = dout[n * F + f] * scale }
            }
        }
        return dx
    }
}
