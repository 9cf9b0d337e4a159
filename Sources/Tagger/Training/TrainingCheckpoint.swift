import Foundation
import NeuralNet

/// `checkpoint.safetensors` in the run directory, written after every epoch: the network
/// (`model.*`), the optimizer's moments (`optimizer.*`) and, in the metadata, the LR
/// scheduler, the history and the early-stopping state — all `--resume` needs to go on
/// exactly where the run stopped.
extension Trainer {
    func saveCheckpoint() throws {
        var tensors: [SafetensorsTensor] = []
        for (name, tensor) in network.stateDict() {
            tensors.append(SafetensorsTensor(name: "model.\(name)", tensor: tensor))
        }
        for (name, tensor) in optimizer.stateDict() {
            tensors.append(SafetensorsTensor(name: "optimizer.\(name)", tensor: tensor))
        }
        let metadata = [
            "format": "timbre-checkpoint/1",
            "architecture": json(config.model),
            "optimizer": config.training.optimizer,
            "scheduler": json(scheduler),
            "history": json(history),
            "best": best.map { "\($0)" } ?? "",
            "epochs_without_improvement": "\(epochsWithoutImprovement)",
        ]
        // Replaced in one rename (AtomicFile), never deleted first: a kill mid-write leaves
        // the previous epoch's checkpoint for --resume.
        try SafetensorsFile(tensors: tensors, metadata: metadata).write(to: checkpointURL)
    }

    func loadCheckpoint() throws {
        guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
            throw TrainingError.checkpoint("no checkpoint at \(checkpointURL.path); start without --resume")
        }
        let file = try SafetensorsFile(contentsOf: checkpointURL)
        let meta = file.metadata
        guard meta["format"] == "timbre-checkpoint/1" else { throw TrainingError.checkpoint("\(checkpointURL.path) is not a Timbre checkpoint") }
        guard meta["architecture"] == json(config.model), meta["optimizer"] == config.training.optimizer else {
            throw TrainingError.checkpoint("the checkpoint was made with another model or optimizer configuration; use the run's config.yaml")
        }
        var model: [String: Tensor] = [:], moments: [String: Tensor] = [:]
        for entry in file.tensors {
            if entry.name.hasPrefix("model.") { model[String(entry.name.dropFirst(6))] = entry.tensor }
            if entry.name.hasPrefix("optimizer.") { moments[String(entry.name.dropFirst(10))] = entry.tensor }
        }
        try network.loadStateDict(model)
        try optimizer.loadStateDict(moments)
        let decoder = JSONDecoder()
        scheduler = try decoder.decode(LRScheduler.self, from: Data((meta["scheduler"] ?? "").utf8))
        history = try decoder.decode([EpochRecord].self, from: Data((meta["history"] ?? "").utf8))
        best = meta["best"].flatMap(Double.init)
        epochsWithoutImprovement = meta["epochs_without_improvement"].flatMap(Int.init) ?? 0
        observer?.message("resuming after epoch \(history.count)")
    }
}
