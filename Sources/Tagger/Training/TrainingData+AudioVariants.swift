import Features

/// How training uses the audio variants `prepare` rendered (`augmentation.audio`): each example
/// is, with probability `probability`, the chunk at the same place in one of its track's
/// variants (picked uniformly) instead of the original chunk. The draws come from the epoch's
/// generator, so a run stays deterministic and `--resume` exact; with audio augmentation off (or
/// a track without variants) nothing is drawn, and batches are those of a run without it.
extension TrainingData {
    static func variantLists(of tracks: [Int], in cache: ChunkCache, split: String, upTo count: Int) -> [[CachedVariant]] {
        guard count > 0, split == "train", let all = cache.index.variants, !all.isEmpty else { return tracks.map { _ in [] } }
        let byPath = Dictionary(grouping: all.filter { $0.number <= count }, by: \.path)
        return tracks.map { t in
            let track = cache.index.tracks[t]
            guard track.split == "train" else { return [] }  // never a validation or test track's
            return (byPath[track.path] ?? []).sorted { $0.number < $1.number }
        }
    }

    /// Variants of this split's tracks in use.
    public var variantCount: Int { variants.reduce(0) { $0 + $1.count } }

    /// With probability `probability`, one of the item's track's variants and the chunk of it
    /// that starts at the same share of the track (a stretched variant has more or fewer chunks).
    func variantChunk(for item: (track: Int, chunk: Int), probability: Float,
                      using rng: inout Xoshiro256StarStar) -> (variant: CachedVariant, chunk: Int)? {
        guard item.track < variants.count, !variants[item.track].isEmpty,
              Float.random(in: 0..<1, using: &rng) < probability else { return nil }
        let choices = variants[item.track]
        let variant = choices[Int.random(in: 0..<choices.count, using: &rng)]
        let length = max(1, cache.index.tracks[tracks[item.track]].chunkCount)
        return (variant, min(variant.chunkCount - 1, item.chunk * variant.chunkCount / length))
    }

    /// Why training with `config` on this (train) split can't use audio variants, or nil.
    func audioVariantProblem(_ config: AudioAugmentationConfig, dataDirectory: String) -> String? {
        let wanted = AudioVariantSettings(seed: 0, config: config).summary
        guard variantCount > 0, let settings = cache.index.variantSettings else {
            return "augmentation.audio is enabled, but \(dataDirectory) has no audio variants of its training tracks: run `timbre prepare` on it again with this config (--config), which renders them (\(wanted))"
        }
        guard settings.sameEffects(as: config) else {
            return "augmentation.audio asks for \(wanted), but the variants in \(dataDirectory) were rendered with \(settings.summary): run `timbre prepare` on it again with this config (--config) to render them anew"
        }
        return nil
    }
}
