/// `flatten(1)`: (B,C,H,W) viewed as (B, C·H·W, 1, 1). Only the shape changes, so forward and
/// backward pass the same memory through.
public final class Flatten: Layer {
    public init() {}
    public var stateEntries: [StateEntry] { [] }

    // inp is (B,C,H,W), out is (B,C·H·W)
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        Activation(data: inp.data, shape: ActivationShape(batch: inp.shape.batch, channels: inp.shape.sampleSize))
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> { dout }
}
