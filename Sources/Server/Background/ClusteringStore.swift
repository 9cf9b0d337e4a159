import Foundation

/// Clusterings made by `POST /clusters`, kept so `GET /clusters/{id}` can give them again; the
/// 32 most recent are kept, each visible to its owner only, with each cluster's track ids
/// (nearest its centre first) for `?format=m3u8&cluster=`.
final class ClusteringStore: @unchecked Sendable {
    private var stored: [(id: Int64, ownerID: Int64, body: [UInt8], members: [[Int64]])] = []
    private var nextID: Int64 = 1
    private let lock = NSLock()

    func add(ownerID: Int64, members: [[Int64]] = [], encode: (Int64) throws -> [UInt8]) rethrows -> (id: Int64, body: [UInt8]) {
        let id = lock.withLock { () -> Int64 in defer { nextID += 1 }; return nextID }
        let body = try encode(id)
        lock.withLock {
            stored.append((id, ownerID, body, members))
            if stored.count > 32 { stored.removeFirst(stored.count - 32) }
        }
        return (id, body)
    }

    func find(id: Int64, ownerID: Int64) -> (body: [UInt8], members: [[Int64]])? {
        lock.withLock { stored.first { $0.id == id && $0.ownerID == ownerID }.map { ($0.body, $0.members) } }
    }
}
