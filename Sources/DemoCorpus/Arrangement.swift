/// What every part of a piece agrees on while it is being written: the key, the meter,
/// the chord of every bar and the feel. Part writers read it; only the composer builds it.
struct Arrangement: Sendable {
    var key: Key
    var beatsPerBar: Int
    var tempo: Double
    /// The chord of each bar, one entry per bar of the piece.
    var chordOfBar: [Chord]
    var swing: Bool
    /// Beat at which the track ends; notes are cut there.
    var endBeat: Double

    var barCount: Int { chordOfBar.count }

    func chord(at bar: Int) -> Chord { chordOfBar[min(max(bar, 0), chordOfBar.count - 1)] }

    /// Whether bar `bar` starts a new chord (pads re-attack there).
    func chordChanges(at bar: Int) -> Bool { bar == 0 || chordOfBar[bar] != chordOfBar[bar - 1] }

    /// Number of bars the chord starting at `bar` lasts.
    func chordLength(from bar: Int) -> Int {
        var length = 1
        while bar + length < barCount, chordOfBar[bar + length] == chordOfBar[bar] { length += 1 }
        return length
    }

    /// Swung time: off-beat eighths move to the last triplet of the beat (2/3) in swing styles.
    func swung(_ beat: Double) -> Double {
        guard swing else { return beat }
        let whole = beat.rounded(.down)
        return abs(beat - whole - 0.5) < 1e-6 ? whole + 2.0 / 3.0 : beat
    }

    /// The MIDI note of pitch class `pitchClass` in the octave starting at `low`.
    static func note(_ pitchClass: Int, atOrAbove low: Int) -> Int {
        low + ((pitchClass - low) % 12 + 12) % 12
    }

    /// Chord tones as MIDI notes stacked upward from near `center`, choosing the inversion
    /// that moves least from `previous` (smooth voice leading, Kostka & Payne ch. 5).
    func voicing(_ chord: Chord, center: Int, previous: [Int]?) -> [Int] {
        let classes = chord.pitchClasses(tonic: key.tonic)
        let target = previous.map { Double($0.reduce(0, +)) / Double(max($0.count, 1)) } ?? Double(center)
        var best: [Int] = []
        var bestDistance = Double.infinity
        for rotation in 0..<classes.count {
            var notes: [Int] = []
            var floor = center - 6
            for index in 0..<classes.count {
                let note = Arrangement.note(classes[(rotation + index) % classes.count], atOrAbove: floor)
                notes.append(note)
                floor = note + 1
            }
            let mean = Double(notes.reduce(0, +)) / Double(notes.count)
            if abs(mean - target) < bestDistance { bestDistance = abs(mean - target); best = notes }
        }
        return best
    }

    /// How a close voicing is laid out: as is, open (the second voice from the top dropped
    /// an octave, "drop 2"), or with the bottom note doubled an octave above the top.
    enum Spread: Sendable { case close, dropTwo, doubledTop }

    static func spread(_ notes: [Int], _ spread: Spread) -> [Int] {
        let sorted = notes.sorted()
        switch spread {
        case .close: return notes
        case .dropTwo:
            guard sorted.count >= 3 else { return notes }
            var open = sorted
            open[open.count - 2] -= 12
            return open.sorted()
        case .doubledTop:
            guard let low = sorted.first, let high = sorted.last else { return notes }
            var top = low + 12
            while top <= high { top += 12 }
            return top - high <= 12 ? sorted + [top] : sorted
        }
    }

    /// Cuts notes at the end of the track and drops those that would start after it.
    func trimmed(_ notes: [NoteEvent]) -> [NoteEvent] {
        notes.compactMap { note in
            guard note.start < endBeat - 0.05 else { return nil }
            var note = note
            note.duration = min(note.duration, endBeat - note.start)
            note.velocity = min(max(note.velocity, 1), 127)
            note.key = min(max(note.key, 0), 127)
            return note
        }
    }
}
