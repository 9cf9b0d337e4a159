import Features
import XCTest
@testable import Tagger

final class StratificationTests: XCTestCase {
    /// A corpus with a common, a medium and a rare label, and some two-label examples.
    func makeLabels(count: Int, seed: UInt64) -> [[Int]] {
        var rng = Xoshiro256StarStar(seed: seed)
        return (0..<count).map { _ in
            var ls: [Int] = []
            if rng.next() % 100 < 60 { ls.append(0) }
            if rng.next() % 100 < 25 { ls.append(1) }
            if rng.next() % 100 < 4 { ls.append(2) }
            return ls
        }
    }

    func testEveryLabelIsSpreadInProportion() {
        let labels = makeLabels(count: 1000, seed: 7)
        let split = IterativeStratification.split(labels: labels, proportions: [0.8, 0.1, 0.1], seed: 1)
        XCTAssertEqual(split.count, labels.count)
        XCTAssertTrue(split.allSatisfy { (0..<3).contains($0) })
        for label in 0..<3 {
            let members = labels.indices.filter { labels[$0].contains(label) }
            for (subset, share) in [0.8, 0.1, 0.1].enumerated() {
                let got = Double(members.filter { split[$0] == subset }.count)
                // Within one example (plus rounding) of the exact share.
                XCTAssertEqual(got, share * Double(members.count), accuracy: 1.5, "label \(label) subset \(subset)")
            }
        }
        let sizes = (0..<3).map { s in split.filter { $0 == s }.count }
        XCTAssertEqual(Double(sizes[0]), 800, accuracy: 5)
    }

    func testRareLabelReachesEverySubsetAndSplitIsDeterministic() {
        var labels = [[Int]](repeating: [0], count: 190)
        labels += [[Int]](repeating: [0, 1], count: 4) + [[Int]](repeating: [1], count: 6)  // label 1: ten examples
        let split = IterativeStratification.split(labels: labels, proportions: [0.8, 0.1, 0.1], seed: 3)
        let rare = labels.indices.filter { labels[$0].contains(1) }.map { split[$0] }
        XCTAssertEqual(rare.filter { $0 == 0 }.count, 8)
        XCTAssertEqual(rare.filter { $0 == 1 }.count, 1)
        XCTAssertEqual(rare.filter { $0 == 2 }.count, 1)
        XCTAssertEqual(split, IterativeStratification.split(labels: labels, proportions: [0.8, 0.1, 0.1], seed: 3))
    }

    func testUnlabelledExamplesAreAssignedToo() {
        let split = IterativeStratification.split(labels: [[], [], [0], []], proportions: [0.5, 0.5], seed: 0)
        XCTAssertTrue(split.allSatisfy { $0 == 0 || $0 == 1 })
        XCTAssertEqual(split.filter { $0 == 0 }.count, 2)
    }
}
