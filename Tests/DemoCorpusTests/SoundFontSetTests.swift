import XCTest
@testable import DemoCorpus

/// The soundfonts scripts/setup installs (the training set and the held-out TimGM6mb).
enum TestFonts {
    static let fluidGM = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
    static let fluidGS = "/usr/share/sounds/sf2/FluidR3_GS.sf2"
    static let csound = "/usr/share/sounds/sf2/sf_GMbank.sf2"
    static let opl3 = "/usr/share/sounds/sf2/OPL-3_FM_128M.sf2"
    static let timGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"
}

/// Which soundfonts a run uses, and which font plays each part of each track.
final class SoundFontSetTests: XCTestCase {
    private var cleanup: [String] = []

    override func tearDown() {
        for path in cleanup { try? FileManager.default.removeItem(atPath: path) }
        cleanup = []
    }

    private func temporaryPath(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fonts-\(UUID().uuidString)-\(name)").path
        cleanup.append(path)
        return path
    }

    private func error(_ body: () throws -> Void) -> DemoCorpusError? {
        do { try body(); return nil } catch { return error as? DemoCorpusError ?? .synthesizer("not a DemoCorpusError: \(error)") }
    }

    func testTheDefaultSetIsTheInstalledTrainingFontsAndNeverAHeldOutOne() throws {
        let heldOut = ["TimGM6mb", "MuseScore_General"]
        for path in SoundFontSet.defaultTrainingPaths {
            XCTAssertFalse(heldOut.contains { (path as NSString).lastPathComponent.hasPrefix($0) }, path)
            XCTAssertFalse(SoundFontSet.isSymbolicLink(path), "\(path): the training set names files, not links")
        }
        let link = temporaryPath("default-GM.sf2")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: TestFonts.timGM)
        let linked = try SoundFontSet.resolve(given: [], environment: [:], defaults: [link, TestFonts.csound])
        XCTAssertEqual(linked.fonts.map(\.path), [TestFonts.csound], "a default that is a link (here to a held-out font) is skipped")
        XCTAssertEqual(linked.skipped.map(\.path), [link])

        let set = try SoundFontSet.resolve(given: [], environment: [:])
        XCTAssertGreaterThanOrEqual(set.fonts.count, 3, "scripts/setup installs the training fonts: \(set.fonts.map(\.path)), skipped \(set.skipped)")
        XCTAssertTrue(set.fonts.allSatisfy { SoundFontSet.defaultTrainingPaths.contains($0.path) })
        XCTAssertEqual(set.fonts.first?.path, TestFonts.fluidGM)
        // FluidR3_GS holds only GS sound-effect banks: listed, but skipped with the reason.
        if FileManager.default.fileExists(atPath: TestFonts.fluidGS) {
            XCTAssertEqual(set.skipped.first { $0.path == TestFonts.fluidGS }?.reason, "holds none of the corpus's General MIDI presets")
        }
        // A missing default is skipped, not an error.
        let filtered = try SoundFontSet.resolve(given: [], environment: [:],
                                                defaults: ["/nonexistent/Default.sf2", TestFonts.csound])
        XCTAssertEqual(filtered.fonts.map(\.path), [TestFonts.csound])
        XCTAssertEqual(filtered.skipped.map(\.path), ["/nonexistent/Default.sf2"])
        XCTAssertEqual(error { _ = try SoundFontSet.resolve(given: [], environment: [:], defaults: ["/nonexistent/A.sf2"]) },
                       .soundFontMissing(path: "/nonexistent/A.sf2"))
    }

    func testExplicitListsCommasTheEnvironmentAndTheHeldOutFontOnRequest() throws {
        XCTAssertEqual(try SoundFontSet.resolve(given: [TestFonts.timGM], environment: [:]).fonts.map(\.path), [TestFonts.timGM])
        XCTAssertEqual(try SoundFontSet.resolve(given: ["\(TestFonts.fluidGM), \(TestFonts.csound)", TestFonts.opl3], environment: [:]).fonts.map(\.path),
                       [TestFonts.fluidGM, TestFonts.csound, TestFonts.opl3])
        let environment = ["TIMBRE_SOUNDFONT": "\(TestFonts.csound),\(TestFonts.timGM)"]
        XCTAssertEqual(try SoundFontSet.resolve(given: [], environment: environment).fonts.map(\.path), [TestFonts.csound, TestFonts.timGM])
        XCTAssertEqual(try SoundFontSet.resolve(given: [TestFonts.fluidGM], environment: environment).fonts.map(\.path), [TestFonts.fluidGM])
        // The single-path option of before still works.
        var options = DemoCorpusOptions(outputDirectory: "/tmp/unused", trackCount: 1, soundFontPath: TestFonts.csound)
        XCTAssertEqual(options.soundFontPaths, [TestFonts.csound])
        XCTAssertEqual(options.resolvedSoundFontPath, TestFonts.csound)
        options.soundFontPath = nil
        XCTAssertEqual(options.soundFontPaths, [])
    }

    func testAMissingOrBrokenFontInAListIsReportedBeforeAnythingIsWritten() throws {
        let missing = temporaryPath("missing.sf2")
        XCTAssertEqual(error { _ = try SoundFontSet.resolve(given: [TestFonts.csound, missing], environment: [:]) },
                       .soundFontMissing(path: missing))
        let broken = temporaryPath("broken.sf2")
        try Data("not a soundfont at all".utf8).write(to: URL(fileURLWithPath: broken))
        XCTAssertEqual(error { _ = try SoundFontSet.resolve(given: [TestFonts.csound, broken], environment: [:]) },
                       .soundFontUnreadable(path: broken))
        // A RIFF header with no preset chunk (a truncated download) is broken too.
        let truncated = temporaryPath("truncated.sf2")
        let head = try XCTUnwrap(FileHandle(forReadingAtPath: TestFonts.csound)).readData(ofLength: 4096)
        try head.write(to: URL(fileURLWithPath: truncated))
        XCTAssertEqual(error { _ = try SoundFontSet.resolve(given: [truncated], environment: [:]) }, .soundFontUnreadable(path: truncated))
        // A font with none of the corpus's presets, alone, is an error that says what to give.
        guard case .invalidOptions(let reason)? = error({ _ = try SoundFontSet.resolve(given: [TestFonts.fluidGS], environment: [:]) }) else {
            return XCTFail("an SFX-only font accepted")
        }
        XCTAssertTrue(reason.contains("General MIDI"), reason)

        for font in [missing, broken] {
            let directory = temporaryPath("corpus")
            let options = DemoCorpusOptions(outputDirectory: directory, trackCount: 2, durationRange: 1...1,
                                            soundFontPaths: [TestFonts.csound, font])
            XCTAssertNotNil(error { _ = try DemoCorpus.generate(options) })
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "nothing is created when a font is bad")
        }
    }

    func testPresetTablesAreReadFromTheFiles() throws {
        let gm = try SoundFontPresets.read(TestFonts.fluidGM)
        XCTAssertEqual(gm.filter { $0 >> 8 == 0 }.count, 128, "FluidR3_GM has all 128 General MIDI programs")
        XCTAssertTrue(gm.contains(128 << 8 | 0) && gm.contains(128 << 8 | 40))
        let opl3 = try SoundFontPresets.read(TestFonts.opl3)
        XCTAssertTrue(opl3.contains(128 << 8 | 0))
        XCTAssertFalse(opl3.contains(128 << 8 | 8), "OPL-3 has only the standard kit")
        let gs = try SoundFontPresets.read(TestFonts.fluidGS)
        XCTAssertFalse(gs.isEmpty)
        XCTAssertTrue(gs.allSatisfy { $0 >> 8 != 0 }, "FluidR3_GS holds no bank-0 presets")
    }

    func testFontsAreChosenPerTrackAndPerPartDeterministicallyAndEveryPartCanBePlayed() throws {
        let set = try SoundFontSet.resolve(given: [TestFonts.fluidGM, TestFonts.csound, TestFonts.opl3], environment: [:])
        let options = DemoCorpusOptions(outputDirectory: "/tmp/unused", trackCount: 60, seed: 12)
        let plans = try TrackPlan.plans(for: options, fonts: set.fonts)
        let again = try TrackPlan.plans(for: options, fonts: set.fonts)
        XCTAssertEqual(plans.map(\.soundFonts), again.map(\.soundFonts))
        XCTAssertEqual(plans.map(\.composition), again.map(\.composition))

        var used = Set<String>()
        for plan in plans {
            used.formUnion(plan.soundFonts)
            XCTAssertTrue((1...3).contains(plan.soundFonts.count))
            for part in plan.composition.parts {
                let font = try XCTUnwrap(set.fonts.first { $0.path == plan.soundFonts[part.soundFont] })
                XCTAssertTrue(font.has(bank: part.bank, program: part.program), "\(font.name) cannot play \(part.instrument) \(part.bank):\(part.program)")
                XCTAssertTrue(part.instrument.programs.contains(part.program))
            }
        }
        XCTAssertEqual(used, Set(set.fonts.map(\.path)), "every font plays some track")
        let mixed = plans.filter { Set($0.composition.parts.map(\.soundFont)).count > 1 }
        XCTAssertGreaterThan(mixed.count, 10, "tracks that mix fonts across their parts")
        XCTAssertLessThan(mixed.count, 50)
        // The music and the tags do not depend on the fonts.
        let bare = try TrackPlan.plans(for: options)
        XCTAssertEqual(plans.map(\.tags), bare.map(\.tags))
        XCTAssertEqual(plans.map { $0.composition.parts.map(\.notes) }, bare.map { $0.composition.parts.map(\.notes) })
        XCTAssertTrue(bare.allSatisfy { $0.soundFonts.isEmpty && $0.composition.parts.allSatisfy { $0.soundFont == 0 } })
    }

    func testAPartMovesToAFontThatHasItsPresetOrToAnotherProgramOfItsInstrument() throws {
        let opl3 = SoundFontInfo(path: TestFonts.opl3, presets: try SoundFontPresets.read(TestFonts.opl3))
        let gm = SoundFontInfo(path: TestFonts.fluidGM, presets: try SoundFontPresets.read(TestFonts.fluidGM))
        let track = try XCTUnwrap((0..<200).first { index in
            Composer.compose(seed: 6, track: index, durationRange: 5...5).parts.contains { $0.bank == 128 && $0.program != 0 }
        })
        let composition = Composer.compose(seed: 6, track: track, durationRange: 5...5)
        // OPL-3 alone: the kit becomes its standard kit, still drums.
        let alone = try FontAssignment.assign(composition, fonts: [opl3], seed: 6, track: track).composition
        let kit = try XCTUnwrap(alone.parts.first { $0.bank == 128 })
        XCTAssertEqual(kit.program, 0)
        XCTAssertEqual(kit.instrument, .drums)
        XCTAssertEqual(alone.labels, composition.labels)
        // With FluidR3_GM beside it, the drums keep their kit and play through FluidR3_GM.
        let (both, fonts) = try FontAssignment.assign(composition, fonts: [opl3, gm], seed: 6, track: track)
        let drums = try XCTUnwrap(both.parts.first { $0.bank == 128 })
        XCTAssertEqual(drums.program, composition.parts.first { $0.bank == 128 }?.program)
        XCTAssertEqual(fonts[drums.soundFont], 1)
    }

    func testEachPartSoundsThroughItsOwnFont() throws {
        let composition = Composer.compose(seed: 8, track: 0, durationRange: 2...2)
        var solo = composition
        solo.parts = [composition.parts[0]]
        solo.parts[0].soundFont = 1
        let mixedSynth = try SoundFontSynth(soundFontPaths: [TestFonts.fluidGM, TestFonts.csound], sampleRate: 22050)
        let throughSecond = mixedSynth.render(solo)
        solo.parts[0].soundFont = 0
        let throughCsound = try SoundFontSynth(soundFontPaths: [TestFonts.csound], sampleRate: 22050).render(solo)
        let throughGM = try SoundFontSynth(soundFontPaths: [TestFonts.fluidGM], sampleRate: 22050).render(solo)
        XCTAssertTrue(throughSecond == throughCsound, "a part on font 1 plays the second font loaded")
        XCTAssertFalse(throughSecond == throughGM)
        XCTAssertGreaterThan(throughGM.map { abs($0) }.max() ?? 0, 0.001)
    }

    func testACorpusRecordsTheFontsOfEveryTrackAndPartInProductionCSV() throws {
        let fonts = [TestFonts.fluidGM, TestFonts.csound]
        let set = try SoundFontSet.resolve(given: fonts, environment: [:])
        // A seed whose few tracks use both fonts, one of them within a single track.
        let seed = try XCTUnwrap((UInt64(0)..<100).first { seed in
            let plans = (try? TrackPlan.plans(for: DemoCorpusOptions(outputDirectory: "", trackCount: 4, seed: seed), fonts: set.fonts)) ?? []
            return plans.contains { $0.soundFonts.count == 2 } && Set(plans.flatMap(\.soundFonts)).count == 2
        })
        let directory = temporaryPath("corpus")
        let options = DemoCorpusOptions(outputDirectory: directory, trackCount: 4, seed: seed, durationRange: 2...3,
                                        soundFontPaths: fonts, threads: 2)
        let summary = try DemoCorpus.generate(options)
        XCTAssertEqual(summary.soundFontCounts.map(\.path), fonts)
        XCTAssertTrue(summary.soundFontCounts.allSatisfy { $0.tracks > 0 })

        let labels = try LabelsFile.parse(try String(contentsOfFile: directory + "/labels.csv", encoding: .utf8), path: "labels.csv")
        let text = try String(contentsOfFile: summary.productionPath, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("path,soundfonts,parts,production\n"))
        let rows = try ProductionFile.parse(text, path: "production.csv")
        XCTAssertEqual(rows.map(\.path), labels.map(\.path))
        let names = Set(fonts.map { ($0 as NSString).lastPathComponent })
        let plans = try TrackPlan.plans(for: options, fonts: set.fonts)
        for row in rows {
            let plan = try XCTUnwrap(plans.first { $0.relativePath == row.path })
            XCTAssertEqual(row, plan.productionRow)
            XCTAssertTrue(Set(row.soundFonts).isSubset(of: names))
            XCTAssertEqual(row.parts.count, plan.composition.parts.count)
            XCTAssertEqual(Set(row.parts.map { String($0.split(separator: "=")[1]) }), Set(row.soundFonts))
            // labels.csv says what is in the score, whatever the fonts.
            XCTAssertEqual(labels.first { $0.path == row.path }?.tags, plan.tags)
        }
        XCTAssertTrue(rows.contains { $0.soundFonts.count == 2 }, "a track mixing fonts")
        // labels.csv is still the plain two-column file the trainer reads.
        XCTAssertTrue(try String(contentsOfFile: directory + "/labels.csv", encoding: .utf8).hasPrefix("path,tags\n"))

        // Asking again with other fonts renders again every track that would sound different
        // (a corpus never mixes two font sets unknowingly); one made only of the font kept stays.
        var other = options
        other.soundFontPaths = [TestFonts.csound]
        let second = try DemoCorpus.generate(other)
        let changed = plans.filter { $0.soundFonts != [TestFonts.csound] }.count
        XCTAssertGreaterThan(changed, 0)
        XCTAssertEqual(second.rendered, changed)
        XCTAssertEqual(second.skipped, 4 - changed)
        XCTAssertTrue(try ProductionFile.read(summary.productionPath).allSatisfy { $0.soundFonts == ["sf_GMbank.sf2"] })
    }

    func testTheDefaultSetRendersATinyCorpus() throws {
        let directory = temporaryPath("corpus")
        let summary = try DemoCorpus.generate(DemoCorpusOptions(outputDirectory: directory, trackCount: 3, seed: 2,
                                                                durationRange: 1...1.5, threads: 2))
        XCTAssertEqual(summary.rendered, 3)
        let rows = try ProductionFile.read(summary.productionPath)
        XCTAssertEqual(rows.count, 3)
        for row in rows {
            XCTAssertFalse(row.soundFonts.isEmpty)
            let training = Set(SoundFontSet.defaultTrainingPaths.map { ($0 as NSString).lastPathComponent })
            XCTAssertTrue(Set(row.soundFonts).isSubset(of: training), "\(row.soundFonts)")
        }
    }
}

/// A tag promises the instrument is heard, whichever training font plays it.
final class FontAudibilityTests: XCTestCase {
    private func rms(_ samples: [Float]) -> Double {
        (samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(samples.count, 1))).squareRoot()
    }

    func testEveryTaggedInstrumentIsAudibleInEveryTrainingFont() throws {
        let set = try SoundFontSet.resolve(given: [], environment: [:])
        for font in set.fonts where font.path != TestFonts.fluidGM {  // FluidR3_GM: RenderingTests
            let synth = try SoundFontSynth(soundFontPaths: [font.path], sampleRate: 22050)
            for track in 0..<3 {
                let plain = Composer.compose(seed: 31, track: track, durationRange: 3...3)
                let composition = try FontAssignment.assign(plain, fonts: [font], seed: 31, track: track).composition
                let mix = 20 * log10(max(rms(synth.render(composition)), 1e-12))
                for instrument in composition.labels.instruments {
                    var solo = composition
                    solo.parts = composition.parts.filter { $0.instrument == instrument }
                    let level = 20 * log10(max(rms(synth.render(solo)), 1e-12)) - mix
                    XCTAssertGreaterThan(level, -24, "\(instrument) is \(level) dB below the mix of \(composition.labels.tags) in \(font.name)")
                }
            }
        }
    }
}
