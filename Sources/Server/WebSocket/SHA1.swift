/// SHA-1 (FIPS 180-4, section 6.1), for the one place the web needs it: the WebSocket
/// handshake's `Sec-WebSocket-Accept` (RFC 6455, section 4.2.2). Not for anything secret —
/// SHA-1 is broken for collisions; Timbre's own hashes are SHA-256 (`Catalog.SHA256`).
struct SHA1 {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    private var pending: [UInt8] = []
    private var totalBytes: UInt64 = 0

    static func hash<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var hasher = SHA1()
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    mutating func update(_ bytes: [UInt8]) {
        totalBytes &+= UInt64(bytes.count)
        pending += bytes
        var offset = 0
        while pending.count - offset >= 64 {
            compress(pending[offset..<(offset + 64)])
            offset += 64
        }
        pending.removeFirst(offset)
    }

    /// Pads with 1, zeros and the bit length (big-endian), as section 5.1.1 says.
    mutating func finalize() -> [UInt8] {
        let bits = totalBytes &* 8
        var tail = pending + [0x80]
        while tail.count % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        var offset = 0
        while offset < tail.count {
            compress(tail[offset..<(offset + 64)])
            offset += 64
        }
        pending = []
        var digest: [UInt8] = []
        for word in [h.0, h.1, h.2, h.3, h.4] {
            digest += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
        }
        return digest
    }

    private mutating func compress(_ block: ArraySlice<UInt8>) {
        var w = [UInt32](repeating: 0, count: 80)
        let start = block.startIndex
        for t in 0..<16 {
            let i = start + 4 * t
            w[t] = UInt32(block[i]) << 24 | UInt32(block[i + 1]) << 16 | UInt32(block[i + 2]) << 8 | UInt32(block[i + 3])
        }
        for t in 16..<80 { w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
        var (a, b, c, d, e) = h
        for t in 0..<80 {
            let f: UInt32, k: UInt32
            switch t {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
            default: f = b ^ c ^ d; k = 0xCA62_C1D6
            }
            let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
            e = d; d = c; c = rotl(b, 30); b = a; a = temp
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
    }

    private func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 - n) }
}
