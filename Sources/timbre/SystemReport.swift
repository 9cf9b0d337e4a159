import AudioIO
import Catalog
import Charts
import DemoCorpus
import Features
import Foundation
import NeuralNet
import Server

/// What `timbre info --system` shows: the CPU's features, the OpenBLAS kernels this process runs
/// on and why, BLAS threads, and the versions of the C libraries Timbre is linked with.
struct SystemReport: Encodable {
    struct CPU: Encodable {
        let vendor: String
        let brand: String
        let family: Int
        let model: Int
        /// Extensions CPUID reports.
        let flags: [String]
        /// Those the OS also enabled (AVX and AVX-512 need their register state saved).
        let usable: [String]
        let osSavesAVX: Bool
        let osSavesAVX512: Bool
    }

    let cpu: CPU
    let blas: BLASKernel.Report
    /// The engine's worker threads; each calls OpenBLAS with one thread.
    let engineWorkers: Int
    let libraries: [String: String]

    static func current() -> SystemReport {
        let features = CPUFeatures.current
        var libraries = AudioLibraries.versions
        libraries["fftw3f"] = FFTWLibrary.version
        libraries["libpq"] = PostgresLibrary.version
        libraries["zlib"] = ZlibLibrary.version
        libraries["libfluidsynth"] = FluidSynthLibrary.version
        libraries["libmicrohttpd"] = MicroHTTPDLibrary.version
        let blas = BLASKernel.report(cpu: features)
        libraries["OpenBLAS"] = blas.config.split(separator: " ").dropFirst().first.map(String.init) ?? blas.config
        return SystemReport(
            cpu: CPU(vendor: features.vendorString, brand: features.brand, family: features.family, model: features.model,
                     flags: features.flags.sorted().map(\.rawValue), usable: features.usable.sorted().map(\.rawValue),
                     osSavesAVX: features.osSavesAVX, osSavesAVX512: features.osSavesAVX512),
            blas: blas, engineWorkers: Parallel.workerCount, libraries: libraries)
    }

    func print(json: Bool) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            Swift.print(String(decoding: try encoder.encode(self), as: UTF8.self))
        } else {
            Swift.print(text)
        }
    }

    /// Aligned rows for a terminal.
    var text: String {
        let disabled = Set(cpu.flags).subtracting(cpu.usable).sorted()
        let features = cpu.usable.joined(separator: " ")
            + (disabled.isEmpty ? "" : " (not enabled by the OS: \(disabled.joined(separator: " ")))")
        let source: String = switch blas.coreTypeSetBy {
        case "timbre": "selected by Timbre; OpenBLAS had chosen \(blas.openblasChoice ?? "?")"
        case "user": "OPENBLAS_CORETYPE set by the user"
        default: "OpenBLAS's own choice"
        }
        var rows: [(String, String)] = [
            ("CPU", "\(cpu.brand.isEmpty ? "unknown" : cpu.brand) (\(cpu.vendor), family \(cpu.family), model \(cpu.model))"),
            ("CPU features", features.isEmpty ? "none that OpenBLAS's kernels use" : features),
            ("BLAS core", "\(blas.activeCore) (\(source))"),
            ("best core", blas.selectedCore ?? "none (not x86)"),
            ("why", blas.reason),
            ("OPENBLAS_CORETYPE", blas.coreTypeVariable.map { "\($0) (set by \(blas.coreTypeSetBy ?? "?"))" } ?? "unset"),
            ("BLAS threads", "\(blas.threads) at load; the engine runs \(engineWorkers) workers with one BLAS thread each"),
            ("OpenBLAS", blas.config),
            ("selectable cores", blas.runnableCores.joined(separator: " ")),
        ]
        rows += libraries.sorted { $0.key.lowercased() < $1.key.lowercased() }.map { ("library \($0.key)", $0.value) }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }
}
