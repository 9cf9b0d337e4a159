/// The table of genre conventions: tempo, meter, groove, harmony and instrumentation.
/// A genre may have several sub-styles (latin: bossa nova and son montuno).

enum BassLine: Sendable, Equatable { case rootEighths, rootFifth, walking, boogie, reggae, tumbao, synthPulse, sustained }

enum Comping: Sendable, Equatable {
    case strum, fingerpick, block, arpeggio, skank, organBubble, powerChords, jazzComp, pad, montuno, bossa, stabs, shuffleRiff
}

/// What a part does in the arrangement.
enum Role: Sendable, Equatable {
    case drums
    case bass(BassLine)
    case chords(Comping)
    case melody
}

/// An instrument in a role, optionally restricted to some of its GM programs.
struct PartSpec: Sendable {
    var instrument: Instrument
    var role: Role
    var programs: [Int]

    init(_ instrument: Instrument, _ role: Role, programs: [Int]? = nil) {
        self.instrument = instrument
        self.role = role
        self.programs = programs ?? instrument.programs
    }
}

struct Style: Sendable {
    var genre: Genre
    var tempo: ClosedRange<Double>
    var beatsPerBar: [Int]
    /// Empty: the style has no drums (ambient, classical).
    var grooves: [GrooveName]
    var drumProbability: Double = 1
    var kits: [Int] = [0, 8]
    var harmony: HarmonyLanguage
    /// Eighth notes swung to a triplet feel (jazz, blues).
    var swing: Bool = false
    var barsPerChord: [Int] = [1, 2]
    /// One spec of each group plays; `optional` parts join with their probability.
    var required: [[PartSpec]]
    var optional: [(PartSpec, Double)] = []

    static func styles(of genre: Genre) -> [Style] {
        switch genre {
        case .rock: return [rock]
        case .metal: return [metal]
        case .pop: return [pop]
        case .electronic: return [electronic]
        case .hipHop: return [hipHop]
        case .jazz: return [jazz]
        case .blues: return [blues]
        case .classical: return [classical]
        case .ambient: return [ambient]
        case .folk: return [folk]
        case .reggae: return [reggae]
        case .latin: return [bossaNova, sonMontuno]
        }
    }

    static let rock = Style(
        genre: .rock, tempo: 100...160, beatsPerBar: [4], grooves: [.rockBackbeat, .rockDriving, .halfTime, .rockOpenHat],
        kits: [0, 8, 16], harmony: .rock,
        required: [[PartSpec(.bass, .bass(.rootEighths), programs: [33, 34])],
                   [PartSpec(.electricGuitar, .chords(.powerChords), programs: [27, 28]),
                    PartSpec(.electricGuitar, .chords(.strum), programs: [27])]],
        optional: [(PartSpec(.distortedGuitar, .chords(.powerChords)), 0.4), (PartSpec(.electricGuitar, .melody, programs: [27]), 0.3),
                   (PartSpec(.organ, .chords(.pad), programs: [16, 18]), 0.2), (PartSpec(.piano, .chords(.block)), 0.15),
                   (PartSpec(.strings, .chords(.pad)), 0.08)])

    static let metal = Style(
        genre: .metal, tempo: 130...190, beatsPerBar: [4], grooves: [.metalDoubleKick, .metalGallop, .metalThrash],
        kits: [16, 0, 8], harmony: .metal,
        required: [[PartSpec(.bass, .bass(.rootEighths), programs: [33, 34])],
                   [PartSpec(.distortedGuitar, .chords(.powerChords), programs: [30, 29])]],
        optional: [(PartSpec(.distortedGuitar, .melody, programs: [30]), 0.4), (PartSpec(.strings, .chords(.pad)), 0.15),
                   (PartSpec(.choir, .chords(.pad)), 0.12), (PartSpec(.organ, .chords(.pad), programs: [19, 16]), 0.06)])

    static let pop = Style(
        genre: .pop, tempo: 88...128, beatsPerBar: [4], grooves: [.popBackbeat, .rockBackbeat, .popSixteenths],
        kits: [0, 24, 25, 8], harmony: .pop,
        required: [[PartSpec(.bass, .bass(.rootFifth), programs: [33, 34, 38]), PartSpec(.bass, .bass(.rootEighths), programs: [33, 38])],
                   [PartSpec(.piano, .chords(.block)), PartSpec(.piano, .chords(.arpeggio)), PartSpec(.synthPad, .chords(.pad))],
                   [PartSpec(.synthLead, .melody), PartSpec(.piano, .melody), PartSpec(.electricGuitar, .melody, programs: [27])]],
        optional: [(PartSpec(.acousticGuitar, .chords(.strum), programs: [25]), 0.3), (PartSpec(.electricGuitar, .chords(.strum), programs: [27, 28]), 0.2),
                   (PartSpec(.strings, .chords(.pad)), 0.25), (PartSpec(.synthPad, .chords(.pad)), 0.25),
                   (PartSpec(.brass, .chords(.stabs), programs: [61]), 0.08)])

    static let electronic = Style(
        genre: .electronic, tempo: 118...145, beatsPerBar: [4], grooves: [.fourOnTheFloor, .houseShaker, .technoRide],
        kits: [24, 25], harmony: .electronic, barsPerChord: [1, 2, 4],
        required: [[PartSpec(.bass, .bass(.synthPulse), programs: [38, 39])],
                   [PartSpec(.synthLead, .melody), PartSpec(.synthLead, .chords(.arpeggio)), PartSpec(.synthPad, .chords(.pad))]],
        optional: [(PartSpec(.synthLead, .chords(.arpeggio)), 0.5), (PartSpec(.synthPad, .chords(.pad)), 0.6),
                   (PartSpec(.piano, .chords(.stabs)), 0.15), (PartSpec(.strings, .chords(.pad)), 0.06)])

    static let hipHop = Style(
        genre: .hipHop, tempo: 80...100, beatsPerBar: [4], grooves: [.boomBap, .boomBapLaidBack, .hipHopRim], kits: [0, 8, 25], harmony: .hipHop,
        barsPerChord: [1, 2],
        required: [[PartSpec(.bass, .bass(.sustained), programs: [32, 33, 38]), PartSpec(.bass, .bass(.rootFifth), programs: [33, 38])],
                   [PartSpec(.piano, .chords(.block)), PartSpec(.strings, .chords(.pad)), PartSpec(.organ, .chords(.pad), programs: [16, 17]),
                    PartSpec(.piano, .chords(.stabs))]],
        optional: [(PartSpec(.brass, .chords(.stabs)), 0.2), (PartSpec(.flute, .melody), 0.15), (PartSpec(.electricGuitar, .melody, programs: [26, 27]), 0.1),
                   (PartSpec(.synthPad, .chords(.pad)), 0.12), (PartSpec(.piano, .melody), 0.15), (PartSpec(.synthLead, .melody), 0.08)])

    static let jazz = Style(
        genre: .jazz, tempo: 70...200, beatsPerBar: [4], grooves: [.jazzSwing, .jazzSwing, .jazzBrushes, .jazzTwoFeel], kits: [32, 40], harmony: .jazz,
        swing: true, barsPerChord: [1, 2],
        required: [[PartSpec(.bass, .bass(.walking), programs: [32])],
                   [PartSpec(.piano, .chords(.jazzComp)), PartSpec(.piano, .chords(.jazzComp)), PartSpec(.electricGuitar, .chords(.jazzComp), programs: [26]),
                    PartSpec(.organ, .chords(.jazzComp), programs: [16, 17])],
                   [PartSpec(.brass, .melody, programs: [56, 57]), PartSpec(.piano, .melody), PartSpec(.electricGuitar, .melody, programs: [26]),
                    PartSpec(.flute, .melody, programs: [73])]],
        optional: [(PartSpec(.brass, .chords(.stabs), programs: [61, 57]), 0.1)])

    static let blues = Style(
        genre: .blues, tempo: 70...130, beatsPerBar: [4], grooves: [.bluesShuffle, .bluesShuffleRide], harmony: .blues, swing: true, barsPerChord: [1],
        required: [[PartSpec(.bass, .bass(.boogie), programs: [33, 34, 32])],
                   [PartSpec(.electricGuitar, .chords(.shuffleRiff), programs: [27, 26]), PartSpec(.piano, .chords(.shuffleRiff))],
                   [PartSpec(.electricGuitar, .melody, programs: [27, 26]), PartSpec(.distortedGuitar, .melody, programs: [29]),
                    PartSpec(.brass, .melody, programs: [56]), PartSpec(.piano, .melody)]],
        optional: [(PartSpec(.organ, .chords(.pad), programs: [16, 17]), 0.3), (PartSpec(.piano, .chords(.block)), 0.25),
                   (PartSpec(.brass, .chords(.stabs), programs: [61]), 0.12)])

    static let classical = Style(
        genre: .classical, tempo: 60...140, beatsPerBar: [4, 3], grooves: [], harmony: .classical, barsPerChord: [1, 2],
        required: [[PartSpec(.strings, .chords(.pad)), PartSpec(.piano, .chords(.arpeggio)), PartSpec(.strings, .chords(.arpeggio), programs: [48])],
                   [PartSpec(.strings, .melody, programs: [48, 49]), PartSpec(.flute, .melody, programs: [73]), PartSpec(.piano, .melody),
                    PartSpec(.brass, .melody, programs: [60, 56])]],
        optional: [(PartSpec(.strings, .bass(.sustained), programs: [48]), 0.5), (PartSpec(.choir, .chords(.pad), programs: [52]), 0.15),
                   (PartSpec(.brass, .chords(.pad), programs: [60]), 0.12), (PartSpec(.flute, .melody, programs: [73]), 0.15)])

    static let ambient = Style(
        genre: .ambient, tempo: 60...90, beatsPerBar: [4], grooves: [], harmony: .ambient, barsPerChord: [2, 4],
        required: [[PartSpec(.synthPad, .chords(.pad))]],
        optional: [(PartSpec(.strings, .chords(.pad)), 0.3), (PartSpec(.choir, .chords(.pad)), 0.25), (PartSpec(.piano, .melody), 0.35),
                   (PartSpec(.flute, .melody, programs: [75, 73]), 0.15), (PartSpec(.synthLead, .chords(.arpeggio), programs: [81, 80]), 0.15),
                   (PartSpec(.synthPad, .chords(.pad)), 0.3)])

    static let folk = Style(
        genre: .folk, tempo: 80...140, beatsPerBar: [4, 4, 3], grooves: [.folkLight, .folkBrushes], drumProbability: 0.5, kits: [0, 8, 40],
        harmony: .folk, barsPerChord: [1, 2],
        required: [[PartSpec(.acousticGuitar, .chords(.strum), programs: [25]), PartSpec(.acousticGuitar, .chords(.fingerpick), programs: [25, 24])]],
        optional: [(PartSpec(.bass, .bass(.rootFifth), programs: [32, 33]), 0.5), (PartSpec(.flute, .melody), 0.3),
                   (PartSpec(.strings, .melody, programs: [48]), 0.25), (PartSpec(.acousticGuitar, .melody, programs: [25]), 0.2),
                   (PartSpec(.piano, .chords(.block)), 0.12)])

    static let reggae = Style(
        genre: .reggae, tempo: 66...92, beatsPerBar: [4], grooves: [.oneDrop, .oneDrop, .steppers, .rockers], kits: [0, 8], harmony: .reggae,
        barsPerChord: [1, 2],
        required: [[PartSpec(.bass, .bass(.reggae), programs: [33, 35, 38])],
                   [PartSpec(.electricGuitar, .chords(.skank), programs: [27, 28])]],
        optional: [(PartSpec(.organ, .chords(.organBubble), programs: [16, 17]), 0.55), (PartSpec(.piano, .chords(.skank)), 0.3),
                   (PartSpec(.brass, .melody, programs: [56, 61]), 0.25), (PartSpec(.flute, .melody), 0.08), (PartSpec(.synthLead, .melody), 0.08)])

    static let bossaNova = Style(
        genre: .latin, tempo: 110...145, beatsPerBar: [4], grooves: [.bossaNova, .bossaNovaRide], kits: [0, 8, 40], harmony: .latin,
        barsPerChord: [1, 2],
        required: [[PartSpec(.acousticGuitar, .chords(.bossa), programs: [24])],
                   [PartSpec(.bass, .bass(.rootFifth), programs: [32, 33])]],
        optional: [(PartSpec(.flute, .melody, programs: [73]), 0.35), (PartSpec(.piano, .melody), 0.2), (PartSpec(.strings, .chords(.pad)), 0.2),
                   (PartSpec(.brass, .melody, programs: [56, 57]), 0.12), (PartSpec(.piano, .chords(.jazzComp)), 0.15)])

    static let sonMontuno = Style(
        genre: .latin, tempo: 150...200, beatsPerBar: [4], grooves: [.sonMontuno, .sonMontuno23], kits: [0, 8], harmony: .latin,
        barsPerChord: [1, 2],
        required: [[PartSpec(.piano, .chords(.montuno))],
                   [PartSpec(.bass, .bass(.tumbao), programs: [32, 33])]],
        optional: [(PartSpec(.brass, .melody, programs: [56, 57, 61]), 0.6), (PartSpec(.acousticGuitar, .chords(.bossa), programs: [24]), 0.4),
                   (PartSpec(.flute, .melody, programs: [73]), 0.2)])
}

/// Genre pairs that blend: the usual fusions (latin jazz, jazz-blues, blues-rock, electro-pop…).
enum GenreBlend {
    static let pairs: [(Genre, Genre)] = [
        (.latin, .jazz), (.jazz, .blues), (.rock, .blues), (.pop, .electronic), (.electronic, .ambient),
        (.hipHop, .jazz), (.rock, .metal), (.folk, .rock), (.pop, .rock), (.classical, .ambient),
        (.reggae, .hipHop), (.latin, .pop), (.folk, .pop),
    ]
    /// Share of tracks carrying two genres.
    static let probability = 0.12
}
