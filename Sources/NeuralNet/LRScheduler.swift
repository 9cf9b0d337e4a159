/// The learning rate over training: an optional linear warm-up, then an `LRSchedule`.
///
/// Warm-up (torch's `LinearLR` followed by the schedule in `SequentialLR`): for t < W,
/// η_t = η_base·(s + (1 − s)·t/W) with s = `warmupStartFactor`; from t = W on, the schedule
/// runs with its own clock at t − W, starting from η_base. For `reduceOnPlateau`, metrics
/// reported during warm-up are ignored (torch cannot chain a plateau scheduler; this is ours).
///
/// Call `step(metric:)` once per epoch (or step), after the optimizer's updates, and read
/// `learningRate`. The value is Codable, so its state goes into a checkpoint for `--resume`.
public struct LRScheduler: Codable, Sendable, Equatable {
    public let baseLR: Float
    public let schedule: LRSchedule
    public let warmupSteps: Int
    public let warmupStartFactor: Float
    /// How many times `step` was called.
    public private(set) var epoch = 0
    private var current: Double
    // ReduceLROnPlateau state, as torch names it.
    private var best: Double?
    private var numBadEpochs = 0
    private var cooldownCounter = 0

    public init(baseLR: Float, schedule: LRSchedule = .constant, warmupSteps: Int = 0, warmupStartFactor: Float = 0.1) {
        self.baseLR = baseLR
        self.schedule = schedule
        self.warmupSteps = max(0, warmupSteps)
        self.warmupStartFactor = warmupStartFactor
        current = Double(baseLR)
        current = rate(at: 0)
    }

    /// The learning rate for the current epoch.
    public var learningRate: Float { Float(current) }

    /// Moves to the next epoch. `metric` (validation loss for mode min, a score for mode max)
    /// drives `reduceOnPlateau` and is ignored by the other schedules; a plateau schedule
    /// given no metric leaves its state unchanged, and a NaN or infinite one is a bad epoch.
    public mutating func step(metric: Double? = nil) {
        let finished = epoch
        epoch += 1
        if case .reduceOnPlateau(let settings) = schedule, finished >= warmupSteps, let metric {
            observe(metric, settings)
        }
        current = rate(at: epoch)
    }

    private func rate(at t: Int) -> Double {
        let base = Double(baseLR)
        if t < warmupSteps {
            let s = Double(warmupStartFactor)
            return base * (s + (1 - s) * Double(t) / Double(warmupSteps))
        }
        if case .reduceOnPlateau = schedule { return t == warmupSteps ? base : current }
        return schedule.closedForm(base: base, t: t - warmupSteps)
    }

    /// torch's `ReduceLROnPlateau.step`.
    private mutating func observe(_ metric: Double, _ settings: PlateauSettings) {
        let reference = best ?? (settings.mode == .min ? .infinity : -.infinity)  // torch's initial best
        // A non-finite metric (a diverged epoch) never counts as an improvement; torch would take
        // −inf as a new best, which would also make the state impossible to save as JSON.
        if metric.isFinite && settings.isBetter(metric, than: reference) {
            best = metric
            numBadEpochs = 0
        } else {
            numBadEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            numBadEpochs = 0
        }
        if numBadEpochs > settings.patience {
            let reduced = max(current * Double(settings.factor), Double(settings.minLR))
            if current - reduced > Double(settings.eps) { current = reduced }
            cooldownCounter = settings.cooldown
            numBadEpochs = 0
        }
    }
}
