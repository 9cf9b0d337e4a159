import XCTest
@testable import DemoCorpus

/// More than one way to play each genre (drum patterns, voicings, a drifting tempo), with
/// the tags still true of what is played.
final class VarietyTests: XCTestCase {
    private func compositions(seed: UInt64, count: Int) -> [Composition] {
        (0..<count).map { Composer.compose(seed: seed, track: $0, durationRange: 20...40) }
    }

    /// The drum pattern as (key, position in the bar to the nearest sixteenth), crashes and fill toms left out.
    private func groove(_ composition: Composition) -> Set<Int> {
        guard let drums = composition.parts.first(where: { $0.instrument == .drums }) else { return [] }
        let ignored: Set<Int> = [DrumKey.crash, DrumKey.highTom, DrumKey.midTom, DrumKey.lowTom]
        let bar = Double(composition.beatsPerBar)
        return Set(drums.notes.filter { !ignored.contains($0.key) }.map { note in
            note.key * 1000 + Int((note.start.truncatingRemainder(dividingBy: bar) * 4).rounded())
        })
    }

    func testEveryGenreWithDrumsHasSeveralDrumPatterns() {
        let all = compositions(seed: 21, count: 700)
        for genre in Genre.allCases where genre != .ambient && genre != .classical {
            let patterns = Set(all.filter { $0.genres == [genre] && $0.beatsPerBar == 4 }.map(groove).filter { !$0.isEmpty })
            XCTAssertGreaterThanOrEqual(patterns.count, 2, "\(genre) has one drum pattern")
        }
        for name in GrooveName.allCases {
            let groove = name.groove
            XCTAssertTrue(groove.lanes.allSatisfy { $0.grid.count == groove.stepCount }, "\(name): lanes of different lengths")
            XCTAssertEqual(groove.stepCount % (groove.stepsPerBeat * groove.beatsPerBar), 0, "\(name)")
        }
    }

    func testTempoDriftsButTheTempoTagHoldsOverTheWholeCurve() {
        let all = compositions(seed: 22, count: 400)
        XCTAssertGreaterThan(all.filter { $0.drift.depth > 0.01 }.count, 100)
        for composition in all {
            let range = composition.tempoRange
            let nominal = TempoTag(beatsPerMinute: composition.tempo)
            XCTAssertEqual(TempoTag(beatsPerMinute: range.lowerBound), nominal, "\(composition.tempo) BPM drifting to \(range)")
            XCTAssertEqual(TempoTag(beatsPerMinute: range.upperBound), nominal, "\(composition.tempo) BPM drifting to \(range)")
            XCTAssertEqual(composition.labels.tempo, nominal)
            XCTAssertLessThanOrEqual(composition.drift.depth, 0.025)
        }
        // Tracks right at a threshold do not drift across it.
        XCTAssertEqual(Composer.truthful(TempoDrift(depth: 0.02, periodBeats: 32, phase: 0), tempo: 130).depth, 0)
        XCTAssertEqual(Composer.truthful(TempoDrift(depth: 0.02, periodBeats: 32, phase: 0), tempo: 86).depth, 0.999 * (1 - 85.0 / 86), accuracy: 1e-12)
        XCTAssertEqual(Composer.truthful(TempoDrift(depth: 0.02, periodBeats: 32, phase: 0), tempo: 170).depth, 0.02)
    }

    func testTheBeatClockIntegratesTheTempoCurve() {
        let none = BeatClock(tempo: 120, drift: .none, lastBeat: 64)
        XCTAssertEqual(none.seconds(atBeat: 32), 16, accuracy: 1e-12)
        let drift = TempoDrift(depth: 0.02, periodBeats: 40, phase: 0.7)
        let clock = BeatClock(tempo: 120, drift: drift, lastBeat: 200)
        // Against a fine Riemann sum of 60 / tempo(b).
        for beat in [0.0, 3.3, 17, 40, 99.9, 200] {
            var reference = 0.0
            let step = 0.0005
            var b = step / 2
            while b < beat { reference += step * 0.5 / (1 + 0.02 * sin(2 * Double.pi * b / 40 + 0.7)); b += step }
            XCTAssertEqual(clock.seconds(atBeat: beat), reference, accuracy: 2e-3, "beat \(beat)")
        }
        // A whole period of a sine drift takes (almost exactly) as long as the nominal tempo.
        XCTAssertEqual(clock.seconds(atBeat: 40), 20, accuracy: 0.01)
        var last = -1.0
        for beat in stride(from: 0.0, through: 200, by: 0.37) {
            let t = clock.seconds(atBeat: beat)
            XCTAssertGreaterThan(t, last)
            last = t
        }
    }

    func testVoicingsVary() {
        XCTAssertEqual(Arrangement.spread([60, 64, 67], .close), [60, 64, 67])
        XCTAssertEqual(Arrangement.spread([60, 64, 67], .dropTwo), [52, 60, 67])
        XCTAssertEqual(Arrangement.spread([64, 67, 72], .doubledTop), [64, 67, 72, 76])
        XCTAssertEqual(Arrangement.spread([60, 64], .dropTwo), [60, 64])
        // Across compositions, pads sound both close (within an octave) and open or doubled (wider).
        var close = 0, wide = 0
        for composition in compositions(seed: 23, count: 150) {
            for part in composition.parts where part.role == .chords(.pad) {
                guard let first = part.notes.first else { continue }
                let chord = part.notes.filter { $0.start == first.start }.map(\.key)
                if (chord.max() ?? 0) - (chord.min() ?? 0) <= 12 { close += 1 } else { wide += 1 }
            }
        }
        XCTAssertGreaterThan(close, 10)
        XCTAssertGreaterThan(wide, 5)
    }
}
