/// Melodies built the way a songwriter sketches them: a two-bar rhythmic motif, repeated
/// and varied, whose strong notes land on chord tones and whose other notes move by step.
struct MelodyWriter {
    let arrangement: Arrangement

    /// - Parameters:
    ///   - range: the instrument's comfortable register (MIDI notes).
    ///   - density: chance that an eighth-note slot starts a note (0.2 sparse … 0.8 busy).
    func melody(activeBars: [Bool], range: ClosedRange<Int>, density: Double, velocity: Int,
                rng: inout SeededGenerator) -> [NoteEvent] {
        let beats = arrangement.beatsPerBar
        let motif = makeMotif(bars: 2, beats: beats, density: density, rng: &rng)
        let contour = motif.map { _ in rng.pick([-2, -1, -1, 1, 1, 2, 0, 3, -3]) }
        var notes: [NoteEvent] = []
        var pitch = (range.lowerBound + range.upperBound) / 2
        var bar = 0
        while bar < arrangement.barCount {
            let phraseVaries = rng.chance(0.35)
            for (index, (offset, length)) in motif.enumerated() {
                let barOfNote = bar + Int(offset) / beats
                guard barOfNote < arrangement.barCount, activeBars[barOfNote] else { continue }
                let onBeat = offset.truncatingRemainder(dividingBy: 1) == 0
                var step = contour[index]
                if phraseVaries && rng.chance(0.4) { step = rng.pick([-2, -1, 1, 2]) }
                pitch = arrangement.key.scaleNote(near: pitch, steps: step)
                if onBeat || length >= 1 { pitch = nearestChordTone(to: pitch, bar: barOfNote) }
                // Keep the line in its register by folding it back by octaves.
                while pitch > range.upperBound { pitch -= 12 }
                while pitch < range.lowerBound { pitch += 12 }
                let start = Double(bar * beats) + arrangement.swung(offset)
                notes.append(NoteEvent(start: start, duration: length * 0.92, key: pitch,
                                       velocity: velocity + (onBeat ? 6 : 0) + rng.int(-8...8)))
            }
            bar += 2
        }
        return arrangement.trimmed(notes)
    }

    /// (offset in beats from the motif start, length in beats); at least two notes.
    private func makeMotif(bars: Int, beats: Int, density: Double, rng: inout SeededGenerator) -> [(Double, Double)] {
        let slots = bars * beats * 2
        var onsets = (0..<slots).filter { slot in slot == 0 || rng.chance(slot % 2 == 0 ? density : density * 0.6) }
        // Leave a breath at the end of the motif, as a singer would.
        if onsets.count > 2, rng.chance(0.6) { onsets.removeLast() }
        if onsets.count < 2 { onsets = [0, beats * 2] }
        return onsets.enumerated().map { index, slot in
            let next = index + 1 < onsets.count ? onsets[index + 1] : slots
            let gap = Double(next - slot) / 2
            return (Double(slot) / 2, min(gap, rng.pick([gap, gap, 1.0, 2.0])))
        }
    }

    private func nearestChordTone(to pitch: Int, bar: Int) -> Int {
        let classes = arrangement.chord(at: bar).pitchClasses(tonic: arrangement.key.tonic)
        return (pitch - 6...pitch + 6).filter { classes.contains(($0 % 12 + 12) % 12) }
            .min { abs($0 - pitch) < abs($1 - pitch) } ?? pitch
    }
}
