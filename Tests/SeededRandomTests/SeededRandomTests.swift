import XCTest
@testable import SeededRandom

/// Both generators against published reference outputs, so the streams that trained models,
/// demo corpora and golden tests were made from cannot change unnoticed.
final class SeededRandomTests: XCTestCase {
    /// SplitMix64 seeded with 1234567: the reference outputs of Vigna's splitmix64.c (as listed
    /// by Rosetta Code's "Pseudo-random numbers/Splitmix64").
    func testSplitMix64MatchesTheReference() {
        var generator = SeededGenerator(seed: 1_234_567)
        XCTAssertEqual((0..<5).map { _ in generator.next() },
                       [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                        4_593_380_528_125_082_431, 16_408_922_859_458_223_821])
    }

    /// xoshiro256** from the state {1, 2, 3, 4}: the outputs of Blackman & Vigna's
    /// xoshiro256starstar.c (the reference test of the rand_xoshiro crate).
    func testXoshiro256StarStarMatchesTheReference() {
        var generator = Xoshiro256StarStar(state: (1, 2, 3, 4))
        XCTAssertEqual((0..<10).map { _ in generator.next() },
                       [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240, 1_216_172_134_540_287_360,
                        607_988_272_756_665_600, 16_172_922_978_634_559_625, 8_476_171_486_693_032_832,
                        10_595_114_339_597_558_777, 2_904_607_092_377_533_576])
    }

    /// The seed fills xoshiro's state with four SplitMix64 draws, as its authors recommend.
    func testXoshiroIsSeededBySplitMix64() {
        for seed: UInt64 in [0, 7, 1_234_567, .max] {
            var splitMix = SeededGenerator(seed: seed)
            let expected = Xoshiro256StarStar(state: (splitMix.next(), splitMix.next(), splitMix.next(), splitMix.next()))
            XCTAssertEqual(Xoshiro256StarStar(seed: seed), expected, "seed \(seed)")
        }
    }

    /// The per-track streams of the demo corpus: distinct for each track and each purpose,
    /// the same for the same triple, and made from SplitMix64 steps as documented.
    func testPerTrackStreamsAreIndependentAndReproducible() {
        func first(_ seed: UInt64, _ track: Int, _ stream: UInt64) -> [UInt64] {
            var generator = SeededGenerator(seed: seed, track: track, stream: stream)
            return (0..<4).map { _ in generator.next() }
        }
        XCTAssertEqual(first(3, 5, 1), first(3, 5, 1))
        let variants = [first(3, 5, 1), first(3, 5, 2), first(3, 6, 1), first(4, 5, 1)]
        XCTAssertEqual(Set(variants.map { $0[0] }).count, variants.count)

        var mixer = SeededGenerator(seed: 3 ^ 0x6A09_E667_F3BC_C908)
        var second = SeededGenerator(seed: mixer.next() ^ (5 &* 0x9E37_79B9_7F4A_7C15))
        var expected = SeededGenerator(seed: second.next() ^ (1 &* 0xBF58_476D_1CE4_E5B9))
        _ = expected.next()
        XCTAssertEqual((0..<4).map { _ in expected.next() }, first(3, 5, 1))
    }

    /// The unit draws take the top bits of one output.
    func testUnitDrawsUseTheTopBits() {
        var a = SeededGenerator(seed: 42), b = a
        let raw = b.next()
        XCTAssertEqual(a.nextUnitFloat(), Float(raw >> 40) / 16_777_216)
        var c = SeededGenerator(seed: 42)
        XCTAssertEqual(c.nextUnitDouble(), Double(raw >> 11) / 9_007_199_254_740_992)
        var d = SeededGenerator(seed: 42)
        XCTAssertEqual(d.uniform(bound: 3), (Float(raw >> 40) / 16_777_216 * 2 - 1) * 3)
        var e = SeededGenerator(seed: 9)
        for _ in 0..<10_000 {
            let u = e.nextUnitDouble(), f = e.nextUnitFloat()
            XCTAssertTrue((0..<1).contains(u) && (0..<1).contains(f))
        }
    }
}
