import Features

/// Everything one training run needs, loaded from `configs/NAME.yaml` over these defaults
/// (see `ConfigLayering`), then overridden by `timbre train` flags. Keys are snake_case,
/// as in the seed's YAML. The resolved value is written to the run's `config.yaml`.
public struct ExperimentConfig: Codable, Sendable, Equatable {
    public var experimentName = "default"
    public var seed: UInt64 = 42
    /// Only "cpu" runs here; anything else is refused with an explanation.
    public var device = "cpu"
    /// The prepared corpus (`timbre prepare --output-dir`).
    public var dataDir = "data/processed"
    /// Runs go to `<output_dir>/<experiment_name>/`.
    public var outputDir = "models/trained_models"
    /// The audio front end `timbre prepare` uses when given this config.
    public var audio = SpectrogramConfig()
    public var chunking = ChunkingConfig(frames: 128, hop: 128, maxChunks: nil)
    /// `num_genres` 0 means "as many as the prepared data has tags".
    public var model = ArchitectureConfig(numGenres: 0)
    public var training = TrainingConfig()
    public var augmentation = AugmentationConfig()
    public var prediction = PredictionConfig()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case experimentName = "experiment_name", seed, device, dataDir = "data_dir", outputDir = "output_dir"
        case audio, chunking, model, training, augmentation, prediction
    }
}

public struct TrainingConfig: Codable, Sendable, Equatable {
    public var epochs = 30
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    /// adamw, adam or sgd.
    public var optimizer = "adamw"
    public var weightDecay: Float = 1e-4
    /// SGD only.
    public var momentum: Float = 0.9
    /// none, cosine, step or plateau.
    public var lrSchedule = "cosine"
    public var stepSize = 10
    public var gamma: Float = 0.1
    public var warmupEpochs = 1
    /// Clip the global gradient norm to this; nil leaves gradients alone.
    public var gradClip: Float? = 5
    /// Optimizer step every N batches (an effective batch of N × batch_size).
    public var accumulationSteps = 1
    /// A validation metric of `MultiLabelMetrics` (pr_auc_macro, roc_auc_macro, f1_macro, …) or val_loss.
    public var earlyStoppingMetric = "pr_auc_macro"
    public var earlyStoppingPatience = 8
    /// auto (negatives/positives per tag, from the training split) or none.
    public var posWeight = "auto"
    /// Upper bound of an automatic pos_weight, so a tag with 2 examples doesn't dominate.
    public var maxPosWeight: Float = 20
    /// Training chunks per track per epoch, sampled anew each epoch (nil: all of them).
    public var chunksPerTrack: Int? = nil
    /// Weight of a soft (distillation) target against a hard tag, when the prepared data has
    /// soft labels (`timbre prepare --soft-labels`); 0 ignores them and the tracks that have only them.
    public var distillationWeight: Float = 1
    /// Training chunks per epoch of a track with soft targets only (a real recording only a
    /// teacher labelled, usually long); nil: `chunks_per_track`.
    public var softOnlyChunksPerTrack: Int? = nil
    /// A teacher's track embeddings (`timbre soft-labels --embeddings-out`), a CSV whose paths are
    /// the prepared corpus's; empty: none.
    public var teacherEmbeddings = ""
    /// Weight of the similarity-preserving loss on them (`RelationalDistillation`): within a
    /// batch, the student embeddings' cosine similarities are drawn to the teacher's; 0: off.
    public var relationalDistillationWeight: Float = 0
    /// cosine (the squared difference of cosine similarities) or neighbours (the KL divergence
    /// of each example's softmax over the others' similarities at `relational_distillation_temperature`).
    public var relationalDistillationLoss = "cosine"
    public var relationalDistillationTemperature: Float = 0.1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, batchSize = "batch_size", learningRate = "learning_rate", optimizer
        case weightDecay = "weight_decay", momentum, lrSchedule = "lr_schedule", stepSize = "step_size", gamma
        case warmupEpochs = "warmup_epochs", gradClip = "grad_clip", accumulationSteps = "accumulation_steps"
        case earlyStoppingMetric = "early_stopping_metric", earlyStoppingPatience = "early_stopping_patience"
        case posWeight = "pos_weight", maxPosWeight = "max_pos_weight", chunksPerTrack = "chunks_per_track"
        case distillationWeight = "distillation_weight", softOnlyChunksPerTrack = "soft_only_chunks_per_track"
        case teacherEmbeddings = "teacher_embeddings", relationalDistillationWeight = "relational_distillation_weight"
        case relationalDistillationLoss = "relational_distillation_loss"
        case relationalDistillationTemperature = "relational_distillation_temperature"
    }
}

public struct AugmentationConfig: Codable, Sendable, Equatable {
    public var specAugment = true
    public var frequencyMasks = 2
    public var maxFrequencyWidth = 15
    public var timeMasks = 2
    public var maxTimeWidth = 20
    /// Beta(α, α) for mixup; 0 turns mixup off.
    public var mixupAlpha: Float = 0.2
    /// Share of batches that are mixed.
    public var mixupProbability: Float = 0.5
    /// Pitch shift, time stretch and noise, rendered by `prepare` (see `AudioAugmentationConfig`).
    public var audio = AudioAugmentationConfig()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case specAugment = "spec_augment", frequencyMasks = "frequency_masks", maxFrequencyWidth = "max_frequency_width"
        case timeMasks = "time_masks", maxTimeWidth = "max_time_width", mixupAlpha = "mixup_alpha"
        case mixupProbability = "mixup_probability", audio
    }
}

/// How a whole track becomes one prediction: chunks every `chunk_hop` frames, at most
/// `max_chunks` of them spread evenly over a long track, probabilities averaged.
public struct PredictionConfig: Codable, Sendable, Equatable {
    public var chunkHop = 64
    public var maxChunks = 24
    public var threshold: Float = 0.5
    public var topK = 5

    public init() {}

    enum CodingKeys: String, CodingKey {
        case chunkHop = "chunk_hop", maxChunks = "max_chunks", threshold, topK = "top_k"
    }
}

extension ExperimentConfig {
    /// Problems that would stop a run, all at once.
    public var problems: [String] {
        var found: [String] = []
        if device != "cpu" {
            found.append("device \(device) is not available: Timbre trains on the CPU (OpenBLAS, all cores); use device: cpu")
        }
        if experimentName.isEmpty || experimentName.contains("/") { found.append("experiment_name must be a non-empty name without '/'") }
        let t = training
        if t.epochs < 1 { found.append("training.epochs must be at least 1") }
        if t.batchSize < 2 { found.append("training.batch_size must be at least 2 (batch norm needs two samples)") }
        if !(t.learningRate > 0) { found.append("training.learning_rate must be positive") }
        if !["adamw", "adam", "sgd"].contains(t.optimizer) { found.append("training.optimizer must be adamw, adam or sgd, got \(t.optimizer)") }
        if !["none", "cosine", "step", "plateau"].contains(t.lrSchedule) {
            found.append("training.lr_schedule must be none, cosine, step or plateau, got \(t.lrSchedule)")
        }
        if t.accumulationSteps < 1 { found.append("training.accumulation_steps must be at least 1") }
        if !["auto", "none"].contains(t.posWeight) { found.append("training.pos_weight must be auto or none, got \(t.posWeight)") }
        if let c = t.chunksPerTrack, c < 1 { found.append("training.chunks_per_track must be at least 1") }
        if !(t.distillationWeight >= 0) || !t.distillationWeight.isFinite { found.append("training.distillation_weight must be 0 or more") }
        if let c = t.softOnlyChunksPerTrack, c < 1 { found.append("training.soft_only_chunks_per_track must be at least 1") }
        if !(t.relationalDistillationWeight >= 0) || !t.relationalDistillationWeight.isFinite {
            found.append("training.relational_distillation_weight must be 0 or more")
        } else if t.relationalDistillationWeight > 0 && t.teacherEmbeddings.isEmpty {
            found.append("training.relational_distillation_weight needs training.teacher_embeddings (a CSV from `timbre soft-labels --embeddings-out`)")
        }
        if !["cosine", "neighbours"].contains(t.relationalDistillationLoss) {
            found.append("training.relational_distillation_loss must be cosine or neighbours, got \(t.relationalDistillationLoss)")
        }
        if !(t.relationalDistillationTemperature > 0) || !t.relationalDistillationTemperature.isFinite {
            found.append("training.relational_distillation_temperature must be positive")
        }
        if augmentation.mixupAlpha < 0 { found.append("augmentation.mixup_alpha must be >= 0") }
        found += augmentation.audio.problems
        if prediction.chunkHop < 1 || prediction.maxChunks < 1 { found.append("prediction.chunk_hop and max_chunks must be at least 1") }
        var model = self.model
        if model.numGenres == 0 { model.numGenres = 1 }  // filled from the data later
        found += model.problems
        return found
    }
}
