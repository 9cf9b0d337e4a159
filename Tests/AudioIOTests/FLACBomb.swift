import Foundation

/// Constant FLAC written byte by byte (RFC 9639), so a test can hold hours of audio at
/// 768 kHz in a few MB without encoding it: every frame is one CONSTANT subframe per channel
/// (15 bytes per 65,535 samples), and STREAMINFO may declare any length, or none.
enum FLACBomb {
    static let blockSize = 65535

    /// - Parameters:
    ///   - frames: frames actually present (a multiple of `blockSize` is exact; the rest is dropped).
    ///   - declaredFrames: what STREAMINFO says; 0 means "unknown", nil means `frames`.
    ///   - value: the constant 16-bit sample (0: digital silence, else DC).
    static func make(sampleRate: Int, channels: Int = 1, frames: Int64, declaredFrames: Int64? = nil, value: Int16 = 0) -> [UInt8] {
        precondition((1...8).contains(channels) && sampleRate > 0 && sampleRate < 1 << 20)
        var out = Array("fLaC".utf8)
        out += [0x80, 0x00, 0x00, 0x22]  // last metadata block, STREAMINFO, 34 bytes
        var info = BitWriter()
        info.put(UInt64(blockSize), 16); info.put(UInt64(blockSize), 16)
        info.put(0, 24); info.put(0, 24)  // frame sizes unknown
        info.put(UInt64(sampleRate), 20); info.put(UInt64(channels - 1), 3); info.put(15, 5)  // 16 bits
        info.put(UInt64(declaredFrames ?? frames), 36)
        out += info.bytes + [UInt8](repeating: 0, count: 16)  // MD5 unknown
        let count = frames / Int64(blockSize)
        out.reserveCapacity(out.count + Int(count) * (13 + 3 * channels))
        for number in 0..<count {
            let start = out.count
            out += [0xFF, 0xF8, 0x70, UInt8(channels - 1) << 4]  // fixed blocks, 16-bit size at the end, rate and depth from STREAMINFO
            out += utf8Coded(UInt64(number))
            out += [UInt8((blockSize - 1) >> 8), UInt8((blockSize - 1) & 0xFF)]
            out.append(crc8(out[start...]))
            for _ in 0..<channels {
                out += [0x00, UInt8(truncatingIfNeeded: UInt16(bitPattern: value) >> 8), UInt8(truncatingIfNeeded: UInt16(bitPattern: value))]
            }
            let crc = crc16(out[start...])
            out += [UInt8(crc >> 8), UInt8(crc & 0xFF)]
        }
        return out
    }

    /// FLAC's "UTF-8" coding of frame numbers (up to 31 bits).
    static func utf8Coded(_ value: UInt64) -> [UInt8] {
        if value < 0x80 { return [UInt8(value)] }
        var tail: [UInt8] = []
        var rest = value
        var limit: UInt64 = 0x40  // halved per continuation byte: what the first byte can still hold
        while rest >= limit {
            tail.insert(0x80 | UInt8(rest & 0x3F), at: 0)
            rest >>= 6
            limit >>= 1
        }
        let marker = UInt8(truncatingIfNeeded: 0xFF00 >> (tail.count + 1))
        return [marker | UInt8(rest)] + tail
    }

    static func crc8(_ bytes: ArraySlice<UInt8>) -> UInt8 {
        var crc: UInt8 = 0
        for byte in bytes {
            crc ^= byte
            for _ in 0..<8 { crc = crc & 0x80 != 0 ? (crc << 1) ^ 0x07 : crc << 1 }
        }
        return crc
    }

    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x8005 : crc << 1 }
        }
        return crc
    }

    struct BitWriter {
        var bytes: [UInt8] = []
        var bits = 0
        mutating func put(_ value: UInt64, _ width: Int) {
            for shift in stride(from: width - 1, through: 0, by: -1) {
                if bits % 8 == 0 { bytes.append(0) }
                if (value >> UInt64(shift)) & 1 == 1 { bytes[bytes.count - 1] |= 0x80 >> UInt8(bits % 8) }
                bits += 1
            }
        }
    }
}
