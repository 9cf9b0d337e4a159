/// The drum part: a groove repeated bar by bar, a crash on each new section, a tom fill
/// before it, humanised velocities and (for boom-bap and reggae) laid-back sixteenths.
struct DrumPart {
    let arrangement: Arrangement

    func notes(groove name: GrooveName, sections: [Section], activeBars: [Bool], velocity: Int,
               rng: inout SeededGenerator) -> [NoteEvent] {
        let groove = name.groove
        let swing = rng.uniform(name.sixteenthSwing)
        let stepLength = 1.0 / Double(groove.stepsPerBeat)
        let barBeats = Double(arrangement.beatsPerBar)
        let hits = groove.hits
        let sectionStarts = Set(sections.map(\.startBar))
        let fillBars = Set(sections.dropFirst().map { $0.startBar - 1 })
        let velocityScale = Double(velocity) / 100
        var notes: [NoteEvent] = []
        for bar in 0..<arrangement.barCount where activeBars[bar] {
            let start = Double(bar) * barBeats
            let fill = fillBars.contains(bar) && bar + 1 < activeBars.count && activeBars[bar + 1] && rng.chance(0.7)
            let fillStart = barBeats - 1
            for hit in hits {
                // The groove's grid may span two bars (clave): take the half that belongs to this bar.
                let stepsPerBar = groove.stepsPerBeat * arrangement.beatsPerBar
                let barOfStep = hit.step / stepsPerBar
                guard barOfStep == bar % max(groove.stepCount / stepsPerBar, 1) else { continue }
                var beat = Double(hit.step % stepsPerBar) * stepLength
                if fill && beat >= fillStart { continue }
                if groove.stepsPerBeat == 4 && hit.step % 2 == 1 { beat += swing * stepLength }
                let level = Double(hit.velocity) * velocityScale + Double(rng.int(-7...7))
                notes.append(NoteEvent(start: start + beat, duration: 0.2, key: hit.key, velocity: Int(level)))
            }
            if fill {
                for (offset, key) in DrumFill.lastBeat(stepsPerBeat: 4) {
                    notes.append(NoteEvent(start: start + fillStart + offset, duration: 0.2, key: key,
                                           velocity: Int(95 * velocityScale) + rng.int(-6...6)))
                }
            }
            if sectionStarts.contains(bar) && bar > 0 {
                notes.append(NoteEvent(start: start, duration: 1, key: DrumKey.crash, velocity: Int(105 * velocityScale)))
            }
        }
        return arrangement.trimmed(notes)
    }
}
