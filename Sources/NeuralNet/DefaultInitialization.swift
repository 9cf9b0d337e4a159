/// PyTorch's default initialisation of `nn.Conv2d` and `nn.Linear`: `kaiming_uniform_(a=√5)`,
/// whose bound gain·√(3/fan_in) with gain = √(2/(1+a²)) reduces to 1/√fan_in, and the bias
/// uniform in ±1/√fan_in as well.
public enum DefaultInitialization {
    public static func fill(_ tensor: inout Tensor, fanIn: Int, using rng: inout SeededGenerator) {
        let bound = 1 / Float(max(1, fanIn)).squareRoot()
        for i in tensor.data.indices { tensor.data[i] = rng.uniform(bound: bound) }
    }
}
