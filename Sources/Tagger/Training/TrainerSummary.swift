import NeuralNet

/// What a finished training run reports about itself.
extension Trainer {
    /// Whether early stopping ended the run.
    public var stoppedEarly: Bool { epochsWithoutImprovement >= config.training.earlyStoppingPatience }

    public var parameterCount: Int { network.parameters.reduce(0) { $0 + $1.value.count } }
}
