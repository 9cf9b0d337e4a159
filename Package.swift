// swift-tools-version:6.0
// Timbre: self-hosted music auto-tagging. Module map and layering: docs/architecture.md.
import PackageDescription

/// A C library found through pkg-config and installed from Debian by scripts/setup.
func systemLibrary(_ name: String, pkgConfig: String, apt: [String]) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt(apt)])
}

let package = Package(
    name: "Timbre",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "timbre", targets: ["timbre"]),
        .executable(name: "timbre-bench", targets: ["timbre-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries: module maps only.
        systemLibrary("CSndFile", pkgConfig: "sndfile", apt: ["libsndfile1-dev"]),
        systemLibrary("CMpg123", pkgConfig: "libmpg123", apt: ["libmpg123-dev"]),
        systemLibrary("CFFTW", pkgConfig: "fftw3f", apt: ["libfftw3-dev"]),
        systemLibrary("COpenBLAS", pkgConfig: "openblas", apt: ["libopenblas-dev"]),
        systemLibrary("CPostgres", pkgConfig: "libpq", apt: ["libpq-dev"]),
        systemLibrary("CMicroHTTPD", pkgConfig: "libmicrohttpd", apt: ["libmicrohttpd-dev"]),
        // TagLib's C API: only the tests use it, to write tags independently of the reader.
        systemLibrary("CTagLib", pkgConfig: "taglib_c", apt: ["libtagc0-dev"]),
        systemLibrary("CZlib", pkgConfig: "zlib", apt: ["zlib1g-dev"]),
        systemLibrary("CFluidSynth", pkgConfig: "fluidsynth", apt: ["libfluidsynth-dev"]),
        // OpenSSL's libcrypto: SHA-256 only (Catalog).
        systemLibrary("CLibCrypto", pkgConfig: "libcrypto", apt: ["libssl-dev"]),
        // TagLib's C++ API behind a C header, reading tags from a descriptor opened read-only
        // (TagLib's C API opens files "rb+" first). libtag1-dev; `taglib` in pkg-config.
        .target(name: "CTagLibReadOnly", linkerSettings: [.linkedLibrary("tag")]),
        // TagLib's C++ API writing tags through a read-write descriptor: only Writeback links it.
        .target(name: "CTagLibWriter", dependencies: ["CTagLibReadOnly"], linkerSettings: [.linkedLibrary("tag")]),

        // Layers, lowest first. A lower layer never imports a higher one.
        // The seeded generators (SplitMix64, xoshiro256**) every module and test draws from.
        .target(name: "SeededRandom"),
        .target(name: "AudioIO", dependencies: ["CSndFile", "CMpg123", "CTagLibReadOnly"]),
        .target(name: "Features", dependencies: ["AudioIO", "CFFTW", "SeededRandom"]),
        .target(name: "NeuralNet", dependencies: ["COpenBLAS", "SeededRandom"]),
        .target(name: "Charts", dependencies: ["CZlib"]),
        .target(name: "DemoCorpus", dependencies: ["AudioIO", "CFluidSynth", "SeededRandom"]),
        .target(name: "Tagger", dependencies: [
            "NeuralNet", "Features", "AudioIO", "Charts",
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "Catalog", dependencies: [
            "Tagger", "AudioIO", "CPostgres", "CLibCrypto",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Similarity", dependencies: ["COpenBLAS"]),
        // What the CLI and the HTTP server both do with a catalog: effective tags, similar
        // tracks, song paths, the library map.
        .target(name: "Service", dependencies: ["Catalog", "Similarity", "Tagger", "Features", "AudioIO", "Charts"]),
        // `timbre writeback`: the one module that writes into library files (tags only, opt-in).
        .target(name: "Writeback", dependencies: ["Service", "Catalog", "AudioIO", "CTagLibReadOnly", "CTagLibWriter"]),
        .target(name: "Server", dependencies: [
            "Service", "Catalog", "Similarity", "Tagger", "AudioIO", "Features", "Charts", "CMicroHTTPD",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Progress bars and lines for long command-line work (`timbre`, `timbre-bench`).
        .target(name: "CommandLineProgress"),
        .executableTarget(name: "timbre", dependencies: [
            "AudioIO", "Features", "NeuralNet", "Charts", "DemoCorpus", "Tagger", "Catalog", "Similarity", "Service", "Server", "Writeback", "COpenBLAS",
            "CommandLineProgress",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The Swift halves of scripts/bench: not in the binary users run.
        .executableTarget(name: "timbre-bench", dependencies: [
            "AudioIO", "Features", "NeuralNet", "Tagger", "Similarity", "SeededRandom", "CommandLineProgress", "COpenBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SeededRandomTests", dependencies: ["SeededRandom"]),
        .testTarget(name: "AudioIOTests", dependencies: ["AudioIO", "CTagLib", "SeededRandom"]),
        .testTarget(name: "FeaturesTests", dependencies: ["Features", "AudioIO"]),
        .testTarget(name: "NeuralNetTests", dependencies: ["NeuralNet"]),
        .testTarget(name: "ChartsTests", dependencies: ["Charts", "SeededRandom"]),
        .testTarget(name: "DemoCorpusTests", dependencies: ["DemoCorpus", "AudioIO"]),
        .testTarget(name: "TaggerTests", dependencies: ["Tagger", "NeuralNet", "Features", "AudioIO", "DemoCorpus"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Tagger", "AudioIO", "Similarity", "Features", "Writeback", "Service", "CTagLib"]),
        .testTarget(name: "SimilarityTests", dependencies: ["Similarity", "Features", "SeededRandom"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "Service", "Catalog", "Similarity", "Tagger", "AudioIO", "Features"]),
    ]
)
