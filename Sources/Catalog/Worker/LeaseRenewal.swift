import Foundation
import Logging

/// Keeps a batch's job leases alive while the batch runs: a thread renews them every third of
/// the lease, so a live worker never loses its jobs while a killed one loses them within one
/// lease. Renewal failures (server restarting) are logged and tried again next round. A job
/// `drop`ped (its decode was abandoned) is renewed no more, so its lease runs out as a dead
/// worker's would, whatever happens to the rest of the batch.
final class LeaseRenewal: @unchecked Sendable {
    private let queue: JobQueue
    private var jobIDs: [Int64]
    private let owner: String
    private let lease: TimeInterval
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var running = false
    private var lostIDs: Set<Int64> = []

    init(queue: JobQueue, jobIDs: [Int64], owner: String, lease: TimeInterval, logger: Logger) {
        self.queue = queue; self.jobIDs = jobIDs; self.owner = owner; self.lease = lease; self.logger = logger
    }

    func start() {
        condition.lock()
        running = true
        condition.unlock()
        let thread = Thread { [self] in loop() }
        thread.name = "timbre-lease-renewal"
        thread.start()
    }

    /// Stops renewing and waits for the thread, so no renewal happens after the batch ends.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    /// Stops renewing `jobID`'s lease (the others are still renewed).
    func drop(_ jobID: Int64) {
        condition.lock()
        jobIDs.removeAll { $0 == jobID }
        condition.unlock()
    }

    /// The jobs still renewed.
    var renewed: [Int64] {
        condition.lock()
        defer { condition.unlock() }
        return jobIDs
    }

    /// Jobs another worker took over after this one's lease ran out.
    var lost: Set<Int64> {
        condition.lock()
        defer { condition.unlock() }
        return lostIDs
    }

    private func loop() {
        condition.lock()
        while !stopping {
            _ = condition.wait(until: Date().addingTimeInterval(lease / 3))
            if stopping { break }
            let ids = jobIDs
            condition.unlock()
            var held: Set<Int64>?
            do {
                held = try queue.renew(jobIDs: ids, owner: owner, lease: lease)
            } catch {
                logger.warning("could not renew job leases: \(error)")
            }
            condition.lock()
            if let held { lostIDs.formUnion(ids.filter { !held.contains($0) && jobIDs.contains($0) }) }
        }
        running = false
        condition.broadcast()
        condition.unlock()
    }
}
