import XCTest
@testable import DemoCorpus

/// Composition-level checks: no audio is rendered here, so hundreds of pieces are cheap.
final class CompositionTests: XCTestCase {
    private func compositions(seed: UInt64, count: Int, duration: ClosedRange<Double> = 20...60) -> [Composition] {
        (0..<count).map { Composer.compose(seed: seed, track: $0, durationRange: duration) }
    }

    func testVocabularyIsTheFixed27TagsInOrder() {
        XCTAssertEqual(DemoCorpus.tags.count, 27)
        XCTAssertEqual(Array(DemoCorpus.tags.prefix(12)),
                       ["rock", "metal", "pop", "electronic", "hip-hop", "jazz", "blues", "classical", "ambient", "folk", "reggae", "latin"])
        XCTAssertEqual(Array(DemoCorpus.tags[12..<25]),
                       ["piano", "acoustic-guitar", "electric-guitar", "distorted-guitar", "bass", "drums", "strings", "brass",
                        "organ", "synth-lead", "synth-pad", "flute", "choir"])
        XCTAssertEqual(Array(DemoCorpus.tags.suffix(2)), ["fast", "slow"])
    }

    func testSameSeedGivesSameCompositionsAndDifferentSeedDoesNot() {
        let first = compositions(seed: 7, count: 20)
        let again = compositions(seed: 7, count: 20)
        XCTAssertEqual(first, again)
        // Composing in another order (as threads would) changes nothing.
        let reversed = (0..<20).reversed().map { Composer.compose(seed: 7, track: $0, durationRange: 20...60) }
        XCTAssertEqual(first, Array(reversed.reversed()))
        let other = compositions(seed: 8, count: 20)
        XCTAssertNotEqual(first.map(\.labels), other.map(\.labels))
        XCTAssertNotEqual(first.map(\.tempo), other.map(\.tempo))
    }

    func testEveryTagIsReachableIn200Compositions() {
        var seen = Set<String>()
        for composition in compositions(seed: 1, count: 200) { seen.formUnion(composition.labels.tags) }
        XCTAssertEqual(seen, Set(DemoCorpus.tags), "never produced: \(Set(DemoCorpus.tags).subtracting(seen).sorted())")
    }

    func testSomeButFewTracksBlendTwoGenres() {
        let all = compositions(seed: 3, count: 600)
        let blends = all.filter { $0.genres.count == 2 }
        let share = Double(blends.count) / Double(all.count)
        XCTAssertGreaterThan(share, 0.07)
        XCTAssertLessThan(share, 0.18)
        XCTAssertTrue(all.allSatisfy { (1...2).contains($0.labels.genres.count) })
        XCTAssertTrue(blends.contains { Set($0.genres) == [.latin, .jazz] })
    }

    func testGenreConventions() {
        let all = compositions(seed: 11, count: 400)
        func single(_ genre: Genre) -> [Composition] { all.filter { $0.genres == [genre] } }
        for genre in Genre.allCases { XCTAssertFalse(single(genre).isEmpty, "no single-genre \(genre) piece") }
        for composition in single(.ambient) + single(.classical) {
            XCTAssertFalse(composition.labels.instruments.contains(.drums), "\(composition.genres) with drums")
            XCTAssertFalse(composition.parts.contains { $0.channel == 9 })
        }
        for composition in single(.metal) {
            XCTAssertTrue(composition.labels.instruments.contains(.distortedGuitar))
            XCTAssertGreaterThanOrEqual(composition.tempo, 130)
            XCTAssertEqual(composition.labels.tempo, .fast)
        }
        for composition in single(.hipHop) {
            XCTAssertTrue((80...100).contains(composition.tempo), "hip-hop at \(composition.tempo) BPM")
            XCTAssertTrue(composition.labels.instruments.contains(.drums))
        }
        for composition in single(.electronic) {
            let instruments = composition.labels.instruments
            XCTAssertTrue(instruments.contains(.synthLead) || instruments.contains(.synthPad))
            let kicks = composition.parts.first { $0.channel == 9 }?.notes.filter { $0.key == DrumKey.kick } ?? []
            // Four on the floor: a kick on every beat of the first bar of the verse (no fill there).
            guard let verse = composition.sections.first(where: { $0.kind == .verse && $0.bars >= 2 }) else { continue }
            let bar = Double(verse.startBar * 4)
            XCTAssertEqual(Set(kicks.map(\.start).filter { $0 >= bar && $0 < bar + 4 }.map { $0.rounded() }), [bar, bar + 1, bar + 2, bar + 3])
        }
        for composition in single(.jazz) {
            let jazzChords = composition.parts.filter { if case .chords(.jazzComp) = $0.role { return true }; return false }
            XCTAssertFalse(jazzChords.isEmpty)
            // Seventh chords: comping voicings have at least three notes sounding together, walking bass on the beats.
            XCTAssertTrue(composition.parts.contains { $0.role == .bass(.walking) })
        }
        for composition in single(.latin) {
            XCTAssertTrue(composition.labels.instruments.contains(.acousticGuitar) || composition.labels.instruments.contains(.piano))
            let percussion = Set(composition.parts.first { $0.channel == 9 }?.notes.map(\.key) ?? [])
            XCTAssertTrue(percussion.contains(DrumKey.claves) || percussion.contains(DrumKey.sideStick), "no clave in latin")
        }
        for composition in single(.reggae) {
            XCTAssertTrue(composition.parts.contains { $0.role == .chords(.skank) })
        }
        for composition in single(.blues) {
            XCTAssertEqual(composition.key.mode, .blues)
            XCTAssertTrue(composition.parts.contains { $0.role == .bass(.boogie) })
        }
        for composition in single(.folk) {
            XCTAssertTrue(composition.labels.instruments.contains(.acousticGuitar))
            let chords = composition.parts.filter { $0.instrument == .acousticGuitar }
            XCTAssertFalse(chords.isEmpty)
        }
    }

    func testTempoTagsFollowTheTempo() {
        for composition in compositions(seed: 5, count: 200) {
            let tempoTags = composition.labels.tags.filter { $0 == "fast" || $0 == "slow" }
            if composition.tempo >= 130 { XCTAssertEqual(tempoTags, ["fast"]) }
            else if composition.tempo <= 85 { XCTAssertEqual(tempoTags, ["slow"]) }
            else { XCTAssertEqual(tempoTags, []) }
        }
    }

    func testInstrumentTagsAreExactlyTheInstrumentsThatPlayForMostOfTheTrack() {
        for composition in compositions(seed: 9, count: 200) {
            let playing = Set(composition.parts.filter { !$0.notes.isEmpty }.map(\.instrument))
            XCTAssertEqual(Set(composition.labels.instruments), playing)
            XCTAssertFalse(playing.isEmpty)
            for instrument in playing {
                XCTAssertGreaterThanOrEqual(composition.coverage(of: instrument), Composer.minimumCoverage, "\(instrument) in \(composition.genres)")
            }
            for part in composition.parts {
                XCTAssertTrue(Instrument.allCases.contains(part.instrument))
                XCTAssertTrue(part.instrument.programs.contains(part.program), "\(part.instrument) with program \(part.program)")
                XCTAssertGreaterThanOrEqual(part.volume, 76, "\(part.instrument) mixed too low to be tagged")
                for note in part.notes {
                    XCTAssertTrue((0...127).contains(note.key) && (1...127).contains(note.velocity))
                    XCTAssertLessThanOrEqual(note.start + note.duration, composition.duration / composition.secondsPerBeat + 1e-6)
                }
            }
            XCTAssertEqual(Set(composition.parts.map(\.channel)).count, composition.parts.count, "two parts share a channel")
        }
    }

    func testLengthsStayInRangeAndDoNotDependOnGenre() {
        let all = compositions(seed: 13, count: 400)
        XCTAssertTrue(all.allSatisfy { (20...60).contains($0.duration) })
        // Mean length per genre stays near the overall mean: length carries no genre information.
        let mean = all.map(\.duration).reduce(0, +) / Double(all.count)
        for genre in Genre.allCases {
            let lengths = all.filter { $0.genres.contains(genre) }.map(\.duration)
            guard lengths.count >= 20 else { continue }
            XCTAssertEqual(lengths.reduce(0, +) / Double(lengths.count), mean, accuracy: 8, "\(genre)")
        }
        let loudness = all.map(\.loudness)
        XCTAssertTrue(loudness.allSatisfy { (-24 ... -14).contains($0) })
    }

    func testHarmonyTablesParseAndBluesIsTwelveBars() {
        let languages: [HarmonyLanguage] = [.pop, .rock, .metal, .electronic, .hipHop, .jazz, .blues, .classical, .ambient, .folk, .reggae, .latin]
        for language in languages {
            for minor in [false, true] {
                for chart in language.charts(minor: minor) { XCTAssertTrue(Progression.parsesCompletely(chart), chart) }
            }
        }
        let blues = HarmonyLanguage.blues.charts(minor: false).map { Progression($0).chords }
        XCTAssertTrue(blues.allSatisfy { $0.count == 12 && $0.allSatisfy { $0.quality == .dominant7 } })
        XCTAssertEqual(Chord(roman: "ii7"), Chord(root: 2, quality: .minor7))
        XCTAssertEqual(Chord(roman: "bVIImaj7"), Chord(root: 10, quality: .major7))
        XCTAssertEqual(Chord(roman: "iiø7"), Chord(root: 2, quality: .halfDiminished7))
        XCTAssertNil(Chord(roman: "X7"))
        XCTAssertNil(Chord(roman: "Vadd13"))
        XCTAssertTrue(HarmonyLanguage.jazz.charts(minor: false).map { Progression($0).chords }.joined().allSatisfy { $0.quality.isSeventh })
    }

    func testFileFormatIsDrawnIndependentlyOfTheMusic() throws {
        let base = DemoCorpusOptions(outputDirectory: "/tmp/unused", trackCount: 40, seed: 21)
        var wavOnly = base
        wavOnly.formats = [.wav]
        let mixed = try TrackPlan.plans(for: base)
        let single = try TrackPlan.plans(for: wavOnly)
        XCTAssertEqual(mixed.map(\.composition), single.map(\.composition))
        XCTAssertTrue(single.allSatisfy { $0.format == .wav && $0.relativePath.hasSuffix(".wav") })
        XCTAssertEqual(Set(mixed.map(\.format)), [.wav, .flac, .ogg, .mp3])
    }
}
