import Foundation
import NeuralNet
import XCTest

/// The choice of OpenBLAS kernel set: CPUID → core, the "weaker than" order, the start-up
/// decision, and (through the built `timbre`) that a process really runs on the selected core.
final class BLASKernelTests: XCTestCase {
    private typealias Flag = CPUFeatures.Flag
    private let sse: Set<Flag> = [.sse3, .ssse3, .sse4_1, .sse4_2]
    private var avx2: Set<Flag> { sse.union([.avx, .fma, .avx2]) }
    private var avx512: Set<Flag> { avx2.union([.avx512f, .avx512bw, .avx512dq, .avx512vl, .avx512cd]) }

    private func best(_ vendor: CPUFeatures.Vendor, _ flags: Set<Flag>, osAVX: Bool = true, osAVX512: Bool = true) -> String? {
        BLASKernel.best(for: CPUFeatures(vendor: vendor, flags: flags, osSavesAVX: osAVX, osSavesAVX512: osAVX512))
    }

    func testEachFeatureSetMapsToTheStrongestCoreItRuns() {
        XCTAssertEqual(best(.intel, avx512), "SkylakeX", "a Skylake-SP / Ice Lake / Sapphire Rapids Xeon")
        XCTAssertEqual(best(.intel, avx512.union([.avx512_bf16])), "Cooperlake")
        XCTAssertEqual(best(.amd, avx512.union([.avx512_bf16])), "Cooperlake", "Zen 4")
        XCTAssertEqual(best(.intel, avx512, osAVX512: false), "Haswell", "AVX-512 the OS does not save")
        XCTAssertEqual(best(.intel, avx2.union([.avx512f, .avx512cd])), "Haswell", "Knights Landing: no BW/DQ/VL")
        XCTAssertEqual(best(.intel, avx2), "Haswell")
        XCTAssertEqual(best(.other, avx2), "Haswell")
        XCTAssertEqual(best(.amd, avx2), "Zen", "Zen 1–3: the set OpenBLAS picks for them")
        XCTAssertEqual(best(.hygon, avx2), "Zen")
        XCTAssertEqual(best(.intel, sse.union([.avx, .avx2])), "Sandybridge", "AVX2 without FMA")
        XCTAssertEqual(best(.amd, sse.union([.avx, .fma])), "Sandybridge", "Piledriver: FMA3 but no AVX2")
        XCTAssertEqual(best(.intel, avx2, osAVX: false), "Nehalem", "AVX the OS does not save")
        XCTAssertEqual(best(.intel, sse), "Nehalem")
        XCTAssertEqual(best(.intel, [.sse3, .ssse3, .sse4_1]), "Dunnington")
        XCTAssertEqual(best(.intel, [.sse3, .ssse3]), "Core2")
        XCTAssertEqual(best(.intel, [.sse3]), "Prescott")
        XCTAssertEqual(best(.amd, [.sse3]), "Prescott")
        XCTAssertNil(best(.other, []), "not x86 (or no SSE3): no opinion")
        XCTAssertEqual(best(.intel, [.sse3, .avx]), "Prescott", "a step counts only above the ones below it")
    }

    func testRunnableCoresClimbTheLadderWithoutSkippingATier() {
        let amd = BLASKernel.runnableCores(on: CPUFeatures(vendor: .amd, flags: avx2))
        XCTAssertEqual(amd, ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Haswell", "Zen"])
        let intel = BLASKernel.runnableCores(on: CPUFeatures(vendor: .intel, flags: avx512))
        XCTAssertEqual(intel, ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Haswell", "SkylakeX"])
        for cores in [amd, intel] {
            let ranks = cores.map { BLASKernel.rank(of: $0) }
            XCTAssertFalse(ranks.contains(nil), "\(cores)")
            XCTAssertEqual(ranks.compactMap { $0 }, ranks.compactMap { $0 }.sorted(), "weakest first: \(cores)")
        }
    }

    func testWeakerThanOrdersTiersAndKeepsUnknownNames() {
        XCTAssertTrue(BLASKernel.isWeaker("Prescott", than: "SkylakeX"))
        XCTAssertTrue(BLASKernel.isWeaker("Prescott", than: "Haswell"))
        XCTAssertTrue(BLASKernel.isWeaker("Nehalem", than: "Sandybridge"))
        XCTAssertTrue(BLASKernel.isWeaker("Sandybridge", than: "Zen"))
        XCTAssertTrue(BLASKernel.isWeaker("Haswell", than: "SkylakeX"))
        XCTAssertTrue(BLASKernel.isWeaker("Zen", than: "SkylakeX"))
        // One tier: OpenBLAS's own pick within it stands.
        XCTAssertFalse(BLASKernel.isWeaker("Haswell", than: "Zen"))
        XCTAssertFalse(BLASKernel.isWeaker("Zen", than: "Haswell"))
        XCTAssertFalse(BLASKernel.isWeaker("Excavator", than: "Zen"))
        XCTAssertFalse(BLASKernel.isWeaker("SkylakeX", than: "Cooperlake"))
        XCTAssertFalse(BLASKernel.isWeaker("Bulldozer", than: "Sandybridge"))
        XCTAssertFalse(BLASKernel.isWeaker("SkylakeX", than: "Haswell"))
        // OpenBLAS compares names case-insensitively; a name 0.3.21 lacks is never weaker.
        XCTAssertEqual(BLASKernel.rank(of: "SKYLAKEX"), BLASKernel.rank(of: "SkylakeX"))
        XCTAssertTrue(BLASKernel.isWeaker("prescott", than: "skylakex"))
        XCTAssertNil(BLASKernel.rank(of: "Zen5"))
        XCTAssertFalse(BLASKernel.isWeaker("Zen5", than: "SkylakeX"))
        XCTAssertFalse(BLASKernel.isWeaker("Prescott", than: "Zen5"))
    }

    func testStartUpRestartsOnlyWhenOpenBLASChoseWorseAndNobodyChoseForIt() {
        func action(_ loaded: String, _ environment: [String: String], best: String? = "SkylakeX") -> BLASKernel.Decision.Action {
            BLASKernel.decide(best: best, loaded: loaded, environment: environment).action
        }
        XCTAssertEqual(action("Prescott", [:]), .restart(core: "SkylakeX"), "the issue's Xeon")
        XCTAssertEqual(action("Prescott", ["OPENBLAS_CORETYPE": ""]), .restart(core: "SkylakeX"), "empty is unset")
        XCTAssertEqual(action("Prescott", ["OPENBLAS_CORETYPE": "Prescott"]), .keep, "the user's choice")
        XCTAssertEqual(action("SkylakeX", ["OPENBLAS_CORETYPE": "SkylakeX", "TIMBRE_BLAS_REEXEC": "Prescott"]), .keep,
                       "after Timbre's own restart")
        XCTAssertEqual(action("Prescott", ["TIMBRE_BLAS_REEXEC": "Prescott"]), .keep, "never a second restart")
        XCTAssertEqual(action("Prescott", ["OPENBLAS_CORETYPE": "Prescott", "TIMBRE_BLAS_SIMULATE_MISDETECTION": "1"]),
                       .restart(core: "SkylakeX"))
        XCTAssertEqual(action("SkylakeX", [:]), .keep)
        XCTAssertEqual(action("Haswell", [:], best: "Zen"), .keep, "same tier")
        XCTAssertEqual(action("Zen5", [:]), .keep, "a newer OpenBLAS's name")
        XCTAssertEqual(action("Prescott", [:], best: nil), .keep, "not x86")
        let reason = BLASKernel.decide(best: "SkylakeX", loaded: "SkylakeX",
                                       environment: ["OPENBLAS_CORETYPE": "SkylakeX", "TIMBRE_BLAS_REEXEC": "Prescott"]).reason
        XCTAssertTrue(reason.contains("Prescott") && reason.contains("SkylakeX"), reason)
    }

    /// CPUID read here against the kernel's reading of it (/proc/cpuinfo lists only what the OS
    /// enabled, and calls SSE3 "pni").
    func testFeaturesAgreeWithProcCpuinfo() throws {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { throw XCTSkip("no /proc/cpuinfo") }
        let lines = text.split(separator: "\n")
        func field(_ name: String) -> String? {
            lines.first { $0.hasPrefix(name) && $0.dropFirst(name.count).drop { $0 == " " || $0 == "\t" }.hasPrefix(":") }
                .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
        }
        guard let flagLine = field("flags") else { throw XCTSkip("not x86") }
        let kernel = Set(flagLine.split(separator: " ").map { $0 == "pni" ? "sse3" : String($0) })
        let cpu = CPUFeatures.current
        for flag in Flag.allCases {
            XCTAssertEqual(cpu.usable.contains(flag), kernel.contains(flag.rawValue), "\(flag.rawValue)")
        }
        XCTAssertEqual(field("cpu family").flatMap { Int($0) }, cpu.family)
        XCTAssertEqual(field("model").flatMap { Int($0) }, cpu.model)
        XCTAssertEqual(field("vendor_id"), cpu.vendorString)
        if let best = BLASKernel.best(for: cpu) {
            XCTAssertEqual(BLASKernel.runnableCores(on: cpu).last, best)
        }
    }

    // MARK: - the built timbre

    /// With OPENBLAS_CORETYPE unset, `timbre` runs on the best core (or one as strong that OpenBLAS
    /// chose itself).
    func testTimbreRunsOnTheSelectedCore() throws {
        let report = try systemReport(environment: [:])
        let blas = try XCTUnwrap(report["blas"] as? [String: Any])
        let active = try XCTUnwrap(blas["activeCore"] as? String)
        let selected = blas["selectedCore"] as? String
        XCTAssertEqual(selected, BLASKernel.best(for: .current))
        if let selected { XCTAssertFalse(BLASKernel.isWeaker(active, than: selected), "runs \(active), best \(selected)") }
        if let choice = blas["openblasChoice"] as? String, let selected, BLASKernel.isWeaker(choice, than: selected) {
            XCTAssertEqual(blas["coreTypeSetBy"] as? String, "timbre")
            XCTAssertEqual(active.lowercased(), selected.lowercased())
        } else {
            XCTAssertNil(blas["coreTypeVariable"], "no restart, so OPENBLAS_CORETYPE stays unset")
        }
    }

    /// The restart itself, on any machine: OpenBLAS is made to load Prescott and told it chose so.
    func testTimbreRestartsOnTheBestCoreWhenOpenBLASChoseWorse() throws {
        guard let best = BLASKernel.best(for: .current), BLASKernel.isWeaker("Prescott", than: best) else {
            throw XCTSkip("this CPU has nothing better than Prescott")
        }
        let report = try systemReport(environment: ["OPENBLAS_CORETYPE": "Prescott", "TIMBRE_BLAS_SIMULATE_MISDETECTION": "1"])
        let blas = try XCTUnwrap(report["blas"] as? [String: Any])
        XCTAssertEqual(blas["activeCore"] as? String, best)
        XCTAssertEqual(blas["openblasChoice"] as? String, "Prescott")
        XCTAssertEqual(blas["coreTypeVariable"] as? String, best)
        XCTAssertEqual(blas["coreTypeSetBy"] as? String, "timbre")
    }

    func testTimbreKeepsTheUsersCoreType() throws {
        let report = try systemReport(environment: ["OPENBLAS_CORETYPE": "Prescott"])
        let blas = try XCTUnwrap(report["blas"] as? [String: Any])
        XCTAssertEqual(blas["activeCore"] as? String, "Prescott")
        XCTAssertEqual(blas["coreTypeSetBy"] as? String, "user")
        XCTAssertNil(blas["openblasChoice"])
    }

    /// `timbre info --system --json` with Timbre's and OpenBLAS's core variables replaced by `environment`.
    private func systemReport(environment: [String: String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = try timbreExecutable()
        process.arguments = ["info", "--system", "--json"]
        var inherited = ProcessInfo.processInfo.environment
        for name in [BLASKernel.coreTypeVariable, BLASKernel.restartMarker, BLASKernel.simulateMisdetection] {
            inherited[name] = nil
        }
        process.environment = inherited.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, stderr)
        XCTAssertEqual(stderr, "", "the restart is silent")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: stdout) as? [String: Any], String(decoding: stdout, as: UTF8.self))
    }

    /// The executable beside the test bundle, as TimbreCommandLineTests finds it.
    private func timbreExecutable() throws -> URL {
        let candidates = [Bundle.main.executableURL?.deletingLastPathComponent(), Bundle.main.bundleURL,
                          Bundle(for: Self.self).bundleURL.deletingLastPathComponent()]
        for folder in candidates.compactMap({ $0 }) {
            let url = folder.appendingPathComponent("timbre")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw MissingExecutable(description: "the timbre executable is not built next to the tests (build with --build-tests): failing, not skipping")
    }
}

/// A test that needs the built executable fails without it; it is not skipped.
private struct MissingExecutable: Error, CustomStringConvertible { let description: String }
