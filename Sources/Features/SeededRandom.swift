// The seeded generators live in SeededRandom, a leaf target every module shares; re-exported so
// that Features' users (the training pipeline) see `Xoshiro256StarStar` without an import of their own.
@_exported import SeededRandom
