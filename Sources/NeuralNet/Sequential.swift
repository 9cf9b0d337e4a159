/// Layers applied in order; backward runs the same list reversed.
public final class Sequential: Layer {
    public let layers: [any Layer]
    /// Shape of the output of `layers[tap]` in the last `forward(_:training:tap:)`, nil after any
    /// other forward.
    private var tapped: (index: Int, shape: ActivationShape)?

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var stateEntries: [StateEntry] { layers.flatMap(\.stateEntries) }

    public func forward(_ inp: Activation, training: Bool) throws(ShapeError) -> Activation {
        tapped = nil
        var x = inp
        for layer in layers { x = try layer.forward(x, training: training) }
        return x
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        var d = dout
        for layer in layers.reversed() { d = try layer.backward(d) }
        return d
    }

    // MARK: A tap on one layer's output

    /// `forward`, also returning a copy of what `layers[tap]` output (taken before the layers
    /// after it run, so an in-place layer cannot change it). With `backward(_:toOutputOf:)` this
    /// is a tap on an intermediate activation: its value and the gradient of the output with
    /// respect to it, for any network built of layers (saliency maps, Grad-CAM, probes).
    public func forward(_ inp: Activation, training: Bool, tap: Int) throws(ShapeError) -> (output: Activation, tapped: Tensor) {
        guard layers.indices.contains(tap) else {
            throw ShapeError("Sequential: no layer \(tap) to tap (it has \(layers.count))")
        }
        tapped = nil
        var x = inp
        var copy: Tensor?
        var shape = inp.shape
        for (i, layer) in layers.enumerated() {
            x = try layer.forward(x, training: training)
            if i == tap { copy = x.tensor(); shape = x.shape }
        }
        tapped = (tap, shape)
        return (x, copy!)
    }

    /// Backward through the layers after the tap of the last `forward(_:training:tap:)` only:
    /// returns the gradient of `layers[tap]`'s output (its shape is `tappedShape`), in a buffer of
    /// the layer after it (or `dout` itself when the tap is the last layer), valid until that
    /// layer's next backward. The layers before the tap are left alone.
    public func backward(_ dout: UnsafeMutablePointer<Float>, toOutputOf tap: Int) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let tapped, tapped.index == tap else {
            throw ShapeError("Sequential.backward(toOutputOf: \(tap)) needs forward(_:training:tap: \(tap)) on the same batch first")
        }
        var d = dout
        for layer in layers[(tap + 1)...].reversed() { d = try layer.backward(d) }
        return d
    }

    /// The shape of the tapped output of the last `forward(_:training:tap:)`.
    public var tappedShape: ActivationShape? { tapped?.shape }
}
