/// A non-trainable tensor saved in a checkpoint (BatchNorm's `running_mean`, `running_var`,
/// `num_batches_tracked`), named as in a PyTorch `state_dict`.
public final class PersistentBuffer {
    public let name: String
    public var value: Tensor

    public init(name: String, value: Tensor) {
        self.name = name; self.value = value
    }
}

/// One entry of a state dictionary: a parameter or a buffer, in PyTorch's order.
public enum StateEntry {
    case parameter(Parameter)
    case buffer(PersistentBuffer)

    public var name: String {
        switch self {
        case .parameter(let p): p.name
        case .buffer(let b): b.name
        }
    }

    public var tensor: Tensor {
        switch self {
        case .parameter(let p): p.value
        case .buffer(let b): b.value
        }
    }

    /// Replaces the values; the caller has checked the shape.
    public func assign(_ values: Tensor) {
        switch self {
        case .parameter(let p): p.value = values
        case .buffer(let b): b.value = values
        }
    }
}

/// A layer with forward and backward over flat buffers. `forward` returns a view of the
/// layer's own output buffer; `backward` takes the gradient of that output (never modified) and
/// returns the gradient of the input in the layer's own buffer, accumulating parameter gradients.
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
