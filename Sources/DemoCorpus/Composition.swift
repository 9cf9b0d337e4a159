import Foundation

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
    /// Which of the track's soundfonts plays the part (an index into the synthesizer's fonts, in load order).
    var soundFont: Int = 0
}

struct Section: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case intro, verse, chorus, bridge, breakdown }
    var kind: Kind
    var startBar: Int
    var bars: Int
}

/// A slow wander of the tempo around its nominal value, as a band that follows no click
/// does: `tempo · (1 + depth · sin(2π · beat / periodBeats + phase))`. The composer keeps the
/// whole curve on the same side of the tempo tags' thresholds as the nominal tempo.
struct TempoDrift: Sendable, Equatable {
    var depth: Double
    var periodBeats: Double
    var phase: Double

    static let none = TempoDrift(depth: 0, periodBeats: 64, phase: 0)
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
    var drift: TempoDrift = .none

    /// The nominal beat length; the drift moves notes by a fraction of a beat around it.
    var secondsPerBeat: Double { 60 / tempo }

    /// Lowest and highest tempo the drift reaches.
    var tempoRange: ClosedRange<Double> { tempo * (1 - abs(drift.depth))...tempo * (1 + abs(drift.depth)) }

    /// Beat → seconds under the drift, for beats up to `lastBeat`.
    func clock(untilBeat lastBeat: Double) -> BeatClock { BeatClock(tempo: tempo, drift: drift, lastBeat: lastBeat) }

    /// Tags follow from what is actually in the score, never from what was intended:
    /// an instrument counts when it has notes, tempo tags from the tempo.
    var labels: TrackLabels {
        var instruments = Set<Instrument>()
        for part in parts where !part.notes.isEmpty { instruments.insert(part.instrument) }
        // With drift, a tempo tag holds only if it holds over the whole curve (the composer keeps it so).
        let low = TempoTag(beatsPerMinute: tempoRange.lowerBound), high = TempoTag(beatsPerMinute: tempoRange.upperBound)
        return TrackLabels(genres: genres.sorted(), instruments: instruments.sorted(), tempo: low == high ? low : nil)
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

/// The time of each beat under a tempo drift: the integral of 60 / tempo(b) db, tabulated
/// on sixteenth steps by the midpoint rule (the curve is smooth over tens of beats) and
/// interpolated linearly between them. Without drift it is exactly `beat · 60 / tempo`.
struct BeatClock {
    private let secondsPerBeat: Double
    private let drift: TempoDrift
    private var table: [Double] = []
    private static let step = 0.25

    init(tempo: Double, drift: TempoDrift, lastBeat: Double) {
        secondsPerBeat = 60 / tempo
        self.drift = drift
        guard drift.depth != 0 else { return }
        let steps = max(Int((lastBeat / BeatClock.step).rounded(.up)) + 2, 2)
        table.reserveCapacity(steps)
        var total = 0.0
        table.append(0)
        for index in 0..<(steps - 1) {
            let middle = (Double(index) + 0.5) * BeatClock.step
            total += BeatClock.step * secondsPerBeat / (1 + drift.depth * sin(2 * Double.pi * middle / drift.periodBeats + drift.phase))
            table.append(total)
        }
    }

    func seconds(atBeat beat: Double) -> Double {
        guard !table.isEmpty, beat > 0 else { return beat * secondsPerBeat }
        let position = beat / BeatClock.step
        let index = min(Int(position), table.count - 2)
        let fraction = position - Double(index)
        return table[index] + (table[index + 1] - table[index]) * fraction
    }
}
