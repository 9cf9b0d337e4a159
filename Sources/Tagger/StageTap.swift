import NeuralNet

/// A network's convolutional stages as one `Sequential` of named stages (the same layer objects
/// the network's own forward runs), the layers between them and the head (`neck`: the CNN-LSTM's
/// sequence, LSTM and time pool; none for the others), and the bookkeeping of a tapped forward:
/// what every tagging network needs for `forward(_:tappingStage:)` and `backwardToTap`, with
/// nothing specific to any one use of the tap.
final class StageTap {
    let names: [String]
    let stages: Sequential
    let neck: Sequential
    /// Batch size and stage of the last tapped forward; nil when `backwardToTap` is not allowed.
    private var last: (batch: Int, stage: Int)?

    init(_ stages: [(name: String, layers: [any Layer])], neck: [any Layer] = []) {
        names = stages.map(\.name)
        self.stages = Sequential(stages.map { Sequential($0.layers) as any Layer })
        self.neck = Sequential(neck)
    }

    /// Any other forward of the network makes the tap's state stale.
    func invalidate() { last = nil }

    // a is the loaded input (B, C, H, W)
    func forward(_ a: Activation, stage: Int, head: TaggingHead, model: String) throws(ShapeError) -> TappedOutput {
        last = nil
        guard names.indices.contains(stage) else {
            throw ShapeError("\(model): no stage \(stage) to tap; its stages are \(names.joined(separator: ", "))")
        }
        let (features, tapped) = try stages.forward(a, training: false, tap: stage)
        let output = try head.forward(try neck.forward(features, training: false), training: false)
        last = (a.shape.batch, stage)
        return TappedOutput(output: output, stage: stage, activation: tapped)
    }

    // dLogits is (B, numGenres); returns (B, C, H', W') of the tapped stage
    func backward(_ dLogits: Tensor, head: TaggingHead, model: String) throws(ShapeError) -> Tensor {
        guard let last, let shape = stages.tappedShape else {
            throw ShapeError("\(model).backwardToTap needs a forward(_:tappingStage:) on the same batch first")
        }
        try dLogits.checkShape([last.batch, head.numGenres], "\(model).backwardToTap gradient of the logits")
        var copy = dLogits.data
        return try copy.withUnsafeMutableBufferPointer { (buffer) throws(ShapeError) -> Tensor in
            let d = try neck.backward(try head.backward(buffer.baseAddress!))
            let gradient = try stages.backward(d, toOutputOf: last.stage)
            return Activation(data: gradient, shape: shape).tensor()
        }
    }
}
