import COpenBLAS
import Foundation

/// Which of OpenBLAS's kernel sets (its "cores") computes Timbre's GEMMs, and making it the best
/// one this CPU supports.
///
/// Debian's OpenBLAS is a DYNAMIC_ARCH build: it carries one kernel set per CPU generation and picks
/// one from CPUID in its constructor, when the library loads. 0.3.21 does not know every CPU (some
/// AVX-512 Xeons get Prescott's SSE3 kernels, about 5× slower at sgemm), and it reads
/// `OPENBLAS_CORETYPE` only then, so a process cannot change its mind after `main` starts. Hence
/// `selectBestCore()`, the first thing `timbre` does: if OpenBLAS's choice is weaker than
/// `best(for: .current)` and the user has not set `OPENBLAS_CORETYPE`, the process executes itself
/// again (`/proc/self/exe`, the same arguments and environment) with `OPENBLAS_CORETYPE` set to
/// the best core and `TIMBRE_BLAS_REEXEC` to OpenBLAS's own choice, which `report()` shows and
/// which stops a second restart. Nothing is printed; a restart costs one `exec` (milliseconds) and
/// happens only where OpenBLAS chose badly.
public enum BLASKernel {
    /// OpenBLAS's own variable: the kernel set to use instead of its detection.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set by Timbre on its restart, to the core OpenBLAS had chosen itself.
    public static let restartMarker = "TIMBRE_BLAS_REEXEC"
    /// For tests of the restart on machines OpenBLAS gets right: with this set to 1, a user's
    /// `OPENBLAS_CORETYPE` is treated as if OpenBLAS had detected that core itself.
    public static let simulateMisdetection = "TIMBRE_BLAS_SIMULATE_MISDETECTION"

    // MARK: the ordering

    /// OpenBLAS 0.3.21's x86-64 DYNAMIC_ARCH cores (the names `OPENBLAS_CORETYPE` accepts and
    /// `openblas_get_corename` returns), by the strongest instructions their SGEMM kernels use.
    /// Cores of one tier are equal for Timbre: Zen's and Excavator's kernels are tuned variants of
    /// Haswell's AVX2 + FMA ones, Cooperlake and SapphireRapids add bf16 GEMMs to SkylakeX's
    /// AVX-512 float ones, so OpenBLAS's deliberate choice within a tier is kept.
    static let tiers: [[String]] = [
        ["Unknown", "Katmai", "Coppermine", "Northwood", "Banias", "Athlon", "Opteron"],  // SSE/SSE2
        ["Prescott", "Opteron_SSE3", "Atom", "Nano", "Barcelona", "Bobcat"],              // SSE3
        ["Core2", "Penryn", "Dunnington"],                                                  // SSSE3, SSE4.1
        ["Nehalem"],                                                                        // SSE4.2
        ["Sandybridge", "Bulldozer"],                                                       // AVX
        ["Piledriver", "Steamroller"],                                                      // AVX + FMA3
        ["Haswell", "Zen", "Excavator"],                                                    // AVX2 + FMA3
        ["SkylakeX", "Cooperlake", "SapphireRapids"],                                       // AVX-512
    ]

    /// The tier of a core name (case-insensitive, as OpenBLAS compares); nil for a name 0.3.21
    /// does not have.
    public static func rank(of core: String) -> Int? {
        tiers.firstIndex { $0.contains { $0.caseInsensitiveCompare(core) == .orderedSame } }
    }

    /// True when `core` is in a lower tier than `other`. A name Timbre does not know (a newer
    /// OpenBLAS's) is never weaker: its own choice is kept.
    public static func isWeaker(_ core: String, than other: String) -> Bool {
        guard let a = rank(of: core), let b = rank(of: other) else { return false }
        return a < b
    }

    // MARK: the mapping

    /// The strongest core whose kernels this CPU runs; nil off x86 (no opinion: OpenBLAS's
    /// choice stands). AVX-512 needs F, BW, DQ, VL and CD (SkylakeX's kernels use all five;
    /// Knights Landing lacks BW/DQ/VL), plus bf16 for Cooperlake; AVX2 needs FMA too, and on AMD
    /// and Hygon it is Zen, the set OpenBLAS itself picks for them.
    public static func best(for cpu: CPUFeatures) -> String? {
        ladder(for: cpu).last
    }

    /// Every core Timbre could select on this CPU, weakest first: the golden tests run under each.
    /// The mapping must never overshoot: OpenBLAS 0.3.21 runs a forced core unchecked, and
    /// SkylakeX's kernels on a Zen 3 die of SIGILL, as do AMD's older sets (FMA4, 3DNow!), which is
    /// why only Intel-style sets and Zen are listed.
    public static func runnableCores(on cpu: CPUFeatures) -> [String] {
        ladder(for: cpu)
    }

    private static func ladder(for cpu: CPUFeatures) -> [String] {
        let has = cpu.usable
        let avx512: Set<CPUFeatures.Flag> = [.avx512f, .avx512bw, .avx512dq, .avx512vl, .avx512cd]
        let steps: [(core: String, runs: Bool)] = [
            ("Prescott", has.contains(.sse3)),
            ("Core2", has.contains(.ssse3)),
            ("Penryn", has.contains(.sse4_1)),
            ("Dunnington", has.contains(.sse4_1)),
            ("Nehalem", has.contains(.sse4_2)),
            ("Sandybridge", has.contains(.avx)),
            ("Haswell", has.isSuperset(of: [.avx2, .fma])),
            ("SkylakeX", has.isSuperset(of: avx512)),
            ("Cooperlake", has.isSuperset(of: avx512.union([.avx512_bf16]))),
        ]
        // A step counts only if every step below it does: no real CPU has AVX without SSE4.2.
        var cores = Array(steps.prefix { $0.runs }.map(\.core))
        if cpu.vendor == .amd || cpu.vendor == .hygon, let haswell = cores.firstIndex(of: "Haswell") {
            cores.insert("Zen", at: haswell + 1)
        }
        return cores
    }

    // MARK: the decision

    /// What to do at start-up and why.
    public struct Decision: Sendable, Equatable {
        public enum Action: Sendable, Equatable {
            case keep
            case restart(core: String)
        }
        public var action: Action
        public var reason: String
    }

    /// Whether to restart on `best`, given the core OpenBLAS loaded and the environment: never when
    /// the user set `OPENBLAS_CORETYPE` (their choice) or after Timbre's own restart.
    public static func decide(best: String?, loaded: String, environment: [String: String]) -> Decision {
        let variable = environment[coreTypeVariable].flatMap { $0.isEmpty ? nil : $0 }
        if let original = environment[restartMarker] {
            let requested = variable ?? "?"
            let runs = loaded.caseInsensitiveCompare(requested) == .orderedSame ? "" : ", but OpenBLAS runs \(loaded)"
            return Decision(action: .keep, reason: "OpenBLAS chose \(original) at load, weaker than \(requested): Timbre restarted with \(coreTypeVariable)=\(requested)\(runs)")
        }
        if let variable, environment[simulateMisdetection] != "1" {
            return Decision(action: .keep, reason: "\(coreTypeVariable)=\(variable) is set by the user, so OpenBLAS runs \(loaded)")
        }
        guard let best else {
            return Decision(action: .keep, reason: "OpenBLAS chose \(loaded); Timbre has no better choice for a CPU without x86 SSE3")
        }
        if isWeaker(loaded, than: best) {
            return Decision(action: .restart(core: best), reason: "OpenBLAS chose \(loaded), weaker than \(best), the best core this CPU supports")
        }
        let same = loaded.caseInsensitiveCompare(best) == .orderedSame
        return Decision(action: .keep, reason: same
            ? "OpenBLAS chose \(loaded), the best core this CPU supports"
            : "OpenBLAS chose \(loaded), as strong as \(best), the best core Timbre would choose")
    }

    // MARK: this process

    /// The core OpenBLAS runs in this process.
    public static var active: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's build line ("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64").
    public static var config: String { String(cString: openblas_get_config()) }

    /// If OpenBLAS's choice is weaker than the best core this CPU supports, execute this program
    /// again on the best one (see the type's comment). Returns only when no restart is needed or
    /// the restart failed (then with a warning on stderr, carrying on with OpenBLAS's choice).
    public static func selectBestCore() {
        #if os(Linux)
        let environment = ProcessInfo.processInfo.environment
        let loaded = active
        guard case .restart(let core) = decide(best: best(for: .current), loaded: loaded, environment: environment).action
        else { return }
        let previous = environment[coreTypeVariable]
        setenv(coreTypeVariable, core, 1)
        setenv(restartMarker, loaded, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let error = String(cString: strerror(errno))
        if let previous { setenv(coreTypeVariable, previous, 1) } else { unsetenv(coreTypeVariable) }
        unsetenv(restartMarker)
        FileHandle.standardError.write(Data(
            "timbre: could not restart on OpenBLAS's \(core) kernels (\(error)); running on \(loaded). Set \(coreTypeVariable)=\(core) to choose them.\n".utf8))
        #endif
    }

    /// What `timbre info --system` shows about BLAS.
    public struct Report: Sendable, Codable, Equatable {
        /// The core OpenBLAS runs now.
        public var activeCore: String
        /// The core OpenBLAS detected itself; nil when the user's `OPENBLAS_CORETYPE` overrode it.
        public var openblasChoice: String?
        /// The best core for this CPU (`best(for:)`); nil off x86.
        public var selectedCore: String?
        public var coreTypeVariable: String?
        /// "user" or "timbre"; nil when `OPENBLAS_CORETYPE` is unset.
        public var coreTypeSetBy: String?
        public var reason: String
        /// OpenBLAS's thread count at load (`OPENBLAS_NUM_THREADS` or the cores).
        public var threads: Int
        public var config: String
        public var runnableCores: [String]
    }

    /// This process's BLAS set-up. Read it before any layer runs: the layers set OpenBLAS to one
    /// thread per call.
    public static func report(cpu: CPUFeatures = .current,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> Report {
        let loaded = active, selected = best(for: cpu)
        var decision = decide(best: selected, loaded: loaded, environment: environment)
        let variable = environment[coreTypeVariable].flatMap { $0.isEmpty ? nil : $0 }
        let byTimbre = environment[restartMarker] != nil
        if case .restart = decision.action { decision.reason += " (this process was not restarted on it)" }
        return Report(
            activeCore: loaded,
            openblasChoice: byTimbre ? environment[restartMarker] : (variable == nil ? loaded : nil),
            selectedCore: selected,
            coreTypeVariable: variable,
            coreTypeSetBy: variable == nil ? nil : (byTimbre ? "timbre" : "user"),
            reason: decision.reason,
            threads: Int(openblas_get_num_threads()),
            config: config,
            runnableCores: runnableCores(on: cpu))
    }
}
