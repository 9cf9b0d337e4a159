/// A buffer with exactly one owner, grown on demand and otherwise reused: activations and
/// gradients live in these, allocated once per batch shape instead of once per call.
public final class BufferStorage<Element: Numeric> {
    public private(set) var pointer: UnsafeMutablePointer<Element>
    public private(set) var capacity: Int

    public init(capacity: Int = 0) {
        self.capacity = max(0, capacity)
        pointer = .allocate(capacity: max(1, capacity))
        pointer.initialize(repeating: .zero, count: max(1, capacity))
    }

    deinit { pointer.deallocate() }

    /// A pointer to at least `count` floats; the old contents are kept only when no growth happens.
    public func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            pointer.deallocate()
            pointer = .allocate(capacity: count)
            pointer.initialize(repeating: .zero, count: count)
            capacity = count
        }
        return pointer
    }
}

public typealias FloatStorage = BufferStorage<Float>

/// The shape of an activation, NCHW; a feature vector (B, F) is (B, F, 1, 1).
public struct ActivationShape: Equatable, Sendable, CustomStringConvertible {
    public var batch: Int
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(batch: Int, channels: Int, height: Int = 1, width: Int = 1) {
        self.batch = batch; self.channels = channels; self.height = height; self.width = width
    }

    public var count: Int { batch * channels * height * width }
    /// Spatial positions per channel, H·W.
    public var planeSize: Int { height * width }
    /// Values per sample, C·H·W.
    public var sampleSize: Int { channels * height * width }
    public var dimensions: [Int] { [batch, channels, height, width] }
    public var description: String { "(\(batch), \(channels), \(height), \(width))" }
}

/// A view of an activation: a pointer into a buffer owned by the layer that produced it,
/// valid until that layer runs forward again.
public struct Activation {
    public let data: UnsafeMutablePointer<Float>
    public let shape: ActivationShape

    public init(data: UnsafeMutablePointer<Float>, shape: ActivationShape) {
        self.data = data; self.shape = shape
    }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: data, count: shape.count) }

    /// A copy as a tensor of the given dimensions (defaults to NCHW).
    public func tensor(_ dimensions: [Int]? = nil) -> Tensor {
        let dims = dimensions ?? shape.dimensions
        var t = Tensor(zeros: dims)
        t.data.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: data, count: shape.count) }
        return t
    }
}
