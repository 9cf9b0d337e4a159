/// A trainable tensor with its gradient, named as in a PyTorch `state_dict`
/// (for example `layers.0.conv1.weight`), so checkpoints move between the two.
public final class Parameter {
    public let name: String
    public var value: Tensor
    public var grad: Tensor

    public init(name: String, value: Tensor) {
        self.name = name
        self.value = value
        self.grad = Tensor(zeros: value.shape)
    }

    public func zeroGrad() {
        grad.data.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}
