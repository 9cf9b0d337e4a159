import AudioIO
import Foundation
import Logging
import Tagger

/// The worker's remote path: a batch's files go to another Timbre server's
/// `POST /api/v1/analysis/predict?embedding=true` instead of this machine's network.
extension Worker {
    /// Why a remote batch stopped early; every job of the batch without a result is handed back.
    enum RemoteStop {
        /// Down, overloaded, circuit open, the key refused, no active model there…
        case unavailable(RemoteInferenceError)
        /// The server tags with another model version than the catalog's active one.
        case otherModel(String)
        /// The server's model has other labels than the catalog's row for that version.
        case otherLabels([String])
    }

    /// Sends the batch's files (each opened read-only, confined to its library, and streamed from
    /// its descriptor) to `client`'s server: the first alone, since after a cool-down it is the
    /// circuit breaker's probe, then `remoteConcurrency` at a time. A file the server says it
    /// cannot use fails its track, as a local decode error would; anything else about the
    /// server stops the batch, and the jobs still without a result are handed back.
    func tagRemotely(_ work: [WorkItem], version: ModelVersion, client: RemoteInferenceClient)
        -> (outcomes: [Int64: Outcome], stop: RemoteStop?, audio: Double) {
        let state = RemoteBatchState(count: work.count)
        let labels = Set(version.labels)
        let options = self.options
        @Sendable func tag(_ item: WorkItem) {
            let file: ReadOnlyFile
            do { file = try ReadOnlyFile(path: item.path, confinedTo: item.root) } catch {
                // A file that cannot be read now is tried again later, as on the local path.
                if case let .transient(message)? = FileReadability.openProblem(error) {
                    state.finish(item.job.id, .retry(trackID: item.trackID, error: message,
                                                     delay: options.retryDelay(afterAttempt: item.job.attempts), alone: false))
                } else {
                    state.finish(item.job.id, .failed(trackID: item.trackID, error: "\(error)"))
                }
                return
            }
            let answer: RemotePrediction
            do throws(RemoteInferenceError) { answer = try client.predict(audio: .file(file), embedding: true) } catch {
                if error.isAboutTheAudio {
                    state.finish(item.job.id, .failed(trackID: item.trackID, error: "\(error)"))
                } else {
                    state.stop(.unavailable(error))
                }
                return
            }
            guard answer.modelVersion == version.version else { state.stop(.otherModel(answer.modelVersion)); return }
            guard Set(answer.probabilities.keys) == labels, let embedding = answer.embedding else {
                state.stop(.otherLabels(answer.probabilities.keys.sorted()))
                return
            }
            do {
                try PredictionStore.validate(probabilities: answer.probabilities, embedding: embedding)
                state.finish(item.job.id, .tagged(trackID: item.trackID, probabilities: answer.probabilities, embedding: embedding),
                             audio: item.duration ?? 0)
            } catch {
                state.finish(item.job.id, .failed(trackID: item.trackID, error: "the model on \(client.server) gave unusable output: \(error)"))
            }
        }
        if let first = state.nextIndex() { tag(work[first]) }
        let threads = min(options.remoteConcurrency, max(0, work.count - 1))
        if threads > 0 {
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while let index = state.nextIndex() { tag(work[index]) }
            }
        }
        return state.result
    }

    /// After a remote batch's results are stored: hands back what is left when the server could
    /// not be used, and holds off claiming until it may be tried again (the circuit's cool-down,
    /// or `coolDown` when the circuit is still closed). Says so in the log, once per episode.
    func finishRemoteBatch(stop: RemoteStop?, version: ModelVersion, client: RemoteInferenceClient, done: inout WorkerProgress) throws {
        let server = client.server.description
        guard let stop else {
            if remoteFailing, done.taggedRemotely > 0 {
                remoteFailing = false
                logger.notice("\(server) answers again: tagging through it")
            }
            if done.taggedRemotely > 0 {
                logger.info("\(done.taggedRemotely) tracks tagged through \(server) (model \(version.version))")
            }
            return
        }
        // The jobs of this batch still held: the ones without a result (this worker holds no others now).
        let returned = try queue.release(owner: options.owner)
        done.handedBack += returned
        let wait = client.breaker.retryIn ?? client.settings.coolDown
        remotePausedUntil = monotonicSeconds() + wait
        remoteFailing = true
        let reason: String
        switch stop {
        case let .unavailable(error):
            reason = "remote inference failed: \(error)"
        case let .otherModel(other):
            reason = "\(server) tags with model \(other), but the catalog's active model is \(version.version): "
                + "its answers were not stored (the server follows the catalog it uses; is it this one?)"
        case let .otherLabels(labels):
            reason = "\(server)'s model \(version.version) has the labels \(labels), not the catalog's \(version.labels): its answers were not stored"
        }
        if done.taggedRemotely > 0 { logger.info("\(done.taggedRemotely) tracks tagged through \(server) (model \(version.version))") }
        let again = String(format: "%.0f s", wait.rounded(.up))
        logger.warning("\(reason); \(returned) jobs handed back to the queue (no attempt spent), trying \(server) again in \(again)")
    }
}

/// The outcomes of a remote batch, filled by several threads; once stopped, no next file is given out.
private final class RemoteBatchState: @unchecked Sendable {
    private let lock = NSLock()
    private let count: Int
    private var next = 0
    private var outcomes: [Int64: Worker.Outcome] = [:]
    private var stopped: Worker.RemoteStop?
    private var audio = 0.0

    init(count: Int) { self.count = count }

    func nextIndex() -> Int? {
        lock.withLock {
            guard stopped == nil, next < count else { return nil }
            next += 1
            return next - 1
        }
    }

    func finish(_ jobID: Int64, _ outcome: Worker.Outcome, audio seconds: Double = 0) {
        lock.withLock {
            outcomes[jobID] = outcome
            audio += seconds
        }
    }

    func stop(_ reason: Worker.RemoteStop) {
        lock.withLock { if stopped == nil { stopped = reason } }
    }

    var result: (outcomes: [Int64: Worker.Outcome], stop: Worker.RemoteStop?, audio: Double) {
        lock.withLock { (outcomes, stopped, audio) }
    }
}
