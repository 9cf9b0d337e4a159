/// Bass lines and chord comping, bar by bar, in the idioms of the styles (walking bass,
/// boogie, tumbao, reggae skank, bossa guitar, montuno…).
struct Accompaniment {
    let arrangement: Arrangement

    private var beats: Int { arrangement.beatsPerBar }

    // MARK: bass

    func bass(_ line: BassLine, activeBars: [Bool], low: Int, velocity: Int, rng: inout SeededGenerator) -> [NoteEvent] {
        var notes: [NoteEvent] = []
        for bar in 0..<arrangement.barCount where activeBars[bar] {
            let start = Double(bar * beats)
            let chord = arrangement.chord(at: bar)
            let root = Arrangement.note((arrangement.key.tonic + chord.root) % 12, atOrAbove: low)
            let fifth = root + 7
            let third = root + chord.quality.intervals[min(1, chord.quality.intervals.count - 1)]
            let nextRoot = Arrangement.note((arrangement.key.tonic + arrangement.chord(at: bar + 1).root) % 12, atOrAbove: low)
            func add(_ beat: Double, _ key: Int, _ length: Double, _ accent: Int = 0) {
                notes.append(NoteEvent(start: start + beat, duration: length, key: key,
                                       velocity: velocity + accent + rng.int(-6...6)))
            }
            switch line {
            case .rootEighths:
                for eighth in 0..<(beats * 2) {
                    let key = eighth == beats * 2 - 1 && rng.chance(0.25) ? root + 12 : root
                    add(Double(eighth) / 2, key, 0.45, eighth % 2 == 0 ? 8 : -4)
                }
            case .rootFifth:
                if beats == 3 {
                    add(0, root, 1.9, 6); add(2, fifth, 0.9)
                } else {
                    add(0, root, 1.4, 6); add(1.5, root, 0.4); add(2, fifth, 1.8)
                }
            case .walking:
                var key = root
                for beat in 0..<beats {
                    if beat == 0 { key = root }
                    else if beat == beats - 1 { key = nextRoot + (rng.chance(0.5) ? 1 : -1) }
                    else { key = arrangement.key.scaleNote(near: key, steps: rng.pick([1, 2, -1, 2])) }
                    add(Double(beat), key, 0.9, beat == 0 ? 6 : 0)
                }
            case .boogie:
                let shape = [0, 4, 7, 9, 10, 9, 7, 4]
                for eighth in 0..<(beats * 2) {
                    let beat = Double(eighth / 2) + (eighth % 2 == 0 ? 0 : 2.0 / 3.0)
                    add(beat, root + shape[eighth % shape.count], eighth % 2 == 0 ? 0.6 : 0.3, eighth % 2 == 0 ? 6 : -6)
                }
            case .reggae:
                add(0, root, 1.2, 6); add(1.5, root, 0.4); add(2, fifth, 0.9); add(3, third, 0.4); add(3.5, fifth - 12 >= low ? fifth - 12 : fifth, 0.4)
            case .tumbao:
                add(1.5, root, 1.4, 6); add(3, nextRoot == root ? fifth : nextRoot, 1.0)
            case .synthPulse:
                for beat in 0..<beats {
                    add(Double(beat) + 0.5, rng.chance(0.15) ? root + 12 : root, 0.4)
                }
            case .sustained:
                if beats == 4 && rng.chance(0.4) { add(0, root, 2.4, 6); add(2.5, fifth, 1.4) }
                else { add(0, root, Double(beats) - 0.1, 6) }
            }
        }
        return arrangement.trimmed(notes)
    }

    // MARK: chords

    /// The rhythmic cell a part keeps for the whole piece (a player's habit), as
    /// (beat offset, length, is an up-stroke / lighter hit).
    private func cell(for comping: Comping, rng: inout SeededGenerator) -> [(Double, Double, Bool)] {
        let b = Double(beats)
        switch comping {
        case .strum:
            let patterns = beats == 3 ? ["D-DUDU", "D-D-D-"] : ["D-D-DUDU", "D-DU-UDU", "D-D-D-D-", "D--UD-DU"]
            let pattern = Array(rng.pick(patterns))
            var result: [(Double, Double, Bool)] = []
            for (index, symbol) in pattern.enumerated() where symbol != "-" {
                var next = index + 1
                while next < pattern.count && pattern[next] == "-" { next += 1 }
                result.append((Double(index) / 2, Double(next - index) / 2, symbol == "U"))
            }
            return result
        case .block:
            let options: [[Double]] = beats == 3 ? [[0, 1, 2], [0]] : [[0, 1, 2, 3], [0, 2], [0, 1.5, 3], [0, 1.5, 2.5]]
            let onsets = rng.pick(options)
            return onsets.enumerated().map { i, onset in (onset, (i + 1 < onsets.count ? onsets[i + 1] : b) - onset - 0.05, false) }
        case .skank: return beats == 3 ? [(1, 0.25, false), (2, 0.25, false)] : [(1, 0.25, false), (3, 0.25, false)]
        case .organBubble: return (0..<beats).map { (Double($0) + 0.5, 0.3, $0 % 2 == 1) }
        case .stabs:
            // A stab on the one and at least one off-beat answer, so the part is heard in every bar.
            var result: [(Double, Double, Bool)] = [(0, 0.45, false), (rng.pick([1.5, 2.5]), 0.4, true)]
            for offset in [0.5, 3.5] where offset < b && rng.chance(0.4) { result.append((offset, 0.35, true)) }
            return result.sorted { $0.0 < $1.0 }
        case .bossa: return [(0, 0.6, false), (0.75, 0.6, true), (1.5, 0.9, false), (2.5, 0.6, true), (3.25, 0.6, false)].filter { $0.0 < b }
        case .montuno: return [(0, 0.45, false), (1, 0.45, true), (1.5, 0.45, false), (2.5, 0.45, true), (3, 0.45, false), (3.5, 0.45, true)].filter { $0.0 < b }
        default: return [(0, b, false)]
        }
    }

    func chords(_ comping: Comping, activeBars: [Bool], center: Int, velocity: Int, rng: inout SeededGenerator) -> [NoteEvent] {
        var notes: [NoteEvent] = []
        var previous: [Int]?
        let pattern = cell(for: comping, rng: &rng)
        let gallop = rng.chance(0.4)
        let sixteenthArpeggio = arrangement.tempo < 100 && rng.chance(0.5)
        // A player's voicing habit for sustained and block parts: close, open (drop 2) or with the top doubled.
        let spread: Arrangement.Spread = [.pad, .block, .stabs, .arpeggio].contains(comping)
            ? rng.pick([.close, .close, .dropTwo, .doubledTop]) : .close
        for bar in 0..<arrangement.barCount where activeBars[bar] {
            let start = Double(bar * beats)
            let chord = arrangement.chord(at: bar)
            let close = arrangement.voicing(comping == .jazzComp || comping == .bossa ? chord.withSeventh : chord,
                                            center: center, previous: previous)
            previous = close
            let voicing = Arrangement.spread(close, spread)
            func hit(_ beat: Double, _ keys: [Int], _ length: Double, _ accent: Int, strum: Double = 0) {
                for (index, key) in keys.enumerated() {
                    notes.append(NoteEvent(start: start + beat + Double(index) * strum, duration: max(length - Double(index) * strum, 0.05),
                                           key: key, velocity: velocity + accent + rng.int(-5...5)))
                }
            }
            switch comping {
            case .pad:
                if arrangement.chordChanges(at: bar) {
                    let length = Double(arrangement.chordLength(from: bar) * beats) - 0.05
                    hit(0, voicing, length, 0)
                }
            case .strum:
                let guitar = [voicing[0] - 12] + voicing
                for (beat, length, up) in pattern {
                    hit(arrangement.swung(beat), up ? Array(guitar.suffix(3).reversed()) : guitar, length, up ? -12 : 4, strum: 0.015)
                }
            case .fingerpick:
                let order = [0, 2, 1, 2, 0, 2, 1, 3].map { min($0, voicing.count - 1) }
                for eighth in 0..<(beats * 2) {
                    let key = order[eighth % order.count] == 0 ? voicing[0] - 12 + (eighth % 4 == 0 ? 0 : 7) : voicing[order[eighth % order.count]]
                    hit(arrangement.swung(Double(eighth) / 2), [key], 0.9, eighth % 2 == 0 ? 2 : -6)
                }
            case .arpeggio:
                let up = voicing + voicing.map { $0 + 12 }
                let shape = Array(up.indices) + Array(up.indices.reversed().dropFirst().dropLast())
                let step = sixteenthArpeggio ? 0.25 : 0.5
                for (index, time) in stride(from: 0.0, to: Double(beats), by: step).enumerated() {
                    hit(arrangement.swung(time), [up[shape[index % shape.count]]], step * 1.5, index % 2 == 0 ? 2 : -6)
                }
            case .powerChords:
                let root = Arrangement.note((arrangement.key.tonic + chord.root) % 12, atOrAbove: 40)
                let shape = [root, root + 7, root + 12]
                let onsets: [Double] = gallop ? stride(from: 0.0, to: Double(beats), by: 1).flatMap { [$0, $0 + 0.5, $0 + 0.75] }
                                              : stride(from: 0.0, to: Double(beats), by: 0.5).map { $0 }
                for onset in onsets { hit(onset, shape, 0.3, onset.truncatingRemainder(dividingBy: 1) == 0 ? 6 : -4) }
            case .jazzComp:
                let rootless = voicing.filter { ($0 - arrangement.key.tonic - chord.root) % 12 != 0 }
                let rhythms: [[(Double, Double)]] = [[(0, 1.2), (1.5, 0.4)], [(0.5, 0.4), (2, 1.0)], [(1, 0.5), (2.5, 1.2)], [(0, 0.4), (3.5, 0.5)], [(1.5, 0.4), (3, 0.8)]]
                for (beat, length) in rng.pick(rhythms) where beat < Double(beats) {
                    hit(arrangement.swung(beat), rootless.isEmpty ? voicing : rootless, length, 0)
                }
            case .montuno:
                let top = voicing.map { $0 + 12 }
                for (index, (beat, length, _)) in pattern.enumerated() {
                    let key = top[index % top.count]
                    hit(beat, [key - 12, key], length, index % 2 == 0 ? 4 : -2)
                }
            case .bossa:
                let root = Arrangement.note((arrangement.key.tonic + chord.root) % 12, atOrAbove: 40)
                hit(0, [root], 1.8, 2)
                if beats > 2 { hit(2, [root + 7], 1.8, -2) }
                let upper = Array(voicing.suffix(3))
                for (beat, length, up) in pattern where beat > 0 { hit(beat, upper, length, up ? -8 : -2) }
            case .skank, .organBubble, .stabs, .block:
                for (beat, length, light) in pattern { hit(arrangement.swung(beat), voicing, length, light ? -8 : 2) }
            case .shuffleRiff:
                let root = Arrangement.note((arrangement.key.tonic + chord.root) % 12, atOrAbove: center - 12)
                for eighth in 0..<(beats * 2) {
                    let beat = Double(eighth / 2) + (eighth % 2 == 0 ? 0 : 2.0 / 3.0)
                    let upper = (eighth / 2) % 2 == 0 ? root + 7 : root + 9
                    hit(beat, [root, upper], eighth % 2 == 0 ? 0.6 : 0.3, eighth % 2 == 0 ? 4 : -8)
                }
            }
        }
        return arrangement.trimmed(notes)
    }
}
