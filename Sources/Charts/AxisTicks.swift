import Foundation

/// "Nice" axis ticks (1, 2, 5 × 10^k steps), after Heckbert, "Nice numbers for graph
/// labels", Graphics Gems (1990): the axis is widened to whole steps so the first and
/// last ticks sit on its ends.
struct AxisTicks: Equatable {
    let lower: Double
    let upper: Double
    let step: Double

    /// - Parameters:
    ///   - low, high: the data's extent (finite; swapped if reversed; a zero span is widened).
    ///   - targetCount: about how many ticks to aim for; default 6.
    init(low: Double, high: Double, targetCount: Int = 6) {
        var low = min(low, high), high = max(low, high)
        if high - low <= abs(high) * 1e-12 {
            // One value: centre it in a span of ±10% (or ±1 around zero).
            let pad = low == 0 ? 1 : abs(low) * 0.1
            low -= pad
            high += pad
        }
        let span = Self.nice(high - low, round: false)
        let step = Self.nice(span / Double(max(targetCount - 1, 1)), round: true)
        self.step = step
        lower = (low / step).rounded(.down) * step
        upper = (high / step).rounded(.up) * step
    }

    /// The tick values from `lower` to `upper`, computed from the step count so
    /// rounding does not accumulate.
    var values: [Double] {
        let count = Int(((upper - lower) / step).rounded()) + 1
        return (0..<count).map { lower + Double($0) * step }
    }

    /// A label with as many decimals as the step needs (step 0.05 → 2), no "-0".
    func label(_ value: Double) -> String {
        let magnitude = max(abs(lower), abs(upper))
        if magnitude >= 1e6 || (magnitude < 1e-3 && magnitude > 0) {
            return String(format: "%.3g", value)
        }
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        let text = String(format: "%.\(min(decimals, 6))f", abs(value) < step * 1e-9 ? 0 : value)
        return text
    }

    /// The nice number (1, 2, 5 or 10 × 10^k) nearest `x` (`round`) or at least `x`.
    static func nice(_ x: Double, round: Bool) -> Double {
        let exponent = log10(x).rounded(.down)
        let fraction = x / pow(10, exponent)
        let niceFraction: Double
        if round {
            niceFraction = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            niceFraction = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return niceFraction * pow(10, exponent)
    }
}
