import NeuralNet

/// The network's copy of its input batch (layers keep pointers to their inputs until backward)
/// and the bookkeeping that makes `backward` refuse to run out of turn.
final class NetworkInput {
    private let storage = FloatStorage()
    /// Batch size of the last forward in training mode, nil when backward is not allowed.
    private(set) var trainingBatch: Int?

    /// Checks (B, inputChannels, H, W) and copies it in.
    func load(_ x: Tensor, channels: Int, training: Bool, model: String) throws(ShapeError) -> Activation {
        trainingBatch = nil
        guard x.rank == 4 else {
            throw ShapeError("\(model): expected input (batch, \(channels), n_mels, frames), got shape \(x.shape)")
        }
        guard x.shape[1] == channels else {
            throw ShapeError("\(model): expected \(channels) input channel(s), got shape \(x.shape)")
        }
        guard x.shape[0] > 0 else { throw ShapeError("\(model): empty batch, got shape \(x.shape)") }
        let shape = ActivationShape(batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        let data = storage.reserve(shape.count)
        x.data.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: shape.count) }
        return Activation(data: data, shape: shape)
    }

    func finish(training: Bool, batch: Int) {
        trainingBatch = training ? batch : nil
    }

    /// Checks that `dLogits` is (B, numGenres) of the last training forward and returns it as an
    /// activation over the tensor's own memory, valid inside `body`.
    func withGradient<R>(_ dLogits: Tensor, numGenres: Int, model: String,
                         _ body: (UnsafeMutablePointer<Float>) throws(ShapeError) -> R) throws(ShapeError) -> R {
        guard let batch = trainingBatch else {
            throw ShapeError("\(model).backward needs a forward(training: true) on the same batch first")
        }
        try dLogits.checkShape([batch, numGenres], "\(model).backward gradient of the logits")
        var copy = dLogits.data
        return try copy.withUnsafeMutableBufferPointer { (buffer) throws(ShapeError) -> R in
            try body(buffer.baseAddress!)
        }
    }
}
