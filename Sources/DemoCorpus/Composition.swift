/// What the composer produces and the renderer plays: a piece as timed notes per
/// instrument, with everything the mix needs. Times are in beats (quarter notes) so
/// that the score stays readable; the renderer converts them with the tempo.

struct NoteEvent: Sendable, Equatable {
    var start: Double
    var duration: Double
    var key: Int
    var velocity: Int
}

/// One instrument on one MIDI channel.
struct Part: Sendable, Equatable {
    var instrument: Instrument
    var role: Role
    /// 0-based MIDI channel; drums are on channel 9 (General MIDI channel 10).
    var channel: Int
    var bank: Int
    var program: Int
    /// CC 7, CC 10, CC 91, CC 93.
    var volume: Int
    var pan: Int
    var reverbSend: Int
    var chorusSend: Int
    var notes: [NoteEvent]
}

struct Section: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case intro, verse, chorus, bridge, breakdown }
    var kind: Kind
    var startBar: Int
    var bars: Int
}

/// Global reverb of the synthesizer (fluidsynth's Freeverb: room size, damping, width, level, each 0…1).
struct ReverbSettings: Sendable, Equatable {
    var roomSize: Double
    var damping: Double
    var width: Double
    var level: Double
}

struct Composition: Sendable, Equatable {
    var genres: [Genre]
    var tempo: Double
    var key: Key
    var beatsPerBar: Int
    var sections: [Section]
    var parts: [Part]
    /// Length of the rendered track in seconds; notes are cut there and the mix fades out.
    var duration: Double
    var reverb: ReverbSettings
    /// Target loudness of the master, RMS in dBFS, drawn independently of the style.
    var loudness: Double

    var secondsPerBeat: Double { 60 / tempo }

    /// Tags follow from what is actually in the score, never from what was intended:
    /// an instrument counts when it has notes, tempo tags from the tempo.
    var labels: TrackLabels {
        var instruments = Set<Instrument>()
        for part in parts where !part.notes.isEmpty { instruments.insert(part.instrument) }
        return TrackLabels(genres: genres.sorted(), instruments: instruments.sorted(), tempo: TempoTag(beatsPerMinute: tempo))
    }

    /// Fraction of the bars of the track in which the instrument sounds: a tagged
    /// instrument must play for a good part of the track, not just an intro.
    func coverage(of instrument: Instrument) -> Double {
        let barLength = Double(beatsPerBar)
        let barCount = max(Int((duration / secondsPerBeat / barLength).rounded(.up)), 1)
        var sounding = [Bool](repeating: false, count: barCount)
        for part in parts where part.instrument == instrument {
            for note in part.notes {
                let first = max(Int(note.start / barLength), 0)
                let last = min(Int((note.start + note.duration - 1e-9) / barLength), barCount - 1)
                if first <= last { for bar in first...last { sounding[bar] = true } }
            }
        }
        return Double(sounding.filter { $0 }.count) / Double(barCount)
    }
}
