import Features
import Foundation
import NeuralNet

/// Which parameters fine-tuning changes; the others stay the parent's, buffers included.
public enum TrainableLayers: String, Codable, Sendable, CaseIterable {
    /// The embedding and classifier layers.
    case head
    /// The head and the last stage of convolutions.
    case lastStage = "last_stage"
    case all
}

/// How the output rows of new tags learn during fine-tuning.
public enum NewTagRows: String, Codable, Sendable, CaseIterable {
    /// Trained with the rest, from their start (the probe's fit, with `probe_init`).
    case train
    /// Held at the probe's fit during each epoch (the features adapt to that row), and fitted
    /// again by the probe on the network's embeddings after it, before the epoch is judged. Needs
    /// `probe_init`.
    case probe
}

/// How a model is fine-tuned from users' corrections (the `retraining.fine_tune` config).
public struct FineTuneConfig: Codable, Sendable, Equatable {
    public var epochs = 8
    public var learningRate: Float = 3e-4
    public var weightDecay: Float = 1e-4
    public var layers: TrainableLayers = .lastStage
    public var batchSize = 16
    /// Chunks of each track drawn anew every epoch.
    public var chunksPerTrack = 4
    /// Epochs without a lower validation loss before stopping.
    public var patience = 3
    /// SpecAugment (two frequency and two time masks) on every training chunk.
    public var specAugment = true
    public var gradClip: Float? = 5
    /// New outputs start from a logistic regression (`LogisticProbe`, λ = 1 per track) on the
    /// parent's embeddings of the training corrections, not from random rows.
    public var probeInit = true
    /// With `probeInit`: the loss weight of a new tag's soft target on tracks no one corrected for
    /// it (the replay set) — the probe-initialised output's own probability of each chunk, as the
    /// old labels learn the parent's. 0: those tracks carry no target for the new tag (masked).
    public var newTagReplayWeight: Float = 0
    public var newTagRows: NewTagRows = .train
    /// The probe's L2 penalty per unit of track weight (scikit-learn's 1/C): smaller gives
    /// sharper probabilities.
    public var probeL2: Double = 1
    /// The probe fits the L2-normalised track embeddings (the catalog's), its row then divided by
    /// their mean norm; off: the raw mean embeddings.
    public var probeNormalise = false
    public var seed: UInt64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, learningRate = "learning_rate", weightDecay = "weight_decay", layers, batchSize = "batch_size"
        case chunksPerTrack = "chunks_per_track", patience, specAugment = "spec_augment", gradClip = "grad_clip"
        case probeInit = "probe_init", newTagReplayWeight = "new_tag_replay_weight"
        case newTagRows = "new_tag_rows", probeL2 = "probe_l2", probeNormalise = "probe_normalise", seed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = FineTuneConfig()
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? d.weightDecay
        layers = try c.decodeIfPresent(TrainableLayers.self, forKey: .layers) ?? d.layers
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        chunksPerTrack = try c.decodeIfPresent(Int.self, forKey: .chunksPerTrack) ?? d.chunksPerTrack
        patience = try c.decodeIfPresent(Int.self, forKey: .patience) ?? d.patience
        specAugment = try c.decodeIfPresent(Bool.self, forKey: .specAugment) ?? d.specAugment
        gradClip = try c.decodeIfPresent(Float.self, forKey: .gradClip) ?? d.gradClip
        probeInit = try c.decodeIfPresent(Bool.self, forKey: .probeInit) ?? d.probeInit
        newTagReplayWeight = try c.decodeIfPresent(Float.self, forKey: .newTagReplayWeight) ?? d.newTagReplayWeight
        newTagRows = try c.decodeIfPresent(NewTagRows.self, forKey: .newTagRows) ?? d.newTagRows
        probeL2 = try c.decodeIfPresent(Double.self, forKey: .probeL2) ?? d.probeL2
        probeNormalise = try c.decodeIfPresent(Bool.self, forKey: .probeNormalise) ?? d.probeNormalise
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    }

    public var problems: [String] {
        var found: [String] = []
        if epochs < 1 { found.append("epochs must be at least 1") }
        if !(learningRate > 0 && learningRate < 1) { found.append("learning_rate must be in (0, 1)") }
        if weightDecay < 0 { found.append("weight_decay must be ≥ 0") }
        if batchSize < 2 { found.append("batch_size must be at least 2 (batch norm)") }
        if chunksPerTrack < 1 { found.append("chunks_per_track must be at least 1") }
        if patience < 1 { found.append("patience must be at least 1") }
        if !(probeL2 > 0 && probeL2 <= 1000) { found.append("probe_l2 must be in (0, 1000]") }
        if !(newTagReplayWeight >= 0 && newTagReplayWeight <= 10) { found.append("new_tag_replay_weight must be in [0, 10]") }
        return found
    }
}

/// One track for fine-tuning: its normalised chunks and, per label of the grown vocabulary,
/// what to learn. A label is learned from `targets` where `mask` > 0, from the parent model's
/// own probability of each chunk where `distil` (soft targets: the model keeps what it knew),
/// and not at all where `mask` is 0 (an unknown target: a new tag on an uncorrected track).
public struct FineTuneExample: Sendable {
    public var chunks: ChunkBatch
    public var targets: [Float]
    /// Loss weight per label: 0 for no target.
    public var mask: [Float]
    /// Per label: the target is the parent's chunk probability (only for the parent's labels).
    public var distil: [Bool]

    public init(chunks: ChunkBatch, targets: [Float], mask: [Float], distil: [Bool]) {
        self.chunks = chunks; self.targets = targets; self.mask = mask; self.distil = distil
    }
}

public struct FineTuneEpoch: Codable, Sendable, Equatable {
    public var epoch: Int
    /// Mean masked loss of the epoch's batches (nil for epoch 0, the starting point).
    public var trainLoss: Double?
    public var valLoss: Double
    public var seconds: Double

    enum CodingKeys: String, CodingKey { case epoch, trainLoss = "train_loss", valLoss = "val_loss", seconds }
}

public struct FineTuneResult {
    /// The best epoch's model (lowest validation loss).
    public var bundle: ModelBundle
    public var history: [FineTuneEpoch]
    /// 0 when no epoch beat the starting point.
    public var bestEpoch: Int
    public var trainableParameters: Int
}

public enum FineTuneError: Error, CustomStringConvertible {
    case invalidConfig([String])
    case badExample(String)
    case diverged(epoch: Int, loss: Float)

    public var description: String {
        switch self {
        case .invalidConfig(let problems): return "invalid fine-tuning configuration: " + problems.joined(separator: "; ")
        case .badExample(let why): return "cannot fine-tune on this data: \(why)"
        case .diverged(let epoch, let loss):
            return "fine-tuning diverged (loss \(loss) in epoch \(epoch)); lower retraining.fine_tune.learning_rate"
        }
    }
}

/// Fine-tunes a parent model on corrected tracks and a replay set: the parent's weights,
/// a classifier grown by `newLabels` (old rows kept), AdamW on the chosen layers, masked BCE
/// with soft targets from the parent (chunk by chunk) where the example says `distil`,
/// SpecAugment, and early stopping on the validation examples' loss — the corrections' mean
/// loss plus the distilled labels' mean loss — (the best epoch is kept; epoch 0, the grown
/// parent itself, competes too).
public final class FineTuner {
    public let parent: ModelBundle
    public let newLabels: [String]
    public let config: FineTuneConfig

    public init(parent: ModelBundle, newLabels: [String], config: FineTuneConfig) throws {
        guard config.problems.isEmpty else { throw FineTuneError.invalidConfig(config.problems) }
        let clash = Set(newLabels).intersection(parent.labels)
        guard clash.isEmpty, Set(newLabels).count == newLabels.count else {
            throw FineTuneError.badExample("new labels \(newLabels) repeat the model's labels or each other")
        }
        self.parent = parent
        self.newLabels = newLabels
        self.config = config
    }

    public var labels: [String] { parent.labels + newLabels }

    /// With `fixedEpochs` (0 allowed: the probe-initialised parent), it trains exactly that many
    /// epochs and keeps the last one — a refit whose epoch count an earlier, early-stopped run
    /// chose; `validation` is then only reported (and may be empty).
    public func run(train: [FineTuneExample], validation: [FineTuneExample], fixedEpochs: Int? = nil,
                    progress: (FineTuneEpoch) -> Void = { _ in }) throws -> FineTuneResult {
        let l = labels.count
        for example in train + validation {
            guard example.targets.count == l, example.mask.count == l, example.distil.count == l else {
                throw FineTuneError.badExample("an example has targets for \(example.targets.count) labels, the model has \(l)")
            }
            guard example.chunks.count > 0, example.chunks.nMels == parent.frontEnd.spectrogram.nMels,
                  example.chunks.frames == parent.frontEnd.chunkFrames else {
                throw FineTuneError.badExample("an example's chunks are not the model's \(parent.frontEnd.spectrogram.nMels)×\(parent.frontEnd.chunkFrames)")
            }
            if example.distil[parent.labels.count...].contains(true) {
                throw FineTuneError.badExample("a new label cannot be distilled from the parent, which does not know it")
            }
        }
        let chunkTotal = train.reduce(0) { $0 + min($1.chunks.count, config.chunksPerTrack) }
        guard chunkTotal >= 2, !validation.isEmpty || fixedEpochs != nil else {
            throw FineTuneError.badExample("\(train.count) training and \(validation.count) validation tracks are too few")
        }
        let candidate = try parent.growing(newLabels, seed: config.seed &+ 1)
        let network = candidate.network
        let corrected = train  // the examples as given: what a final probe fit learns from
        var train = train, validation = validation
        let holdNewRows = config.probeInit && config.newTagRows == .probe && !newLabels.isEmpty
        if config.probeInit {
            let fitted = try Self.probeInitialise(network, newFrom: parent.labels.count, train, l2: config.probeL2, normalise: config.probeNormalise)
            if config.newTagReplayWeight > 0 {
                for j in fitted {
                    for e in train.indices where train[e].mask[j] == 0 { train[e].mask[j] = config.newTagReplayWeight; train[e].distil[j] = true }
                    for e in validation.indices where validation[e].mask[j] == 0 { validation[e].mask[j] = config.newTagReplayWeight; validation[e].distil[j] = true }
                }
            }
        }
        let trainable = Self.trainable(network, config.layers)
        let frozenBuffers = Self.frozenBuffers(network, trainable: trainable)
        let optimizer = AdamW(parameters: network.parameters.filter { trainable.contains($0.name) },
                              learningRate: config.learningRate, weightDecay: config.weightDecay)
        // The teacher: the grown network before training — the parent on the old labels (their rows
        // are the parent's), the probe on new ones.
        let trainTargets = try softTargets(train, teacher: network), validationTargets = try softTargets(validation, teacher: network)
        let loss = BCEWithLogitsLoss()

        var history = [FineTuneEpoch(epoch: 0, trainLoss: nil,
                                     valLoss: try evaluate(network, validation, validationTargets, loss), seconds: 0)]
        let epochs = fixedEpochs.map { max(0, $0) } ?? config.epochs
        progress(history[0])
        var best = (epoch: 0, loss: history[0].valLoss, state: network.stateDict())
        var rng = Xoshiro256StarStar(seed: config.seed)
        let specAugment = SpecAugment(frequencyMasks: 2, maxFrequencyWidth: max(1, parent.frontEnd.spectrogram.nMels / 8),
                                      timeMasks: 2, maxTimeWidth: max(1, parent.frontEnd.chunkFrames / 8))
        var input = Tensor(zeros: [0]), target = Tensor(zeros: [0]), mask = Tensor(zeros: [0])
        for epoch in stride(from: 1, through: epochs, by: 1) {
            let started = Date()
            var items: [(example: Int, chunk: Int)] = []
            for (e, example) in train.enumerated() {
                var chunks = Array(0..<example.chunks.count)
                chunks.shuffle(using: &rng)
                items += chunks.prefix(config.chunksPerTrack).map { (e, $0) }
            }
            items.shuffle(using: &rng)
            // Batches of `batchSize`; a last batch of one would break batch norm, so it joins the previous.
            var batches: [ArraySlice<(example: Int, chunk: Int)>] = []
            var start = 0
            while start < items.count {
                var end = min(start + config.batchSize, items.count)
                if items.count - end == 1 { end += 1 }
                batches.append(items[start..<end])
                start = end
            }
            var total = 0.0
            for batch in batches {
                try fill(batch, train, trainTargets, augment: config.specAugment ? specAugment : nil, rng: &rng,
                         input: &input, target: &target, mask: &mask)
                network.zeroGrad()
                let output = try network.forward(input, training: true)
                let (value, gradient) = try loss(logits: output.logits, targets: target, mask: mask)
                guard value.isFinite else { throw FineTuneError.diverged(epoch: epoch, loss: value) }
                try network.backward(gradient)
                if let clip = config.gradClip { _ = clipGradNorm(optimizer.parameters, maxNorm: clip) }
                if holdNewRows { Self.zeroNewRowGradients(network, newFrom: parent.labels.count) }
                optimizer.step()
                total += Double(value)
            }
            // Frozen layers stay the parent's: their batch-norm statistics moved in training mode.
            for (entry, value) in frozenBuffers { entry.assign(value) }
            // Held rows follow the network epoch by epoch: the probe fitted again on its embeddings
            // now, so the validation loss judges the model this epoch would give.
            if holdNewRows { try Self.probeInitialise(network, newFrom: parent.labels.count, corrected, l2: config.probeL2, normalise: config.probeNormalise) }
            let record = FineTuneEpoch(epoch: epoch, trainLoss: total / Double(max(1, batches.count)),
                                       valLoss: try evaluate(network, validation, validationTargets, loss),
                                       seconds: Date().timeIntervalSince(started))
            history.append(record)
            progress(record)
            if fixedEpochs != nil {
                best = (epoch, record.valLoss, network.stateDict())
            } else if record.valLoss < best.loss {
                best = (epoch, record.valLoss, network.stateDict())
            } else if epoch - best.epoch >= config.patience {
                break
            }
        }
        try network.loadStateDict(Dictionary(uniqueKeysWithValues: best.state.map { ($0.name, $0.tensor) }))
        return FineTuneResult(bundle: candidate, history: history, bestEpoch: best.epoch,
                              trainableParameters: optimizer.parameters.reduce(0) { $0 + $1.value.count })
    }

    /// Per example, per chunk, the targets to learn: the teacher's probabilities where `distil`
    /// (the grown network before any training step), else the example's targets.
    private func softTargets(_ examples: [FineTuneExample], teacher network: any TaggingNetwork) throws -> [[Float]] {
        let l = labels.count
        return try examples.map { example in
            var rows = [Float]()
            rows.reserveCapacity(example.chunks.count * l)
            let teacher = example.distil.contains(true) ? try Self.chunkProbabilities(network, example.chunks) : []
            for c in 0..<example.chunks.count {
                for j in 0..<l {
                    rows.append(example.distil[j] ? teacher[c * l + j] : example.targets[j])
                }
            }
            return rows
        }
    }

    /// σ(logits) of every chunk (eval mode), (chunks, labels) row-major.
    static func chunkProbabilities(_ network: any TaggingNetwork, _ chunks: ChunkBatch, batchSize: Int = 32) throws -> [Float] {
        let size = chunks.nMels * chunks.frames
        var result: [Float] = []
        var start = 0
        while start < chunks.count {
            let n = min(batchSize, chunks.count - start)
            let input = try Tensor(shape: [n, 1, chunks.nMels, chunks.frames],
                                   data: Array(chunks.values[(start * size)..<((start + n) * size)]))
            result += try network.forward(input, training: false).logits.data.map(sigmoid)
            start += n
        }
        return result
    }

    /// The early-stopping loss, eval mode, over every chunk: the mean loss of the given targets
    /// (corrections) plus the mean loss of the distilled ones (what the parent knew), so the
    /// many soft labels of a track do not drown the few its users corrected.
    private func evaluate(_ network: any TaggingNetwork, _ examples: [FineTuneExample], _ targets: [[Float]],
                          _ loss: BCEWithLogitsLoss) throws -> Double {
        let l = labels.count
        var sums = [0.0, 0.0], weights = [0.0, 0.0]  // [given, distilled]
        for (e, example) in examples.enumerated() {
            let size = example.chunks.nMels * example.chunks.frames, n = example.chunks.count
            let input = try Tensor(shape: [n, 1, example.chunks.nMels, example.chunks.frames], data: Array(example.chunks.values[0..<(n * size)]))
            let logits = try network.forward(input, training: false).logits
            let target = try Tensor(shape: [n, l], data: targets[e])
            for part in 0..<2 {
                let row = (0..<l).map { j in (example.distil[j] == (part == 1)) ? example.mask[j] : 0 }
                let known = Double(row.reduce(0, +)) * Double(n)
                guard known > 0 else { continue }
                let mask = try Tensor(shape: [n, l], data: (0..<n).flatMap { _ in row })
                sums[part] += Double(try loss(logits: logits, targets: target, mask: mask).loss) * known
                weights[part] += known
            }
        }
        return (0..<2).reduce(0.0) { $0 + (weights[$1] > 0 ? sums[$1] / weights[$1] : 0) }
    }

    private func fill(_ batch: ArraySlice<(example: Int, chunk: Int)>, _ examples: [FineTuneExample], _ targets: [[Float]],
                      augment: SpecAugment?, rng: inout Xoshiro256StarStar,
                      input: inout Tensor, target: inout Tensor, mask: inout Tensor) throws {
        let m = parent.frontEnd.spectrogram.nMels, f = parent.frontEnd.chunkFrames, size = m * f
        let b = batch.count, l = labels.count
        if input.shape != [b, 1, m, f] { input = Tensor(zeros: [b, 1, m, f]) }
        if target.shape != [b, l] { target = Tensor(zeros: [b, l]); mask = Tensor(zeros: [b, l]) }
        for (i, item) in batch.enumerated() {
            let example = examples[item.example]
            var chunk = Spectrogram(nMels: m, frames: f, values: Array(example.chunks.values[(item.chunk * size)..<((item.chunk + 1) * size)]))
            if let augment { _ = try augment.apply(to: &chunk, using: &rng) }
            input.data.replaceSubrange((i * size)..<((i + 1) * size), with: chunk.values)
            target.data.replaceSubrange((i * l)..<((i + 1) * l), with: targets[item.example][(item.chunk * l)..<((item.chunk + 1) * l)])
            mask.data.replaceSubrange((i * l)..<((i + 1) * l), with: example.mask)
        }
    }

    /// Sets the classifier rows of labels `newFrom...` to a logistic regression (L2 penalty `l2`)
    /// on the network's mean embedding (eval mode) of each training track whose example has a
    /// target for the label (each track weighs its mask) — with `normalise`, L2-normalised and the
    /// row divided by the means' average norm; a label without both kinds of example keeps its
    /// random row. Returns the labels whose rows were fitted.
    @discardableResult
    static func probeInitialise(_ network: any TaggingNetwork, newFrom first: Int, _ examples: [FineTuneExample],
                                l2: Double = 1, normalise: Bool = false) throws -> [Int] {
        var state = Dictionary(uniqueKeysWithValues: network.stateDict().map { ($0.name, $0.tensor) })
        guard var weight = state["classifier.weight"], var bias = state["classifier.bias"], weight.shape.count == 2 else { return [] }
        let l = weight.shape[0], d = weight.shape[1]
        guard first < l else { return [] }
        var fitted: [Int] = []
        let used = examples.filter { $0.mask[first...].contains(where: { $0 > 0 }) }
        var embeddings: [[Float]] = []
        for example in used {
            let size = example.chunks.nMels * example.chunks.frames
            var rows: [Float] = []
            var start = 0
            while start < example.chunks.count {
                let n = min(32, example.chunks.count - start)
                let input = try Tensor(shape: [n, 1, example.chunks.nMels, example.chunks.frames],
                                       data: Array(example.chunks.values[(start * size)..<((start + n) * size)]))
                rows += try network.forward(input, training: false).embeddings.data
                start += n
            }
            embeddings.append(rows)
        }
        for j in first..<l {
            var features: [Float] = [], targets: [Float] = [], weights: [Float] = [], norms: [Float] = []
            for (example, rows) in zip(used, embeddings) where example.mask[j] > 0 {
                let n = example.chunks.count
                var mean = [Float](repeating: 0, count: d)
                for c in 0..<n { for k in 0..<d { mean[k] += rows[c * d + k] / Float(n) } }
                let norm = normalise ? max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), Float.leastNormalMagnitude) : 1
                features += mean.map { $0 / norm }
                norms.append(norm)
                targets.append(example.targets[j])
                weights.append(example.mask[j])
            }
            guard targets.contains(where: { $0 >= 0.5 }), targets.contains(where: { $0 < 0.5 }) else { continue }
            // With `normalise`: fitted on the L2-normalised track embeddings (those the catalog stores
            // and similarity compares), so λ means the same whatever the embedding's scale; the row
            // then acts on the network's raw embeddings divided by their mean norm.
            let fit = LogisticProbe.fit(features: features, dimension: d, targets: targets, weights: weights, l2: l2)
            let scale = norms.reduce(0, +) / Float(norms.count)
            weight.data.replaceSubrange((j * d)..<((j + 1) * d), with: fit.weight.map { $0 / scale })
            bias.data[j] = fit.bias
            fitted.append(j)
        }
        state["classifier.weight"] = weight
        state["classifier.bias"] = bias
        try network.loadStateDict(state)
        return fitted
    }

    /// Zeroes the classifier's gradient rows of labels `first...` (AdamW then leaves them where they are).
    static func zeroNewRowGradients(_ network: any TaggingNetwork, newFrom first: Int) {
        for p in network.parameters where p.name == "classifier.weight" || p.name == "classifier.bias" {
            let rows = p.value.shape[0], width = p.value.count / max(1, rows)
            guard first < rows else { continue }
            for i in (first * width)..<(rows * width) { p.grad.data[i] = 0 }
        }
    }

    /// Names of the parameters `layers` trains. The head is `embedding.*` and `classifier.*`
    /// (both networks); the last stage is the last convolutional group before it
    /// (`layers.K.*` in the ResNet, `features.K.*` in the baseline).
    static func trainable(_ network: any TaggingNetwork, _ layers: TrainableLayers) -> Set<String> {
        let names = network.parameters.map(\.name)
        let isHead = { (name: String) in name.hasPrefix("embedding.") || name.hasPrefix("classifier.") }
        switch layers {
        case .all: return Set(names)
        case .head: return Set(names.filter(isHead))
        case .lastStage:
            guard let last = names.last(where: { !isHead($0) }) else { return Set(names) }
            let prefix = last.split(separator: ".").prefix(2).joined(separator: ".") + "."
            return Set(names.filter { isHead($0) || $0.hasPrefix(prefix) })
        }
    }

    /// The buffers (batch-norm statistics) of layers whose parameters are all frozen, with
    /// their values now: a buffer belongs to the layer named by its name without the last part.
    static func frozenBuffers(_ network: any TaggingNetwork, trainable: Set<String>) -> [(StateEntry, Tensor)] {
        let trainedLayers = Set(trainable.map { $0.split(separator: ".").dropLast().joined(separator: ".") })
        return network.stateEntries.compactMap { entry in
            guard case .buffer = entry else { return nil }
            let layer = entry.name.split(separator: ".").dropLast().joined(separator: ".")
            return trainedLayers.contains(layer) ? nil : (entry, entry.tensor)
        }
    }
}

extension ModelBundle {
    /// A copy with `newLabels` appended: a new network with the same weights, whose classifier
    /// keeps every old row and gets new rows initialised as PyTorch's `nn.Linear` (from `seed`).
    public func growing(_ newLabels: [String], seed: UInt64) throws -> ModelBundle {
        var config = network.config
        let old = config.numGenres
        config.numGenres = old + newLabels.count
        let grown = makeNetwork(config, seed: seed)
        var state = Dictionary(uniqueKeysWithValues: network.stateDict().map { ($0.name, $0.tensor) })
        if !newLabels.isEmpty {
            let fresh = Dictionary(uniqueKeysWithValues: grown.stateDict().map { ($0.name, $0.tensor) })
            guard let weight = state["classifier.weight"], let newWeight = fresh["classifier.weight"],
                  let bias = state["classifier.bias"], let newBias = fresh["classifier.bias"] else {
                throw FineTuneError.badExample("the network has no classifier.weight and classifier.bias to grow")
            }
            let inFeatures = weight.shape[1]
            state["classifier.weight"] = try Tensor(shape: [config.numGenres, inFeatures],
                                                    data: weight.data + newWeight.data[(old * inFeatures)...])
            state["classifier.bias"] = try Tensor(shape: [config.numGenres], data: bias.data + newBias.data[old...])
        }
        try grown.loadStateDict(state)
        return ModelBundle(network: grown, labels: labels + newLabels, frontEnd: frontEnd, normalization: normalization, info: info)
    }

    /// Track-level probabilities (mean of chunk sigmoids, label order) of normalised chunks.
    public func trackProbabilities(_ chunks: ChunkBatch) throws -> [Float] {
        let perChunk = try FineTuner.chunkProbabilities(network, chunks)
        let l = labels.count
        var mean = [Float](repeating: 0, count: l)
        for c in 0..<chunks.count { for j in 0..<l { mean[j] += perChunk[c * l + j] } }
        return mean.map { $0 / Float(max(1, chunks.count)) }
    }
}
