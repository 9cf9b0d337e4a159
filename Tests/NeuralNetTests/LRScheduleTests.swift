import Foundation
import XCTest
@testable import NeuralNet

/// Learning-rate sequences against torch.optim.lr_scheduler (schedules.safetensors).
final class LRScheduleTests: XCTestCase {
    struct Setting: Decodable {
        var base_lr: Float
        var t_max: Int?, eta_min: Float?
        var step_size: Int?, gamma: Float?
        var mode: String?, factor: Float?, patience: Int?, threshold: Float?, cooldown: Int?, min_lr: Float?
        var warmup_steps: Int?, warmup_start_factor: Float?
    }

    func makeScheduler(_ s: Setting) throws -> LRScheduler {
        let schedule: LRSchedule
        if let tMax = s.t_max {
            schedule = .cosine(tMax: tMax, etaMin: s.eta_min ?? 0)
        } else if let stepSize = s.step_size {
            schedule = .step(stepSize: stepSize, gamma: s.gamma ?? 0.1)
        } else {
            let mode = try XCTUnwrap(PlateauSettings.Mode(rawValue: s.mode ?? ""))
            schedule = .reduceOnPlateau(PlateauSettings(mode: mode, factor: s.factor ?? 0.1, patience: s.patience ?? 10,
                                                        threshold: s.threshold ?? 1e-4, cooldown: s.cooldown ?? 0,
                                                        minLR: s.min_lr ?? 0))
        }
        return LRScheduler(baseLR: s.base_lr, schedule: schedule, warmupSteps: s.warmup_steps ?? 0,
                           warmupStartFactor: s.warmup_start_factor ?? 0.1)
    }

    func testSequencesMatchPyTorch() throws {
        let fixture = try ModelFixtures.load("schedules")
        let settings = try fixture.metadataJSON("settings", as: [String: Setting].self)
        XCTAssertEqual(settings.count, 6)
        for (name, setting) in settings {
            var scheduler = try makeScheduler(setting)
            let expected = try fixture.tensor(named: "\(name).lr").data
            let metrics = fixture["\(name).metric"]?.tensor.data
            for (epoch, want) in expected.enumerated() {
                XCTAssertEqual(scheduler.learningRate, want, accuracy: 1e-6 * want, "\(name) epoch \(epoch)")
                scheduler.step(metric: metrics.map { Double($0[epoch]) })
            }
        }
    }

    /// A scheduler saved mid-run (as JSON in a checkpoint) continues as if never interrupted.
    func testCodableStateResumesTheSequence() throws {
        let plateau = PlateauSettings(mode: .min, factor: 0.5, patience: 1, cooldown: 1)
        for schedule in [LRSchedule.cosine(tMax: 7, etaMin: 0.01), .step(stepSize: 2, gamma: 0.5), .reduceOnPlateau(plateau)] {
            var straight = LRScheduler(baseLR: 0.1, schedule: schedule, warmupSteps: 2)
            let metrics: [Double] = [1, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88]
            for metric in metrics.prefix(5) { straight.step(metric: metric) }
            var resumed = try JSONDecoder().decode(LRScheduler.self, from: JSONEncoder().encode(straight))
            for metric in metrics.dropFirst(5) {
                straight.step(metric: metric)
                resumed.step(metric: metric)
                XCTAssertEqual(straight, resumed, "\(schedule)")
            }
        }
    }

    func testPlateauIgnoresMetricsDuringWarmUp() {
        var scheduler = LRScheduler(baseLR: 1, schedule: .reduceOnPlateau(PlateauSettings(patience: 0)), warmupSteps: 2,
                                    warmupStartFactor: 0.5)
        XCTAssertEqual(scheduler.learningRate, 0.5)
        scheduler.step(metric: 1)
        XCTAssertEqual(scheduler.learningRate, 0.75)
        scheduler.step(metric: 2)  // worse, but still warming up
        XCTAssertEqual(scheduler.learningRate, 1)
        scheduler.step(metric: 3)  // first plateau observation: sets the best
        XCTAssertEqual(scheduler.learningRate, 1)
        scheduler.step(metric: 3)  // no improvement with patience 0
        XCTAssertEqual(scheduler.learningRate, 0.1, accuracy: 1e-7)
    }

    func testNonFiniteMetricsAreBadEpochsAndStateStaysEncodable() throws {
        var scheduler = LRScheduler(baseLR: 1, schedule: .reduceOnPlateau(PlateauSettings(factor: 0.5, patience: 1)))
        for metric in [-Double.infinity, .nan, 1, .nan] { scheduler.step(metric: metric) }
        // -inf and NaN are bad epochs (2 > patience 1: halved, counter reset), 1 is the first best,
        // NaN is one bad epoch (not more than the patience).
        XCTAssertEqual(scheduler.learningRate, 0.5)
        XCTAssertNoThrow(try JSONEncoder().encode(scheduler))
    }
}
