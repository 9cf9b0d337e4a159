import Foundation
import Features
import NeuralNet

/// A trained model as one safetensors file: the network's `state_dict` (PyTorch names,
/// `num_batches_tracked` as I64) and, in `__metadata__` (all values JSON strings):
///
/// | key | value |
/// |---|---|
/// | `format` | `timbre-model/1` |
/// | `labels` | the tag vocabulary, in output order |
/// | `architecture` | `ArchitectureConfig` |
/// | `front_end` | `FrontEnd`: the spectrogram config and chunk length the model expects |
/// | `normalization` | `InputNormalization`: (dB − mean) / std applied to every chunk |
/// | `metrics` | test/validation metrics of the run (informational) |
/// | `training` | experiment name, epoch, creation time (informational) |
/// | `soft_labels` | the labels learnt from a teacher's soft targets (distillation), after the hard ones in `labels` (a retraining may append new tags after them); absent when none |
///
/// A PyTorch `state_dict` saved with `safetensors.torch.save_file(..., metadata=...)` with the
/// same metadata loads here and predicts the same.
public struct ModelBundle {
    public static let format = "timbre-model/1"
    public static let softLabelsKey = "soft_labels"
    public var network: any TaggingNetwork
    public var labels: [String]
    public var frontEnd: FrontEnd
    public var normalization: InputNormalization
    /// Extra metadata (metrics, training details), JSON strings by key.
    public var info: [String: String]

    public init(network: any TaggingNetwork, labels: [String], frontEnd: FrontEnd,
                normalization: InputNormalization, info: [String: String] = [:]) {
        self.network = network; self.labels = labels; self.frontEnd = frontEnd
        self.normalization = normalization; self.info = info
    }

    /// The labels learnt by distillation from a teacher (`soft_labels`), in output order: the
    /// last outputs of a distilled model, followed by any tag a retraining added later. Empty
    /// for most models, and for metadata that names a label the model lacks.
    public var softLabels: [String] {
        guard let text = info[Self.softLabelsKey],
              let names = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else { return [] }
        let listed = Set(names)
        guard listed.isSubset(of: labels) else { return [] }
        return labels.filter { listed.contains($0) }
    }

    /// The labels learnt from hard tags: `labels` without `softLabels`, in output order.
    public var hardLabels: [String] { hardLabelColumns.map { labels[$0] } }

    /// The output columns of `hardLabels`.
    public var hardLabelColumns: [Int] {
        let soft = Set(softLabels)
        return labels.indices.filter { !soft.contains(labels[$0]) }
    }

    /// The output columns of `hardLabels` then `softLabels`, the order `TrainingData` lays
    /// targets out in.
    public var trainingColumns: [Int] {
        let soft = Set(softLabels)
        return hardLabelColumns + labels.indices.filter { soft.contains(labels[$0]) }
    }

    /// The whole file's bytes (what `write` puts on disk).
    public func serialized() throws(ModelBundleError) -> [UInt8] {
        do { return try file(path: "the model").serialized() } catch let error as ModelBundleError { throw error } catch {
            throw .invalid(path: "the model", reason: "cannot serialise: \(error)")
        }
    }

    /// Writes a temporary file beside `path`, flushes it and renames it over `path`
    /// (`AtomicFile`: `rename(2)` replaces in one step): a reader or a crash mid-write never
    /// finds half a model, nor no model.
    public func write(to path: String) throws(ModelBundleError) {
        let file = try file(path: path)
        do {
            try file.write(to: URL(fileURLWithPath: path))
        } catch {
            throw .invalid(path: path, reason: "cannot write: \(error)")
        }
    }

    private func file(path: String) throws(ModelBundleError) -> SafetensorsFile {
        var tensors: [SafetensorsTensor] = []
        for (name, tensor) in network.stateDict() {
            if name.hasSuffix("num_batches_tracked") {
                guard let t = try? SafetensorsTensor(name: name, shape: [], int64Values: [Int64(tensor.data.first ?? 0)]) else {
                    throw .invalid(path: path, reason: "\(name) is not a scalar")
                }
                tensors.append(t)
            } else {
                tensors.append(SafetensorsTensor(name: name, tensor: tensor))
            }
        }
        var metadata = info
        metadata["format"] = Self.format
        metadata["labels"] = json(labels)
        metadata["architecture"] = json(network.config)
        metadata["front_end"] = json(frontEnd)
        metadata["normalization"] = json(normalization)
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    public static func read(from path: String) throws(ModelBundleError) -> ModelBundle {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .invalid(path: path, reason: "\(error)")
        }
        let meta = file.metadata
        guard meta["format"] == format else {
            throw .invalid(path: path, reason: "not a Timbre model (metadata format is \(meta["format"] ?? "missing"), expected \(format))")
        }
        let labels: [String] = try decode(meta, "labels", path)
        let architecture: ArchitectureConfig = try decode(meta, "architecture", path)
        let frontEnd: FrontEnd = try decode(meta, "front_end", path)
        let normalization: InputNormalization = try decode(meta, "normalization", path)
        // Labels key dictionaries everywhere (predictions, the catalog): each must be unique and non-empty.
        var seen = Set<String>()
        if let repeated = labels.first(where: { !seen.insert($0).inserted }) {
            throw .invalid(path: path, reason: "the label \"\(repeated)\" appears more than once in its labels")
        }
        if labels.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw .invalid(path: path, reason: "a label is empty")
        }
        guard architecture.numGenres == labels.count else {
            throw .invalid(path: path, reason: "\(labels.count) labels but the network has \(architecture.numGenres) outputs")
        }
        do { try architecture.validate() } catch { throw .invalid(path: path, reason: "\(error)") }
        if let hop = frontEnd.chunkHop, hop < 1 {
            throw .invalid(path: path, reason: "its front_end.chunk_hop must be at least 1 frame, got \(hop)")
        }
        if architecture.kind == .musicnn, architecture.inputMels != frontEnd.spectrogram.nMels {
            throw .invalid(path: path, reason: "its musicnn network reads \(architecture.inputMels) mel bands but its front end makes \(frontEnd.spectrogram.nMels)")
        }
        let network = makeNetwork(architecture, seed: 0)
        do { try network.loadStateDict(file.stateDict) } catch { throw .invalid(path: path, reason: "\(error)") }
        var info = meta
        for key in ["format", "labels", "architecture", "front_end", "normalization"] { info[key] = nil }
        return ModelBundle(network: network, labels: labels, frontEnd: frontEnd, normalization: normalization, info: info)
    }

    private static func decode<T: Decodable>(_ meta: [String: String], _ key: String, _ path: String) throws(ModelBundleError) -> T {
        guard let text = meta[key] else { throw .invalid(path: path, reason: "metadata has no \(key)") }
        do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
            throw .invalid(path: path, reason: "metadata \(key) is not valid: \(error)")
        }
    }
}

/// The audio front end a model was trained on.
public struct FrontEnd: Codable, Sendable, Equatable {
    public var spectrogram: SpectrogramConfig
    /// Frames per chunk (the network's input width).
    public var chunkFrames: Int
    /// Frames between chunk starts that the model's own reference uses (musicnn: its patch
    /// length, no overlap); when set it replaces `prediction.chunk_hop`. Absent in Timbre's own models.
    public var chunkHop: Int?

    public init(spectrogram: SpectrogramConfig, chunkFrames: Int, chunkHop: Int? = nil) {
        self.spectrogram = spectrogram; self.chunkFrames = chunkFrames; self.chunkHop = chunkHop
    }

    enum CodingKeys: String, CodingKey { case spectrogram, chunkFrames = "chunk_frames", chunkHop = "chunk_hop" }
}

/// Standardisation of the log-mel input: x' = (x − mean) / std, one mean and std over all
/// training values (a dB spectrogram's bands share a scale).
public struct InputNormalization: Codable, Sendable, Equatable {
    public var mean: Float
    public var std: Float
    public init(mean: Float, std: Float) { self.mean = mean; self.std = std }

    public func apply(_ values: UnsafeMutableBufferPointer<Float>) {
        let scale = 1 / max(std, 1e-6)
        for i in values.indices { values[i] = (values[i] - mean) * scale }
    }
}

public enum ModelBundleError: Error, CustomStringConvertible {
    case invalid(path: String, reason: String)
    public var description: String {
        switch self {
        case .invalid(let path, let reason): return "\(path): cannot use this model: \(reason)"
        }
    }
}

func json<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
}
