/// The shape of a tagging network, as saved next to its checkpoint. JSON/YAML keys are the
/// reference's snake_case argument names (`num_genres`, `base_channels`, …); absent keys take
/// the defaults below, which are the reference model's.
public struct ArchitectureConfig: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case resnetSE = "resnet_se"
        case baseline
        /// The ResNet-SE's stages, then per-frame features (mean over frequency) through an LSTM,
        /// its outputs averaged over time, into the same head.
        case cnnLSTM = "cnn_lstm"
        /// musicnn (Pons & Serra), imported from its TensorFlow checkpoints: timbral and temporal
        /// convolutions over the whole mel axis, dense 1-D convolutions along time, max + mean
        /// over time, two dense layers. Inference only (`MusicnnNetwork`).
        case musicnn
    }

    public var kind: Kind = .resnetSE
    public var numGenres: Int
    public var inputChannels = 1
    /// Width of the stem and first stage (64 for the ResNet-SE model, 32 in the seed's baseline).
    public var baseChannels = 64
    public var useAttention = true
    public var embeddingDim = 256
    public var dropout: Float = 0.3
    /// Residual blocks per stage; stage i has width baseChannels·2ⁱ.
    public var blocks = [2, 3, 2]
    /// Squeeze-and-excitation reduction r: hidden width max(1, channels / r).
    public var attentionReduction = 16
    /// `cnn_lstm` only: the LSTM's hidden size per direction, its layers, and whether it also
    /// reads the sequence backwards.
    public var lstmHidden = 128
    public var lstmLayers = 1
    public var bidirectional = true
    /// `musicnn` only: the mel bands of its input (the timbral kernels span ⌊0.4·n⌋ and ⌊0.7·n⌋ of
    /// them), the filters of each timbral and temporal convolution and of the mid-end's
    /// convolutions (musicnn's MTT and MSD models: 96, 204, 51, 64; `embedding_dim` is its 200
    /// back-end units).
    public var inputMels = 96
    public var timbralFilters = 204
    public var temporalFilters = 51
    public var midendFilters = 64

    public init(kind: Kind = .resnetSE, numGenres: Int, inputChannels: Int = 1, baseChannels: Int = 64,
                useAttention: Bool = true, embeddingDim: Int = 256, dropout: Float = 0.3,
                blocks: [Int] = [2, 3, 2], attentionReduction: Int = 16,
                lstmHidden: Int = 128, lstmLayers: Int = 1, bidirectional: Bool = true) {
        self.kind = kind; self.numGenres = numGenres; self.inputChannels = inputChannels
        self.baseChannels = baseChannels; self.useAttention = useAttention; self.embeddingDim = embeddingDim
        self.dropout = dropout; self.blocks = blocks; self.attentionReduction = attentionReduction
        self.lstmHidden = lstmHidden; self.lstmLayers = lstmLayers; self.bidirectional = bidirectional
    }

    enum CodingKeys: String, CodingKey {
        case kind
        case numGenres = "num_genres"
        case inputChannels = "input_channels"
        case baseChannels = "base_channels"
        case useAttention = "use_attention"
        case embeddingDim = "embedding_dim"
        case dropout
        case blocks
        case attentionReduction = "attention_reduction"
        case lstmHidden = "lstm_hidden"
        case lstmLayers = "lstm_layers"
        case bidirectional
        case inputMels = "input_mels"
        case timbralFilters = "timbral_filters"
        case temporalFilters = "temporal_filters"
        case midendFilters = "midend_filters"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ArchitectureConfig(numGenres: 0)
        numGenres = try c.decode(Int.self, forKey: .numGenres)
        kind = try c.decodeIfPresent(Kind.self, forKey: .kind) ?? defaults.kind
        inputChannels = try c.decodeIfPresent(Int.self, forKey: .inputChannels) ?? defaults.inputChannels
        baseChannels = try c.decodeIfPresent(Int.self, forKey: .baseChannels) ?? defaults.baseChannels
        useAttention = try c.decodeIfPresent(Bool.self, forKey: .useAttention) ?? defaults.useAttention
        embeddingDim = try c.decodeIfPresent(Int.self, forKey: .embeddingDim) ?? defaults.embeddingDim
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? defaults.dropout
        blocks = try c.decodeIfPresent([Int].self, forKey: .blocks) ?? defaults.blocks
        attentionReduction = try c.decodeIfPresent(Int.self, forKey: .attentionReduction) ?? defaults.attentionReduction
        lstmHidden = try c.decodeIfPresent(Int.self, forKey: .lstmHidden) ?? defaults.lstmHidden
        lstmLayers = try c.decodeIfPresent(Int.self, forKey: .lstmLayers) ?? defaults.lstmLayers
        bidirectional = try c.decodeIfPresent(Bool.self, forKey: .bidirectional) ?? defaults.bidirectional
        inputMels = try c.decodeIfPresent(Int.self, forKey: .inputMels) ?? defaults.inputMels
        timbralFilters = try c.decodeIfPresent(Int.self, forKey: .timbralFilters) ?? defaults.timbralFilters
        temporalFilters = try c.decodeIfPresent(Int.self, forKey: .temporalFilters) ?? defaults.temporalFilters
        midendFilters = try c.decodeIfPresent(Int.self, forKey: .midendFilters) ?? defaults.midendFilters
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(numGenres, forKey: .numGenres)
        try c.encode(inputChannels, forKey: .inputChannels)
        try c.encode(baseChannels, forKey: .baseChannels)
        try c.encode(useAttention, forKey: .useAttention)
        try c.encode(embeddingDim, forKey: .embeddingDim)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(blocks, forKey: .blocks)
        try c.encode(attentionReduction, forKey: .attentionReduction)
        // Written only where they mean something, so other models' configs read as before.
        if kind == .cnnLSTM {
            try c.encode(lstmHidden, forKey: .lstmHidden)
            try c.encode(lstmLayers, forKey: .lstmLayers)
            try c.encode(bidirectional, forKey: .bidirectional)
        }
        if kind == .musicnn {
            try c.encode(inputMels, forKey: .inputMels)
            try c.encode(timbralFilters, forKey: .timbralFilters)
            try c.encode(temporalFilters, forKey: .temporalFilters)
            try c.encode(midendFilters, forKey: .midendFilters)
        }
    }

    /// What is wrong with this configuration, empty when a network can be built from it.
    public var problems: [String] {
        var found: [String] = []
        // Upper bounds only keep absurd values from exhausting memory; real models are far below.
        func check(_ name: String, _ value: Int, _ upper: Int) {
            if !(1...upper).contains(value) { found.append("\(name) must be in 1...\(upper), got \(value)") }
        }
        check("num_genres", numGenres, 100_000)
        check("input_channels", inputChannels, 64)
        check("base_channels", baseChannels, 1024)
        check("embedding_dim", embeddingDim, 65_536)
        if !(dropout >= 0 && dropout < 1) { found.append("dropout must be in [0, 1), got \(dropout)") }
        if kind == .cnnLSTM {
            check("lstm_hidden", lstmHidden, 8192)
            check("lstm_layers", lstmLayers, 8)
        }
        if kind == .musicnn {
            check("input_mels", inputMels, 4096)
            if inputMels < 3 { found.append("input_mels must be at least 3 (the narrower timbral kernel spans 0.4 of them), got \(inputMels)") }
            check("timbral_filters", timbralFilters, 4096)
            check("temporal_filters", temporalFilters, 4096)
            check("midend_filters", midendFilters, 4096)
            if inputChannels != 1 { found.append("a musicnn model reads 1 input channel, got input_channels \(inputChannels)") }
        }
        if kind == .resnetSE || kind == .cnnLSTM {
            if blocks.isEmpty || blocks.contains(where: { $0 < 1 }) {
                found.append("blocks must list at least one stage, each with at least 1 block, got \(blocks)")
            }
            if blocks.count > 8 { found.append("blocks may list at most 8 stages, got \(blocks.count)") }
            if attentionReduction < 1 { found.append("attention_reduction must be at least 1, got \(attentionReduction)") }
            if blocks.contains(where: { $0 > 64 }) { found.append("blocks may hold at most 64 per stage, got \(blocks)") }
        }
        return found
    }

    /// Throws unless a network can be built from this configuration.
    public func validate() throws(ArchitectureConfigError) {
        let found = problems
        if !found.isEmpty { throw ArchitectureConfigError(problems: found) }
    }
}

/// An architecture configuration that describes no buildable network.
public struct ArchitectureConfigError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String {
        "invalid model architecture: " + problems.joined(separator: "; ") + "; fix the model configuration"
    }
}
