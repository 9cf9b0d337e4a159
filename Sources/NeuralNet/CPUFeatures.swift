import COpenBLAS

/// What this CPU can run, read from CPUID (Intel SDM vol. 2A, "CPUID"; AMD APM vol. 3, E.3) and
/// XCR0: an instruction set counts only if the CPU has it *and* the OS saves its registers, so
/// AVX needs XCR0's SSE and AVX state (0x6) and AVX-512 also its opmask and ZMM state (0xE0).
/// `BLASKernel` maps it to the best OpenBLAS kernel set.
public struct CPUFeatures: Sendable, Equatable, Codable {
    public enum Vendor: String, Sendable, Codable {
        case intel, amd, hygon, other
    }

    /// The instruction-set extensions that decide an OpenBLAS kernel set, named as
    /// `/proc/cpuinfo` names them.
    public enum Flag: String, Sendable, Codable, CaseIterable, Comparable {
        case sse3, ssse3, sse4_1, sse4_2, avx, fma, avx2
        case avx512f, avx512bw, avx512dq, avx512vl, avx512cd, avx512_bf16

        public static func < (a: Flag, b: Flag) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public var vendor: Vendor
    /// CPUID's vendor string ("GenuineIntel", "AuthenticAMD"), empty off x86.
    public var vendorString: String
    /// The brand string ("Intel(R) Xeon(R) Platinum 8480+"), empty where the CPU has none.
    public var brand: String
    /// Display family and model (base plus extended, as Linux prints them).
    public var family: Int
    public var model: Int
    /// Extensions the CPU reports, whether or not the OS enabled their registers.
    public var flags: Set<Flag>
    /// XCR0 holds SSE and AVX state: 256-bit registers survive a context switch.
    public var osSavesAVX: Bool
    /// XCR0 also holds opmask and both halves of the ZMM state.
    public var osSavesAVX512: Bool

    public init(vendor: Vendor, vendorString: String = "", brand: String = "", family: Int = 0, model: Int = 0,
                flags: Set<Flag>, osSavesAVX: Bool = true, osSavesAVX512: Bool = true) {
        self.vendor = vendor
        self.vendorString = vendorString
        self.brand = brand
        self.family = family
        self.model = model
        self.flags = flags
        self.osSavesAVX = osSavesAVX
        self.osSavesAVX512 = osSavesAVX512
    }

    /// The extensions that can really be used: the AVX family only where the OS saves its state.
    public var usable: Set<Flag> {
        flags.filter { flag in
            switch flag {
            case .sse3, .ssse3, .sse4_1, .sse4_2: true
            case .avx, .fma, .avx2: osSavesAVX
            case .avx512f, .avx512bw, .avx512dq, .avx512vl, .avx512cd, .avx512_bf16: osSavesAVX && osSavesAVX512
            }
        }
    }

    /// This machine's CPU; no flags off x86.
    public static let current = CPUFeatures.read()

    private static func read() -> CPUFeatures {
        let leaf0 = timbre_cpuid(0, 0)
        let vendorString = ascii([leaf0.ebx, leaf0.edx, leaf0.ecx])
        let vendor: Vendor = switch vendorString {
        case "GenuineIntel": .intel
        case "AuthenticAMD": .amd
        case "HygonGenuine": .hygon
        default: .other
        }
        let leaf1 = timbre_cpuid(1, 0)
        let baseFamily = Int(leaf1.eax >> 8 & 0xF), baseModel = Int(leaf1.eax >> 4 & 0xF)
        let family = baseFamily == 0xF ? baseFamily + Int(leaf1.eax >> 20 & 0xFF) : baseFamily
        let model = baseFamily == 0x6 || baseFamily == 0xF ? baseModel | Int(leaf1.eax >> 16 & 0xF) << 4 : baseModel
        let leaf7 = timbre_cpuid(7, 0), leaf7sub1 = leaf7.eax >= 1 ? timbre_cpuid(7, 1) : timbre_cpuid_registers()

        func bit(_ register: UInt32, _ n: UInt32) -> Bool { register >> n & 1 == 1 }
        let bits: [(Flag, Bool)] = [
            (.sse3, bit(leaf1.ecx, 0)), (.ssse3, bit(leaf1.ecx, 9)), (.fma, bit(leaf1.ecx, 12)),
            (.sse4_1, bit(leaf1.ecx, 19)), (.sse4_2, bit(leaf1.ecx, 20)), (.avx, bit(leaf1.ecx, 28)),
            (.avx2, bit(leaf7.ebx, 5)), (.avx512f, bit(leaf7.ebx, 16)), (.avx512dq, bit(leaf7.ebx, 17)),
            (.avx512cd, bit(leaf7.ebx, 28)), (.avx512bw, bit(leaf7.ebx, 30)), (.avx512vl, bit(leaf7.ebx, 31)),
            (.avx512_bf16, bit(leaf7sub1.eax, 5)),
        ]
        let xcr0: UInt64 = bit(leaf1.ecx, 27) ? timbre_xgetbv0() : 0
        var brand = ""
        if timbre_cpuid(0x8000_0000, 0).eax >= 0x8000_0004 {
            let words = (0x8000_0002...0x8000_0004).flatMap { leaf -> [UInt32] in
                let r = timbre_cpuid(UInt32(leaf), 0)
                return [r.eax, r.ebx, r.ecx, r.edx]
            }
            brand = ascii(words).trimmingSpaces
        }
        return CPUFeatures(vendor: vendor, vendorString: vendorString, brand: brand, family: family, model: model,
                           flags: Set(bits.filter(\.1).map(\.0)),
                           osSavesAVX: xcr0 & 0x6 == 0x6, osSavesAVX512: xcr0 & 0xE0 == 0xE0)
    }

    /// Registers as the little-endian ASCII text CPUID packs into them, up to the first NUL.
    private static func ascii(_ words: [UInt32]) -> String {
        let bytes = words.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> ($0 * 8)) } }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

private extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
