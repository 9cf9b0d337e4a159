import Foundation
import Features
import NeuralNet

/// One epoch's numbers, as written to `training_history.json`.
public struct EpochRecord: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var valLoss: Double
    public var learningRate: Float
    public var seconds: Double
    public var samplesPerSecond: Double
    public var validation: MultiLabelMetrics

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", valLoss = "val_loss", learningRate = "learning_rate", seconds
        case samplesPerSecond = "samples_per_second", validation
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case invalidConfig([String])
    case notEnoughData(String)
    case diverged(epoch: Int, step: Int, loss: Float)
    case checkpoint(String)

    public var description: String {
        switch self {
        case .invalidConfig(let problems): return "invalid training configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        case .notEnoughData(let why): return "not enough data to train: \(why)"
        case .diverged(let epoch, let step, let loss):
            return "training diverged: loss is \(loss) at epoch \(epoch), step \(step). Lower training.learning_rate, set training.grad_clip, or check the data for silent/corrupt tracks."
        case .checkpoint(let why): return "cannot resume: \(why)"
        }
    }
}

/// Progress callbacks of a run (the CLI draws bars from them).
public protocol TrainingObserver: AnyObject {
    func batchFinished(epoch: Int, batch: Int, of batches: Int, loss: Double, samplesPerSecond: Double)
    func epochFinished(_ record: EpochRecord, improved: Bool)
    func message(_ text: String)
}

/// Trains a tagging network on a prepared corpus: mini-batches of augmented chunks, BCE with
/// logits (pos_weight), AdamW/Adam/SGD, gradient accumulation and clipping, an LR schedule with
/// warm-up, validation at track level every epoch, early stopping on a validation metric, and a
/// checkpoint after every epoch that `resume` continues from.
public final class Trainer {
    public let config: ExperimentConfig
    public let runDirectory: URL
    let train: TrainingData
    let validation: TrainingData
    let network: any TaggingNetwork
    let optimizer: any Optimizer
    var scheduler: LRScheduler
    let loss: BCEWithLogitsLoss
    let normalization: InputNormalization
    let frontEnd: FrontEnd
    /// Per position in `train.tracks`, its teacher's unit embedding (relational distillation),
    /// nil when it has none; empty when the loss is off.
    let teacherVectors: [[Float]?]
    public internal(set) var history: [EpochRecord] = []
    var best: Double?
    var epochsWithoutImprovement = 0
    weak var observer: TrainingObserver?

    public init(config: ExperimentConfig, cache: ChunkCache, observer: TrainingObserver?) throws {
        var config = config
        let weight = config.training.distillationWeight
        let soft = weight > 0 ? cache.index.softLabels ?? [] : []
        let labels = cache.index.labels + soft
        guard !cache.index.labels.isEmpty else { throw TrainingError.notEnoughData("the prepared data has no labels; rerun `timbre prepare`") }
        if config.model.numGenres == 0 { config.model.numGenres = labels.count }
        guard config.model.numGenres == labels.count else {
            let softNote = soft.isEmpty ? "" : " (\(cache.index.labels.count) tags and \(soft.count) soft tags)"
            throw TrainingError.invalidConfig(["model.num_genres is \(config.model.numGenres) but the prepared data has \(labels.count) tags\(softNote) (\(labels.prefix(8).joined(separator: ", "))…); use --num-genres \(labels.count) or leave it out"])
        }
        let problems = config.problems
        guard problems.isEmpty else { throw TrainingError.invalidConfig(problems) }
        self.config = config
        self.observer = observer
        let audio = config.augmentation.audio
        train = TrainingData(cache: cache, split: "train", softLabels: soft, softWeight: weight,
                             audioVariants: audio.enabled ? audio.variants : 0)
        if audio.enabled, let problem = train.audioVariantProblem(audio, dataDirectory: config.dataDir) {
            throw TrainingError.invalidConfig([problem])
        }
        if audio.enabled {
            observer?.message("audio augmentation: \(train.variantCount) variants of \(train.tracks.count) training tracks, each example from one with probability \(audio.probability)")
        }
        if !soft.isEmpty {
            let unlabelled = train.tracks.count - train.hardLabelledTracks.count
            observer?.message("distillation: \(soft.count) soft tags (weight \(weight)), \(unlabelled) of \(train.tracks.count) training tracks with soft targets only")
        }
        if config.training.relationalDistillationWeight > 0 {
            let file = config.training.teacherEmbeddings
            let table = try TeacherEmbeddingTable.read(csvAt: file)
            let all = cache.index.tracks
            teacherVectors = train.tracks.map { table.rows[all[$0].path] }
            let matched = teacherVectors.filter { $0 != nil }.count
            guard matched >= 2 else {
                throw TrainingError.invalidConfig(["training.teacher_embeddings \(file) names \(matched) of the \(train.tracks.count) training tracks (its paths must be the prepared corpus's, relative to the audio folder, e.g. \(all.first?.path ?? "a/b.flac"))"])
            }
            observer?.message("relational distillation: \(matched) of \(train.tracks.count) training tracks have a \(table.dimension)-d teacher embedding (weight \(config.training.relationalDistillationWeight))")
        } else {
            teacherVectors = []
        }
        validation = TrainingData(cache: cache, split: "val", softLabels: soft, softWeight: weight)
        guard train.chunkCount >= 2 else { throw TrainingError.notEnoughData("the train split has \(train.chunkCount) chunks") }
        guard validation.chunkCount >= 1, !validation.hardLabelledTracks.isEmpty else {
            throw TrainingError.notEnoughData("the validation split has no track with known tags")
        }
        guard let spectrogram = try? JSONDecoder().decode(SpectrogramConfig.self, from: Data(cache.index.frontEnd.utf8)) else {
            throw TrainingError.notEnoughData("the prepared data does not record its audio front end")
        }
        frontEnd = FrontEnd(spectrogram: spectrogram, chunkFrames: cache.index.chunkShape[1])
        runDirectory = URL(fileURLWithPath: config.outputDir).appendingPathComponent(config.experimentName)
        network = makeNetwork(config.model, seed: config.seed)
        normalization = train.normalization()
        let t = config.training
        loss = BCEWithLogitsLoss(posWeight: t.posWeight == "auto" ? train.positiveWeights(cap: t.maxPosWeight) : nil)
        switch t.optimizer {
        case "adam": optimizer = Adam(parameters: network.parameters, learningRate: t.learningRate, weightDecay: t.weightDecay)
        case "sgd": optimizer = SGD(parameters: network.parameters, learningRate: t.learningRate, momentum: t.momentum, weightDecay: t.weightDecay)
        default: optimizer = AdamW(parameters: network.parameters, learningRate: t.learningRate, weightDecay: t.weightDecay)
        }
        let schedule: LRSchedule
        let remaining = max(1, t.epochs - t.warmupEpochs)
        switch t.lrSchedule {
        case "cosine": schedule = .cosine(tMax: remaining, etaMin: t.learningRate * 0.01)
        case "step": schedule = .step(stepSize: t.stepSize, gamma: t.gamma)
        case "plateau": schedule = .reduceOnPlateau(PlateauSettings(mode: t.earlyStoppingMetric.hasSuffix("loss") ? .min : .max, factor: t.gamma, patience: max(1, t.earlyStoppingPatience / 2)))
        default: schedule = .constant
        }
        scheduler = LRScheduler(baseLR: t.learningRate, schedule: schedule, warmupSteps: t.warmupEpochs)
    }

    /// Outputs learnt from soft targets (distillation), after the hard tags.
    public var softLabelCount: Int { train.labels.count - train.hardLabelCount }

    enum Mode { case min, max }
    var metricMode: Mode { config.training.earlyStoppingMetric.hasSuffix("loss") ? .min : .max }

    var checkpointURL: URL { runDirectory.appendingPathComponent("checkpoint.safetensors") }
    public var bestModelURL: URL { runDirectory.appendingPathComponent("best_model.safetensors") }

    /// Runs the remaining epochs (all of them, or those after the checkpoint when resuming);
    /// `epochLimit` stops after that many epochs in this call (a later `run(resume: true)` goes on).
    public func run(resume: Bool, epochLimit: Int? = nil) throws {
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        if resume { try loadCheckpoint() }
        try ConfigLayering.yaml(config, over: ExperimentConfig())
            .write(to: runDirectory.appendingPathComponent("config.yaml"), atomically: true, encoding: .utf8)
        let t = config.training
        var input = Tensor(zeros: [0]), target = Tensor(zeros: [0]), mask = Tensor(zeros: [0])
        var ranNow = 0
        while history.count < t.epochs && epochsWithoutImprovement < t.earlyStoppingPatience && ranNow < (epochLimit ?? .max) {
            ranNow += 1
            let epoch = history.count + 1
            optimizer.learningRate = scheduler.learningRate
            var rng = Xoshiro256StarStar(seed: config.seed &+ UInt64(epoch) &* 0x9E37_79B9)
            var items = train.items(perTrack: t.chunksPerTrack, softOnlyPerTrack: t.softOnlyChunksPerTrack, using: &rng)
            items.shuffle(using: &rng)
            let batches = items.count / t.batchSize  // a last partial batch is dropped (batch norm)
            guard batches > 0 else { throw TrainingError.notEnoughData("\(items.count) training chunks make no batch of \(t.batchSize)") }
            let started = Date()
            var total = 0.0
            optimizer.zeroGrad()
            for b in 0..<batches {
                let batch = items[(b * t.batchSize)..<((b + 1) * t.batchSize)]
                let mix = try train.fill(batch: batch, normalization: normalization, augmentation: config.augmentation,
                                         rng: &rng, input: &input, target: &target, mask: &mask)
                let output = try network.forward(input, training: true)
                var (value, gradient) = try loss(logits: output.logits, targets: target, mask: train.masks == nil ? nil : mask)
                var relational = relationalTerm(batch: batch, mix: mix, embeddings: output.embeddings)
                value += relational?.loss ?? 0
                guard value.isFinite else { throw TrainingError.diverged(epoch: epoch, step: b + 1, loss: value) }
                if t.accumulationSteps > 1 {
                    let scale = 1 / Float(t.accumulationSteps)
                    for i in gradient.data.indices { gradient.data[i] *= scale }
                    relational?.gradient.data.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= scale } }
                }
                if let relational { try network.backward(gradient, dEmbeddings: relational.gradient) }
                else { try network.backward(gradient) }
                if (b + 1) % t.accumulationSteps == 0 || b == batches - 1 {
                    if let clip = t.gradClip { _ = clipGradNorm(network.parameters, maxNorm: clip) }
                    optimizer.step()
                    optimizer.zeroGrad()
                }
                total += Double(value)
                let elapsed = Date().timeIntervalSince(started)
                observer?.batchFinished(epoch: epoch, batch: b + 1, of: batches, loss: total / Double(b + 1),
                                        samplesPerSecond: Double((b + 1) * t.batchSize) / max(elapsed, 1e-9))
            }
            let seconds = Date().timeIntervalSince(started)
            let (valLoss, metrics) = try evaluate(validation)
            let record = EpochRecord(epoch: epoch, trainLoss: total / Double(batches), valLoss: valLoss,
                                     learningRate: optimizer.learningRate, seconds: seconds,
                                     samplesPerSecond: Double(batches * t.batchSize) / max(seconds, 1e-9), validation: metrics)
            history.append(record)
            let score = try monitored(record)
            let improved = best.map { metricMode == .max ? score > $0 : score < $0 } ?? true
            if improved {
                best = score
                epochsWithoutImprovement = 0
                try bundle(info: ["training": json(["experiment": config.experimentName, "epoch": "\(epoch)"]),
                                  "metrics": json(metrics)]).write(to: bestModelURL.path)
            } else {
                epochsWithoutImprovement += 1
            }
            scheduler.step(metric: score)
            try saveCheckpoint()
            try writeHistory()
            observer?.epochFinished(record, improved: improved)
        }
        if epochsWithoutImprovement >= t.earlyStoppingPatience {
            observer?.message("early stopping: \(t.earlyStoppingMetric) did not improve for \(t.earlyStoppingPatience) epochs")
        }
    }

    /// The relational distillation loss of a batch and its gradient on the embeddings (nil when
    /// it is off); a mixed example's teacher vector is the blend of its pair's.
    func relationalTerm(batch: ArraySlice<(track: Int, chunk: Int)>, mix: TrainingData.MixupDraw?,
                        embeddings: Tensor) -> (loss: Float, gradient: Tensor)? {
        guard !teacherVectors.isEmpty else { return nil }
        let t = config.training
        let rows = batch.map { teacherVectors[$0.track] }
        let teacher = mix.map { m in rows.indices.map { RelationalDistillation.mixed(rows[$0], rows[m.partner[$0]], lambda: m.lambda) } } ?? rows
        return t.relationalDistillationLoss == "neighbours"
            ? RelationalDistillation.neighbourLoss(embeddings: embeddings, teacher: teacher, weight: t.relationalDistillationWeight,
                                                   temperature: t.relationalDistillationTemperature)
            : RelationalDistillation.loss(embeddings: embeddings, teacher: teacher, weight: t.relationalDistillationWeight)
    }

    func monitored(_ record: EpochRecord) throws -> Double {
        let name = config.training.earlyStoppingMetric
        if name == "val_loss" { return record.valLoss }
        let fields = try JSONSerialization.jsonObject(with: JSONEncoder().encode(record.validation)) as? [String: Any]
        guard let value = fields?[name] as? Double else {
            throw TrainingError.invalidConfig(["training.early_stopping_metric \(name) is not a validation metric (try pr_auc_macro, roc_auc_macro, f1_macro or val_loss)"])
        }
        return value
    }

    public func bundle(info: [String: String]) -> ModelBundle {
        var info = info
        let soft = Array(train.labels[train.hardLabelCount...])
        if !soft.isEmpty { info[ModelBundle.softLabelsKey] = json(soft) }
        return ModelBundle(network: network, labels: train.labels, frontEnd: frontEnd, normalization: normalization, info: info)
    }

    /// Chunk-level loss (masked where targets are unknown) and track-level metrics (mean chunk
    /// probability per track) on the hard tags, over the tracks that know them.
    func evaluate(_ data: TrainingData) throws -> (loss: Double, metrics: MultiLabelMetrics) {
        try Trainer.evaluate(network: network, data: data, normalization: normalization, loss: loss)
    }

    /// - Parameter columns: the network's output column of each of `data.labels` (nil: the same order).
    static func evaluate(network: any TaggingNetwork, data: TrainingData, normalization: InputNormalization,
                         loss: BCEWithLogitsLoss, batchSize: Int = 32, columns: [Int]? = nil) throws -> (loss: Double, metrics: MultiLabelMetrics) {
        var rng = Xoshiro256StarStar(seed: 0)
        let items = data.items(perTrack: nil, using: &rng)
        let l = data.labels.count
        var sums = [Float](repeating: 0, count: data.tracks.count * l)
        var counts = [Float](repeating: 0, count: data.tracks.count)
        var input = Tensor(zeros: [0]), target = Tensor(zeros: [0]), mask = Tensor(zeros: [0])
        var totalLoss = 0.0
        var start = 0
        while start < items.count {
            let batch = items[start..<min(start + batchSize, items.count)]
            try data.fill(batch: batch, normalization: normalization, augmentation: nil, rng: &rng, input: &input, target: &target, mask: &mask)
            var logits = try network.forward(input, training: false).logits
            if let columns {
                let width = logits.shape[1], all = logits.data
                logits = try Tensor(shape: [batch.count, l], data: (0..<batch.count).flatMap { i in columns.map { all[i * width + $0] } })
            }
            totalLoss += Double(try loss(logits: logits, targets: target, mask: data.masks == nil ? nil : mask).loss) * Double(batch.count)
            for (i, item) in batch.enumerated() {
                for j in 0..<l { sums[item.track * l + j] += sigmoid(logits.data[i * l + j]) }
                counts[item.track] += 1
            }
            start += batchSize
        }
        for t in 0..<data.tracks.count where counts[t] > 0 { for j in 0..<l { sums[t * l + j] /= counts[t] } }
        let h = data.hardLabelCount
        let rows = data.hardLabelledTracks
        let metrics = try MultiLabelMetrics.compute(
            probabilities: rows.flatMap { t in sums[(t * l)..<(t * l + h)] },
            targets: rows.flatMap { data.targets[$0][..<h] }, labels: Array(data.labels[..<h]))
        return (totalLoss / Double(max(1, items.count)), metrics)
    }

    func writeHistory() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(history).write(to: runDirectory.appendingPathComponent("training_history.json"), options: .atomic)
        try TrainingCurves.svg(history: history, metric: config.training.earlyStoppingMetric)
            .write(to: runDirectory.appendingPathComponent("training_curves.svg"), atomically: true, encoding: .utf8)
    }
}
