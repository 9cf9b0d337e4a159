// The seeded generator (SplitMix64) lives in SeededRandom, a leaf target every module shares;
// re-exported so that NeuralNet and its users see `SeededGenerator` without an import of their own.
@_exported import SeededRandom
