/// A trainable tensor with its gradient, named as in a PyTorch `state_dict`
/// (for example `layers.0.conv1.weight`), so checkpoints move between the two.
public final class Parameter {
    public let name: String
    /// Every change to the value, in place or by assignment, counts one `version`.
    public var value: Tensor { didSet { version &+= 1 } }
    public var grad: Tensor
    /// Changes when the value does, so that a layer can keep something derived from it (the
    /// Winograd-transformed weights of an evaluation pass) until then.
    public private(set) var version = 0

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.grad = Tensor(zeros: value.shape)
    }

    public func zeroGrad() {
        grad.data.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
