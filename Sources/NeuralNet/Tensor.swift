/// A dense Float32 tensor: contiguous, row-major; images are NCHW.
///
/// Storage is a Swift array, so copies are copy-on-write; the hot loops of the
/// layers work on `withUnsafe(Mutable)BufferPointer` of `data`.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var data: [Float]

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor over existing values; `data.count` must equal the product of `shape`.
    public init(shape: [Int], data: [Float]) throws(ShapeError) {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw ShapeError("negative dimension in \(shape)") }
        let expected = shape.reduce(1, *)
        guard data.count == expected else {
            throw ShapeError("shape \(shape) needs \(expected) values, got \(data.count)")
        }
        self.shape = shape
        self.data = data
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The same values under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws(ShapeError) -> Tensor {
        try Tensor(shape: newShape, data: data)
    }

    /// Throws unless the shape is exactly `expected`; `context` names the caller in the message.
    public func checkShape(_ expected: [Int], _ context: @autoclosure () -> String) throws(ShapeError) {
        guard shape == expected else {
            throw ShapeError("\(context()): expected shape \(expected), got \(shape)")
        }
    }
}

extension Tensor {
    /// A tensor of ones.
    public init(ones shape: [Int]) {
        self.init(zeros: shape)
        for i in data.indices { data[i] = 1 }
    }
}

/// A tensor of the wrong shape or size reached an operation.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "shape error: \(message)" }
}
