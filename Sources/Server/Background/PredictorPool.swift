import Catalog
import Foundation
import Tagger

/// Predictors for uploads: a `Predictor` reuses its network's buffers, so each is used by one
/// request at a time; at most `size` predictions run at once (the others wait), and the pool
/// is emptied when the active model changes.
final class PredictorPool: @unchecked Sendable {
    private let semaphore: DispatchSemaphore
    private var idle: [(modelID: Int64, predictor: Predictor)] = []
    private let lock = NSLock()

    init(size: Int) { semaphore = DispatchSemaphore(value: max(1, size)) }

    func with<T>(model: ModelVersion, _ body: (Predictor) throws -> T) throws -> T {
        semaphore.wait()
        defer { semaphore.signal() }
        let reused = lock.withLock { () -> Predictor? in
            idle.removeAll { $0.modelID != model.id }
            return idle.popLast()?.predictor
        }
        let predictor = try reused ?? Predictor(bundle: try ModelBundle.read(from: model.filePath))
        defer { lock.withLock { idle.append((model.id, predictor)) } }
        return try body(predictor)
    }
}
