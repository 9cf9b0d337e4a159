import Catalog
import Foundation

extension TimbreServer {
    func addModelRoutes(_ router: inout Router) {
        router.add("GET", "/api/v1/models") { [unowned self] _, _ in
            let models = try self.database.models.list()
            let versions = Dictionary(uniqueKeysWithValues: models.map { ($0.id, $0.version) })
            struct Answer: Encodable { let models: [ModelDTO] }
            return try .json(Answer(models: models.map { Self.modelDTO($0, parent: $0.parentID.flatMap { versions[$0] }) }))
        }

        // Rollback is activating an older version; the similarity index follows on its next refresh.
        router.add("POST", "/api/v1/models/{version}/activate", access: .admin) { [unowned self] request, _ in
            let version = request.parameters["version"] ?? ""
            guard let model = try self.database.models.find(version: version) else { throw HTTPError.notFound("there is no model \(version)") }
            guard model.state != .rejected else { throw HTTPError(409, "model \(version) was rejected by the retraining gate and cannot be activated") }
            // Re-tags what has no predictions under that version; the index switches once they are in.
            _ = try Retraining.activate(database: self.database, version: version)
            try self.refreshIndex()
            let updated = try self.database.models.find(id: model.id) ?? model
            let parent = try updated.parentID.flatMap { try self.database.models.find(id: $0)?.version }
            return try .json(Self.modelDTO(updated, parent: parent))
        }
    }

    func addRetrainingRoutes(_ router: inout Router) {
        // One retraining at a time: a request while one is queued or running joins it.
        router.add("POST", "/api/v1/retrain", access: .admin) { [unowned self] _, _ in
            let request = try Retraining.request(database: self.database)
            guard let job = try self.database.jobs.record(id: request.jobID) else { throw HTTPError(500, "the retraining job vanished") }
            struct Answer: Encodable { let job: JobDTO; let created: Bool }
            return try .json(Answer(job: JobDTO(job), created: request.created), status: 202)
        }
    }

    static func modelDTO(_ model: ModelVersion, parent: String?) -> ModelDTO {
        ModelDTO(version: model.version, state: model.state.rawValue, labels: model.labels, metrics: JSONValue(parsing: model.metrics),
                 parent: parent, created_at: model.createdAt, activated_at: model.activatedAt)
    }
}
