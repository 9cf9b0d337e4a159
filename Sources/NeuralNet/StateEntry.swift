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
