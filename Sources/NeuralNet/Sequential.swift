/// Layers applied in order; backward runs the same list reversed.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var stateEntries: [StateEntry] { layers.flatMap(\.stateEntries) }

    public func forward(_ inp: Activation, training: Bool) throws(ShapeError) -> Activation {
        var x = inp
        for layer in layers { x = try layer.forward(x, training: training) }
        return x
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        var d = dout
        for layer in layers.reversed() { d = try layer.backward(d) }
        return d
    }
}
