/// Composes a piece from a corpus seed and a track index. Everything random is drawn from
/// generators derived from (seed, track), so a track is the same whatever thread composes
/// it and whichever tracks were composed before it.
enum Composer {
    /// Streams of randomness per track: the music, and the track's production choices
    /// (length, loudness) that must not depend on the genre.
    private enum Stream: UInt64 { case music = 1, production = 2 }

    static func compose(seed: UInt64, track: Int, durationRange: ClosedRange<Double>) -> Composition {
        var production = SeededGenerator(seed: seed, track: track, stream: Stream.production.rawValue)
        let duration = production.uniform(durationRange)
        let loudness = production.uniform(-24 ... -14)
        // From nearly dry and small to a large wet hall: the room must not tell the genre.
        let reverb = ReverbSettings(roomSize: production.uniform(0.1...0.95), damping: production.uniform(0.1...0.8),
                                    width: production.uniform(0.3...1), level: production.uniform(0.15...0.9))
        let drift = TempoDrift(depth: production.uniform(0...0.025), periodBeats: production.uniform(24...96),
                               phase: production.uniform(0...(2 * Double.pi)))

        var rng = SeededGenerator(seed: seed, track: track, stream: Stream.music.rawValue)
        let genres: [Genre]
        if rng.chance(GenreBlend.probability) {
            let pair = rng.pick(GenreBlend.pairs)
            genres = rng.chance(0.5) ? [pair.0, pair.1] : [pair.1, pair.0]
        } else {
            genres = [rng.pick(Genre.allCases)]
        }
        let styles = genres.map { rng.pick(Style.styles(of: $0)) }
        let primary = styles[0]

        let tempo = chooseTempo(styles, rng: &rng)
        let beatsPerBar = rng.pick(primary.beatsPerBar)
        let language = rng.pick(styles.map(\.harmony))
        let key = Key(tonic: rng.int(0...11), mode: rng.pick(language.modes))
        let barCount = max(Int((duration * tempo / 60 / Double(beatsPerBar)).rounded(.up)), 1)
        let isBlues = language == .blues
        let sections = form(barCount: barCount, phrase: isBlues ? 12 : 8, rng: &rng)

        // Harmony: one chart for verses, one for choruses.
        let charts = language.charts(minor: key.mode.isMinor)
        let verseChart = Progression(rng.pick(charts)).chords
        let chorusChart = Progression(rng.pick(charts)).chords
        let barsPerChord = isBlues ? 1 : rng.pick(styles.flatMap(\.barsPerChord))
        let jazzy = genres.contains(.jazz)
        var chordOfBar: [Chord] = []
        for section in sections {
            let chart = section.kind == .chorus ? chorusChart : verseChart
            for bar in 0..<section.bars {
                var chord = chart[(bar / barsPerChord) % chart.count]
                if jazzy { chord = chord.withSeventh } else if language == .folk { chord = chord.triad }
                chordOfBar.append(chord)
            }
        }
        let arrangement = Arrangement(key: key, beatsPerBar: beatsPerBar, tempo: tempo, chordOfBar: chordOfBar,
                                      swing: styles.contains { $0.swing }, endBeat: duration * tempo / 60)

        var parts: [Part] = []
        let grooves = styles.first { !$0.grooves.isEmpty }
        if let drumStyle = grooves, rng.chance(drumStyle.drumProbability) {
            let groove = beatsPerBar == 3 ? rng.pick([GrooveName.waltz, .waltzBrushes]) : rng.pick(drumStyle.grooves)
            let active = activity(sections: sections, barCount: barCount, inIntro: rng.chance(0.5), inBreakdown: false)
            let velocity = rng.int(85...105)
            let notes = DrumPart(arrangement: arrangement).notes(groove: groove, sections: sections, activeBars: active,
                                                                velocity: velocity, rng: &rng)
            parts.append(Part(instrument: .drums, role: .drums, channel: 9, bank: 128, program: rng.pick(drumStyle.kits),
                              volume: rng.int(100...120), pan: 64, reverbSend: rng.int(10...60), chorusSend: 0, notes: notes))
        }
        let reverbBias = genres.contains(.ambient) || genres.contains(.classical) ? 30 : 0
        for (index, spec) in chooseParts(styles, rng: &rng).enumerated() {
            let channel = index < 9 ? index : index + 1
            let program = rng.pick(spec.programs)
            let notes = write(spec, program: program, arrangement: arrangement, sections: sections, rng: &rng)
            let (roleVolume, pan) = mix(spec.role, rng: &rng)
            let volume = min(roleVolume + quietness(of: spec.instrument), 127)
            parts.append(Part(instrument: spec.instrument, role: spec.role, channel: channel, bank: 0, program: program,
                              volume: volume, pan: pan, reverbSend: min(rng.int(15...70) + reverbBias, 127),
                              chorusSend: rng.int(0...40), notes: notes))
        }
        var composition = Composition(genres: genres, tempo: tempo, key: key, beatsPerBar: beatsPerBar, sections: sections,
                                      parts: parts, duration: duration, reverb: reverb, loudness: loudness,
                                      drift: truthful(drift, tempo: tempo))
        // A tag promises the instrument is heard for a good part of the track; a part that
        // ended up playing too little is left out rather than tagged or left untagged.
        let faint = Set(Instrument.allCases.filter { composition.coverage(of: $0) < minimumCoverage })
        composition.parts.removeAll { faint.contains($0.instrument) || $0.notes.isEmpty }
        return composition
    }

    /// The drift made shallow enough that the whole tempo curve stays on the nominal tempo's
    /// side of the tag thresholds (fast ≥ 130, slow ≤ 85, untagged strictly between), so the
    /// tempo tag is true of every bar.
    static func truthful(_ drift: TempoDrift, tempo: Double) -> TempoDrift {
        let bound: Double
        switch TempoTag(beatsPerMinute: tempo) {
        case .fast?: bound = 1 - TempoTag.fastThreshold / tempo
        case .slow?: bound = TempoTag.slowThreshold / tempo - 1
        case nil: bound = min(TempoTag.fastThreshold / tempo - 1, 1 - TempoTag.slowThreshold / tempo)
        }
        var drift = drift
        drift.depth = max(0, min(drift.depth, 0.999 * bound))
        return drift
    }

    /// Least share of the bars an instrument must sound in to be part of the mix.
    static let minimumCoverage = 0.5

    private static func chooseTempo(_ styles: [Style], rng: inout SeededGenerator) -> Double {
        var range = styles[0].tempo
        if styles.count > 1 {
            let other = styles[1].tempo
            let low = max(range.lowerBound, other.lowerBound), high = min(range.upperBound, other.upperBound)
            if low <= high { range = low...high }
            else if let strict = styles.first(where: { $0.genre == .hipHop || $0.genre == .metal }) { range = strict.tempo }
        }
        return rng.uniform(range).rounded()
    }

    /// Intro, then verse/chorus phrases, with a drum-less breakdown before the last chorus in longer pieces.
    private static func form(barCount: Int, phrase: Int, rng: inout SeededGenerator) -> [Section] {
        var sections: [Section] = []
        var bar = 0
        // A short intro: at most about a sixth of the piece, so the full band dominates.
        let intro = barCount >= 6 ? min(rng.pick([2, 4]), max(barCount / 6, 1)) : 0
        if intro > 0 { sections.append(Section(kind: .intro, startBar: 0, bars: intro)); bar = intro }
        var kinds: [Section.Kind] = [.verse, .chorus]
        if barCount - intro >= 3 * phrase + 4 && rng.chance(0.4) { kinds = [.verse, .chorus, .breakdown, .chorus] }
        var index = 0
        while bar < barCount {
            let kind = kinds[index % kinds.count]
            let length = min(kind == .breakdown ? 4 : phrase, barCount - bar)
            sections.append(Section(kind: kind, startBar: bar, bars: length))
            bar += length
            index += 1
        }
        return sections
    }

    /// The bars a part plays in.
    private static func activity(sections: [Section], barCount: Int, inIntro: Bool, inBreakdown: Bool) -> [Bool] {
        var active = [Bool](repeating: true, count: barCount)
        for section in sections where (section.kind == .intro && !inIntro) || (section.kind == .breakdown && !inBreakdown) {
            for bar in section.startBar..<min(section.startBar + section.bars, barCount) { active[bar] = false }
        }
        return active
    }

    private static func chooseParts(_ styles: [Style], rng: inout SeededGenerator) -> [PartSpec] {
        var specs: [PartSpec] = styles[0].required.map { rng.pick($0) }
        if styles.count > 1 {
            // The second genre brings its signature parts (not a second bass line).
            for group in styles[1].required {
                let spec = rng.pick(group)
                if case .bass = spec.role { continue }
                specs.append(spec)
            }
        }
        let optionalScale = styles.count > 1 ? 0.6 : 1.0
        for style in styles { for (spec, probability) in style.optional where rng.chance(probability * optionalScale) { specs.append(spec) } }
        var seen = Set<String>()
        return Array(specs.filter { seen.insert("\($0.instrument)\($0.role)").inserted }.prefix(14))
    }

    private static func write(_ spec: PartSpec, program: Int, arrangement: Arrangement, sections: [Section],
                              rng: inout SeededGenerator) -> [NoteEvent] {
        let barCount = arrangement.barCount
        switch spec.role {
        case .drums:
            return []
        case .bass(let line):
            let active = activity(sections: sections, barCount: barCount, inIntro: rng.chance(0.3), inBreakdown: false)
            let low = spec.instrument == .strings ? 36 : (program >= 38 ? 31 : 28)
            return Accompaniment(arrangement: arrangement).bass(line, activeBars: active, low: low, velocity: rng.int(85...105), rng: &rng)
        case .chords(let comping):
            let active = activity(sections: sections, barCount: barCount, inIntro: true, inBreakdown: true)
            let velocity = comping == .pad ? rng.int(70...92) : rng.int(72...98)
            return Accompaniment(arrangement: arrangement).chords(comping, activeBars: active, center: chordCenter(spec.instrument) + rng.int(-3...3),
                                                                  velocity: velocity, rng: &rng)
        case .melody:
            let active = activity(sections: sections, barCount: barCount, inIntro: false, inBreakdown: rng.chance(0.5))
            let density = spec.instrument == .synthPad || sections.count < 2 ? 0.4 : rng.uniform(0.3...0.7)
            return MelodyWriter(arrangement: arrangement).melody(activeBars: active, range: melodyRange(spec.instrument, program: program),
                                                                 density: density, velocity: rng.int(88...108), rng: &rng)
        }
    }

    private static func chordCenter(_ instrument: Instrument) -> Int {
        switch instrument {
        case .acousticGuitar, .electricGuitar, .distortedGuitar: return 57
        case .synthLead: return 67
        case .choir: return 64
        default: return 62
        }
    }

    private static func melodyRange(_ instrument: Instrument, program: Int) -> ClosedRange<Int> {
        switch (instrument, program) {
        case (.flute, _): return 72...91
        case (.brass, 57): return 48...67
        case (.brass, 60): return 53...74
        case (.brass, _): return 58...79
        case (.strings, _): return 62...86
        case (.acousticGuitar, _), (.electricGuitar, _), (.distortedGuitar, _): return 57...79
        default: return 60...84
        }
    }

    /// Channel volume correction for instruments that FluidR3_GM renders quieter (piano) or
    /// louder (synths) than the others at the same velocity, measured by rendering each
    /// tagged instrument solo against its mix: a synth should not bury a piano it plays with.
    private static func quietness(of instrument: Instrument) -> Int {
        switch instrument {
        case .piano: return 12
        case .strings, .brass: return 6
        case .synthLead, .synthPad: return -8
        default: return 0
        }
    }

    /// Channel volume (CC 7) and pan (CC 10) by role: bass centred, the rest spread.
    private static func mix(_ role: Role, rng: inout SeededGenerator) -> (Int, Int) {
        switch role {
        case .drums: return (rng.int(100...120), 64)
        case .bass: return (rng.int(96...118), 64 + rng.int(-6...6))
        case .chords(.pad): return (rng.int(84...108), 64 + rng.int(-30...30))
        case .chords: return (rng.int(88...114), 64 + rng.int(-40...40))
        case .melody: return (rng.int(96...122), 64 + rng.int(-20...20))
        }
    }
}
