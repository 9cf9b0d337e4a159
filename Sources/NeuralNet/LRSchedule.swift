import Foundation

/// How the learning rate moves from epoch to epoch (or step to step: the trainer chooses what
/// one `LRScheduler.step` means), with torch's formulas (`torch.optim.lr_scheduler`).
public enum LRSchedule: Codable, Sendable, Equatable {
    /// The base learning rate throughout.
    case constant
    /// `CosineAnnealingLR`: η_t = η_min + (η_base − η_min)·(1 + cos(π·t/T_max))/2
    /// (Loshchilov & Hutter, 2017, without restarts; past T_max it rises again, as torch's does).
    case cosine(tMax: Int, etaMin: Float = 0)
    /// `StepLR`: η_t = η_base·γ^⌊t/step_size⌋.
    case step(stepSize: Int, gamma: Float = 0.1)
    /// `ReduceLROnPlateau`: multiply by `factor` when the metric stops improving.
    case reduceOnPlateau(PlateauSettings)

    /// The learning rate after `t` steps of a schedule that does not watch a metric.
    func closedForm(base: Double, t: Int) -> Double {
        switch self {
        case .constant, .reduceOnPlateau:
            return base
        case .cosine(let tMax, let etaMin):
            guard tMax > 0 else { return base }
            let low = Double(etaMin)
            return low + (base - low) * (1 + cos(Double.pi * Double(t) / Double(tMax))) / 2
        case .step(let stepSize, let gamma):
            guard stepSize > 0 else { return base }
            return base * pow(Double(gamma), Double(t / stepSize))
        }
    }
}

/// Settings of `ReduceLROnPlateau`, with torch's defaults: mode min, factor 0.1, patience 10,
/// threshold 1e-4 relative, cooldown 0, min_lr 0, eps 1e-8.
public struct PlateauSettings: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable { case min, max }
    public enum ThresholdMode: String, Codable, Sendable { case rel, abs }

    public var mode: Mode
    public var factor: Float
    public var patience: Int
    public var threshold: Float
    public var thresholdMode: ThresholdMode
    public var cooldown: Int
    public var minLR: Float
    /// Reductions smaller than this are skipped.
    public var eps: Float

    public init(mode: Mode = .min, factor: Float = 0.1, patience: Int = 10, threshold: Float = 1e-4,
                thresholdMode: ThresholdMode = .rel, cooldown: Int = 0, minLR: Float = 0, eps: Float = 1e-8) {
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minLR = minLR
        self.eps = eps
    }

    /// torch's `is_better`: rel min a < best·(1 − th), rel max a > best·(1 + th),
    /// abs min a < best − th, abs max a > best + th.
    func isBetter(_ value: Double, than best: Double) -> Bool {
        let th = Double(threshold)
        switch (mode, thresholdMode) {
        case (.min, .rel): return value < best * (1 - th)
        case (.max, .rel): return value > best * (1 + th)
        case (.min, .abs): return value < best - th
        case (.max, .abs): return value > best + th
        }
    }
}
