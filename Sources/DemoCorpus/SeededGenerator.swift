// The generators live in SeededRandom, a leaf target every module shares; re-exported so that
// DemoCorpus's files see `SeededGenerator` without an import of their own.
@_exported import SeededRandom
