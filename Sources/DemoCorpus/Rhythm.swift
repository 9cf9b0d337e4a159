/// Drum grooves as step grids, one lane per General MIDI drum key (channel 10), the way
/// drummers write them: `x` accent, `o` normal, `.` ghost note, `-` rest.

/// General MIDI percussion keys (GM 1 Level 1 percussion map).
enum DrumKey {
    static let kick = 36, sideStick = 37, snare = 38, clap = 39, closedHat = 42, pedalHat = 44
    static let openHat = 46, crash = 49, ride = 51, tambourine = 54, cowbell = 56
    static let lowTom = 45, midTom = 47, highTom = 50, muteConga = 62, openConga = 63, lowConga = 64
    static let maracas = 70, claves = 75
}

/// A repeating drum pattern of one bar (or two, for clave patterns).
struct Groove: Sendable {
    /// Grid resolution: 4 for sixteenths, 3 for triplet eighths (shuffle and swing).
    var stepsPerBeat: Int
    var beatsPerBar: Int
    var lanes: [(key: Int, grid: String)]

    var stepCount: Int { lanes.map(\.grid.count).max() ?? 0 }

    /// The hits of the groove: step index, key and a velocity level from the grid symbol.
    var hits: [(step: Int, key: Int, velocity: Int)] {
        var result: [(Int, Int, Int)] = []
        for lane in lanes {
            for (step, symbol) in lane.grid.enumerated() {
                switch symbol {
                case "x": result.append((step, lane.key, 112))
                case "o": result.append((step, lane.key, 88))
                case ".": result.append((step, lane.key, 52))
                default: break
                }
            }
        }
        return result
    }
}

/// The grooves of the styles, named after what they are in the studio.
enum GrooveName: CaseIterable, Sendable {
    case rockBackbeat, rockDriving, popBackbeat, halfTime, fourOnTheFloor, boomBap
    case jazzSwing, bluesShuffle, oneDrop, steppers, bossaNova, sonMontuno
    case metalDoubleKick, metalGallop, folkLight, waltz
    // Second and third patterns of the styles, so that no genre is one drum loop.
    case rockOpenHat, metalThrash, popSixteenths, houseShaker, technoRide, boomBapLaidBack, hipHopRim
    case jazzBrushes, jazzTwoFeel, bluesShuffleRide, rockers, bossaNovaRide, sonMontuno23, folkBrushes, waltzBrushes

    var groove: Groove {
        typealias K = DrumKey
        switch self {
        case .rockBackbeat:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-------x-x-----"), (K.snare, "----x-------x---"), (K.closedHat, "x-o-x-o-x-o-x-o-")])
        case .rockDriving:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-----x-x-----x-"), (K.snare, "----x-------x---"), (K.ride, "x-o-x-o-x-o-x-o-")])
        case .popBackbeat:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-----x---x-----"), (K.snare, "----x-------x---"), (K.clap, "----o-------o---"),
                (K.closedHat, "xoxoxoxoxoxoxoxo")])
        case .halfTime:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-------------x-"), (K.snare, "--------x-------"), (K.closedHat, "x-o-x-o-x-o-x-o-")])
        case .fourOnTheFloor:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x---x---x---x---"), (K.clap, "----x-------x---"), (K.openHat, "--o---o---o---o-"),
                (K.closedHat, ".-.-.-.-.-.-.-.-")])
        case .boomBap:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x------x--x-----"), (K.snare, "----x-------x---"), (K.closedHat, "o-o-o-o-o-o-o-o-")])
        case .jazzSwing:
            // Triplet grid: ride "ding, ding-da ding, ding-da", hi-hat foot on 2 and 4, feathered kick.
            return Groove(stepsPerBeat: 3, beatsPerBar: 4, lanes: [
                (K.ride, "o--x-.o--x-."), (K.pedalHat, "---o-----o--"), (K.kick, ".--.--.--.--"), (K.snare, "-----.-----.")])
        case .bluesShuffle:
            return Groove(stepsPerBeat: 3, beatsPerBar: 4, lanes: [
                (K.closedHat, "x-ox-ox-ox-o"), (K.snare, "---x-----x--"), (K.kick, "x-----x----.")])
        case .oneDrop:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "--------x-------"), (K.sideStick, "--------x-------"), (K.closedHat, "o-.-o-.-o-.-o-.o")])
        case .steppers:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x---x---x---x---"), (K.sideStick, "--------x-------"), (K.closedHat, "--o---o---o---o-")])
        case .bossaNova:
            // Bossa clave on the rim over a surdo-like kick and soft eighths.
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x--ox--ox--ox--o"), (K.sideStick, "x--x--x---x--x--"), (K.closedHat, "o.o.o.o.o.o.o.o."),
                (K.maracas, ".-.-.-.-.-.-.-.-")])
        case .sonMontuno:
            // 3-2 son clave, cowbell on the beat, conga tumbao with slaps on the "and" of 4.
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.claves, "x--x--x---x-x---"), (K.cowbell, "x---o---x---o---"), (K.muteConga, "..-...-...-...-."),
                (K.openConga, "------xo------xo"), (K.lowConga, "---o-------o----"), (K.kick, "---o-------o----")])
        case .metalDoubleKick:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "xoxoxoxoxoxoxoxo"), (K.snare, "----x-------x---"), (K.crash, "o---o---o---o---")])
        case .metalGallop:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-oox-oox-oox-oo"), (K.snare, "----x-------x---"), (K.ride, "x-o-x-o-x-o-x-o-")])
        case .folkLight:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "o-------o-------"), (K.sideStick, "----o-------o---"), (K.tambourine, "--.---.---.---.-"),
                (K.maracas, "o-.-o-.-o-.-o-.-")])
        case .waltz:
            return Groove(stepsPerBeat: 4, beatsPerBar: 3, lanes: [
                (K.kick, "o-----------"), (K.sideStick, "----o---o---"), (K.closedHat, "o---.---.---")])
        case .rockOpenHat:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-----x-x-------"), (K.snare, "----x-------x---"), (K.closedHat, "x---x---x---x---"),
                (K.openHat, "--o---o---o---o-")])
        case .metalThrash:
            // The thrash "skank" beat: kick on the beats, snare on every off-beat eighth.
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x---x---x---x---"), (K.snare, "--x---x---x---x-"), (K.crash, "x-------x-------")])
        case .popSixteenths:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x---------x-x---"), (K.snare, "----x-------x---"), (K.closedHat, "xo.oxo.oxo.oxo.o"),
                (K.tambourine, "----o-------o---")])
        case .houseShaker:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x---x---x---x---"), (K.snare, "----o-------o---"), (K.openHat, "--o---o---o---o-"),
                (K.maracas, "o.o.o.o.o.o.o.o.")])
        case .technoRide:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x---x---x---x---"), (K.clap, "----o-------o---"), (K.ride, "--x---x---x---x-"),
                (K.closedHat, "o-.-o-.-o-.-o-.-")])
        case .boomBapLaidBack:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x--x------x-----"), (K.snare, "----x-------x--."), (K.closedHat, "o-o-o-o-o-o-o---"),
                (K.openHat, "--------------o-")])
        case .hipHopRim:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-------x-x-----"), (K.sideStick, "----x-------x---"), (K.clap, "----o-------o---"),
                (K.closedHat, "xoxoxoxoxoxoxoxo")])
        case .jazzBrushes:
            // Brushes: soft snare pats on the triplets, hi-hat foot on 2 and 4, kick on 1 and 3.
            return Groove(stepsPerBeat: 3, beatsPerBar: 4, lanes: [
                (K.snare, "o.-o.-o.-o.-"), (K.pedalHat, "---o-----o--"), (K.kick, ".-----.-----")])
        case .jazzTwoFeel:
            return Groove(stepsPerBeat: 3, beatsPerBar: 4, lanes: [
                (K.ride, "o--x-.o--x-."), (K.pedalHat, "---o-----o--"), (K.kick, "o-----o-----")])
        case .bluesShuffleRide:
            return Groove(stepsPerBeat: 3, beatsPerBar: 4, lanes: [
                (K.ride, "x-ox-ox-ox-o"), (K.snare, "---x-----x--"), (K.kick, "x--.--x--.--")])
        case .rockers:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x-------x-------"), (K.sideStick, "--------x-------"), (K.closedHat, "o-x-o-x-o-x-o-x-")])
        case .bossaNovaRide:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "x--ox--ox--ox--o"), (K.sideStick, "x--x--x---x--x--"), (K.ride, "o-o-o-o-o-o-o-o-"),
                (K.maracas, "o.o.o.o.o.o.o.o.")])
        case .sonMontuno23:
            // 2-3 son clave (the 3-2 with its bars swapped), cowbell, congas.
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.claves, "--x-x---x--x--x-"), (K.cowbell, "x---o---x---o---"), (K.muteConga, "..-...-...-...-."),
                (K.openConga, "------xo------xo"), (K.kick, "---o-------o----")])
        case .folkBrushes:
            return Groove(stepsPerBeat: 4, beatsPerBar: 4, lanes: [
                (K.kick, "o-------o-------"), (K.snare, "----.-------.---"), (K.closedHat, "o-.-o-.-o-.-o-.-")])
        case .waltzBrushes:
            return Groove(stepsPerBeat: 4, beatsPerBar: 3, lanes: [
                (K.kick, "o-----------"), (K.snare, "----.---.---"), (K.ride, "o---o---o---")])
        }
    }

    /// Swing of the off-beat sixteenths as a fraction of a step (boom-bap and reggae lay back).
    var sixteenthSwing: ClosedRange<Double> {
        switch self {
        case .boomBap, .boomBapLaidBack, .hipHopRim: return 0.15...0.35
        case .oneDrop, .steppers, .rockers: return 0.0...0.3
        default: return 0...0
        }
    }
}

/// A one-beat tom fill into the next section: sixteenths down the toms.
enum DrumFill {
    static func lastBeat(stepsPerBeat: Int) -> [(offset: Double, key: Int)] {
        let toms = [DrumKey.highTom, DrumKey.midTom, DrumKey.lowTom, DrumKey.lowTom]
        let count = stepsPerBeat
        return (0..<count).map { (Double($0) / Double(count), toms[min($0, toms.count - 1)]) }
    }
}
