import Features

/// Multi-label stratified splitting by iterative stratification (Sechidis, Tsoumakas &
/// Vlahavas, "On the Stratification of Multi-Label Data", ECML PKDD 2011, algorithm 1).
///
/// Plain random splits leave rare tags out of validation or test entirely; this assigns
/// the examples of the rarest remaining label first, each to the subset that most
/// lacks that label, so every label is spread over the subsets in the requested
/// proportions as closely as whole examples allow. Split whole tracks, never chunks,
/// so no track leaks between train and test.
public enum IterativeStratification {
    /// - Parameters:
    ///   - labels: per example, the indices of its positive labels (may be empty).
    ///   - proportions: the subsets' shares, e.g. [0.8, 0.1, 0.1]; normalised here.
    ///   - seed: breaks ties; the same inputs and seed give the same split.
    /// - Returns: per example, the index of its subset.
    public static func split(labels: [[Int]], proportions: [Double], seed: UInt64) -> [Int] {
        let total = proportions.reduce(0, +)
        precondition(!proportions.isEmpty && total > 0 && proportions.allSatisfy { $0 >= 0 },
                     "proportions must be non-negative and not all zero")
        let share = proportions.map { $0 / total }
        let labelCount = (labels.lazy.flatMap { $0 }.max() ?? -1) + 1
        var rng = Xoshiro256StarStar(seed: seed)

        var perLabel = [[Int]](repeating: [], count: labelCount)
        for (example, ls) in labels.enumerated() { for l in Set(ls) { perLabel[l].append(example) } }
        var desiredOverall = share.map { $0 * Double(labels.count) }
        var desired = share.map { s in perLabel.map { s * Double($0.count) } }  // [subset][label]
        var assignment = [Int](repeating: -1, count: labels.count)
        var remaining = perLabel.map(\.count)

        func assign(_ example: Int, preferring label: Int?) {
            var best: [Int] = []
            var bestKey = (-Double.infinity, -Double.infinity)
            for s in share.indices {
                let key = (label.map { desired[s][$0] } ?? desiredOverall[s], desiredOverall[s])
                if key > bestKey { bestKey = key; best = [s] } else if key == bestKey { best.append(s) }
            }
            let subset = best.count == 1 ? best[0] : best[Int(rng.next() % UInt64(best.count))]
            assignment[example] = subset
            desiredOverall[subset] -= 1
            for l in Set(labels[example]) { desired[subset][l] -= 1; remaining[l] -= 1 }
        }

        while true {
            // The label with the fewest unassigned examples; ties by lowest index (deterministic).
            var rarest = -1
            for l in 0..<labelCount where remaining[l] > 0 && (rarest < 0 || remaining[l] < remaining[rarest]) { rarest = l }
            guard rarest >= 0 else { break }
            var examples = perLabel[rarest].filter { assignment[$0] < 0 }
            examples.shuffle(using: &rng)
            for example in examples { assign(example, preferring: rarest) }
        }
        for example in labels.indices where assignment[example] < 0 { assign(example, preferring: nil) }
        return assignment
    }
}
