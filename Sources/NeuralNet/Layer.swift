/// A layer with forward and backward over flat buffers, llm.c style. `forward` returns a view of
/// the layer's own output buffer, valid until its next forward; `backward` takes the gradient of
/// that output (left untouched, except by `ReLU(inPlace: true)`) and returns the gradient of the
/// input in the layer's own buffer, accumulating (+=) into the parameters' gradients. Backward
/// reads what the last forward saw, so it must follow it before the producers run again.
/// `training: false` is evaluation (running statistics, no dropout), and backward may follow it
/// too: the gradient of the evaluation-mode function, as saliency methods (Grad-CAM) need. Only
/// the fused inference paths (`forwardInference`, `Conv2d.forwardEvaluation`) rule backward out.
public protocol Layer: AnyObject {
    /// Parameters and buffers in `state_dict` order.
    var stateEntries: [StateEntry] { get }
    func forward(_ input: Activation, training: Bool) throws(ShapeError) -> Activation
    func backward(_ outputGradient: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float>
}

extension Layer {
    /// Trainable parameters in `named_parameters` order.
    public var parameters: [Parameter] {
        stateEntries.compactMap { if case .parameter(let p) = $0 { p } else { nil } }
    }
}

/// The error a layer throws when `backward` comes before any `forward`.
func backwardBeforeForward(_ layer: String) -> ShapeError {
    ShapeError("\(layer).backward called before forward: run forward on this batch first")
}
