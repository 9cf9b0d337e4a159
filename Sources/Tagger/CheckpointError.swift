import NeuralNet

/// A state dictionary that does not fit the network: every missing, unexpected and wrongly
/// shaped tensor is listed at once, so one look shows the whole mismatch.
public struct CheckpointError: Error, CustomStringConvertible {
    public var missing: [String]
    public var unexpected: [String]
    public var wrongShape: [(name: String, expected: [Int], got: [Int])]

    public init(missing: [String] = [], unexpected: [String] = [],
                wrongShape: [(name: String, expected: [Int], got: [Int])] = []) {
        self.missing = missing; self.unexpected = unexpected; self.wrongShape = wrongShape
    }

    public var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && wrongShape.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing \(missing.count): \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count): \(unexpected.joined(separator: ", "))") }
        if !wrongShape.isEmpty {
            parts.append("wrong shape \(wrongShape.count): "
                + wrongShape.map { "\($0.name) expected \($0.expected) got \($0.got)" }.joined(separator: ", "))
        }
        return "checkpoint does not match the model architecture (" + parts.joined(separator: "; ")
            + "); check that the architecture config is the one the checkpoint was trained with"
    }
}
