"""musicnn's TensorFlow checkpoints → Timbre model bundles, and musicnn's graph in TensorFlow.

Shared by tools/musicnn/convert.py (the real MTT/MSD checkpoints of the musicnn 0.1.0 wheel)
and tools/golden/make_musicnn_fixtures.py (a tiny random model written as a checkpoint of the
same variable names): both go through `read_checkpoint` → `timbre_state` → `write_bundle`, and
both take their expected outputs from `tf_forward`.

`tf_forward` is this project's own TensorFlow code for musicnn's `build_musicnn`
(musicnn/models.py: frontend '7774timbraltemporal', midend, backend 'globalpool_dense') at
inference (is_training=False): the same ops in the same order, parameterised by the
checkpoint's shapes. The checkpoint's variables are those `tf.compat.v1.layers` names in
graph-construction order: batch_normalization{,_1,…,_10}, conv2d{,_1,…,_7}, dense{,_1}.
"""
from __future__ import annotations

import json

import numpy as np

# The order in which build_musicnn creates its layers (tf.compat.v1.layers numbers them so).
TIMBRAL_SHARES = (0.4, 0.7)
TEMPORAL_KERNELS = (128, 64, 32)
MIDEND_KERNEL = 7
BN_EPS = 0.001  # tf.layers.batch_normalization's default


def layer_name(base: str, i: int) -> str:
    return base if i == 0 else f"{base}_{i}"


def read_checkpoint(prefix: str) -> dict[str, np.ndarray]:
    """The model variables of a TF1 checkpoint (`prefix` as for tf.train.Saver.restore), without
    the optimiser's slots (…/Adam, beta1_power) and counters."""
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    out = {}
    for name in reader.get_variable_to_shape_map():
        if name.endswith("/Adam") or name.endswith("/Adam_1") or "power" in name or name == "global_step":
            continue
        out[name] = reader.get_tensor(name)
    return out


def write_checkpoint(prefix: str, variables: dict[str, np.ndarray]) -> None:
    """A TF V2 checkpoint (prefix.index + prefix.data-…) of `variables`, as tf.train.Saver writes."""
    import tensorflow as tf

    names = sorted(variables)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(variables[n]) for n in names])


def shapes(v: dict[str, np.ndarray], mels: int) -> dict:
    """The architecture a checkpoint holds (filter counts from its kernels), checked against
    musicnn's code for `mels` input bands."""
    t0 = v["conv2d/kernel"]
    timbral, temporal = t0.shape[3], v["conv2d_2/kernel"].shape[3]
    midend, units = v["conv2d_5/kernel"].shape[3], v["dense/kernel"].shape[1]
    classes = v["dense_1/kernel"].shape[1]
    for i, share in enumerate(TIMBRAL_SHARES):
        want = (7, int(share * mels), 1, timbral)
        got = v[layer_name("conv2d", i) + "/kernel"].shape
        if tuple(got) != want:
            raise SystemExit(f"conv2d_{i}: kernel {got}, expected {want} for {mels} mel bands")
    for j, length in enumerate(TEMPORAL_KERNELS):
        got = v[layer_name("conv2d", 2 + j) + "/kernel"].shape
        if tuple(got) != (length, 1, 1, temporal):
            raise SystemExit(f"conv2d_{2 + j}: kernel {got}, expected {(length, 1, 1, temporal)}")
    front = 2 * timbral + 3 * temporal
    if tuple(v["conv2d_5/kernel"].shape) != (MIDEND_KERNEL, front, 1, midend):
        raise SystemExit(f"conv2d_5: kernel {v['conv2d_5/kernel'].shape}, expected {(MIDEND_KERNEL, front, 1, midend)}")
    if v["dense/kernel"].shape[0] != 2 * (front + 3 * midend):
        raise SystemExit(f"dense: kernel {v['dense/kernel'].shape}, expected {2 * (front + 3 * midend)} inputs")
    return dict(input_mels=mels, timbral_filters=int(timbral), temporal_filters=int(temporal),
                midend_filters=int(midend), embedding_dim=int(units), num_genres=int(classes))


def timbre_state(v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The checkpoint as MusicnnNetwork's state_dict (PyTorch shapes and names)."""
    out: dict[str, np.ndarray] = {}

    def bn(name: str, i: int) -> None:
        src = layer_name("batch_normalization", i)
        out[f"{name}.weight"] = v[f"{src}/gamma"]
        out[f"{name}.bias"] = v[f"{src}/beta"]
        out[f"{name}.running_mean"] = v[f"{src}/moving_mean"]
        out[f"{name}.running_var"] = v[f"{src}/moving_variance"]
        out[f"{name}.num_batches_tracked"] = np.array(0, dtype=np.int64)

    def conv(name: str, i: int, one_d: bool = False) -> None:
        src = layer_name("conv2d", i)
        k = v[f"{src}/kernel"]
        # TF (kh, kw, C, K) → (K, C, kh, kw); the mid-end's (7, C, 1, K) spans all C features as
        # its width, which MusicnnNetwork reads as C channels of a (T, 1) plane: (K, C, 7, 1).
        w = np.transpose(k[:, :, 0, :], (2, 1, 0))[..., None] if one_d else np.transpose(k, (3, 2, 0, 1))
        out[f"{name}.weight"] = np.ascontiguousarray(w)
        out[f"{name}.bias"] = v[f"{src}/bias"]

    bn("input_norm", 0)
    names = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2"]
    for i, name in enumerate(names):
        conv(f"{name}.conv", i)
        bn(f"{name}.norm", 1 + i)
    for i in range(3):
        conv(f"midend.{i}.conv", 5 + i, one_d=True)
        bn(f"midend.{i}.norm", 6 + i)
    bn("pool_norm", 9)
    out["embedding.0.weight"] = np.ascontiguousarray(v["dense/kernel"].T)
    out["embedding.0.bias"] = v["dense/bias"]
    bn("embedding.1", 10)
    out["classifier.weight"] = np.ascontiguousarray(v["dense_1/kernel"].T)
    out["classifier.bias"] = v["dense_1/bias"]
    return {k: (a if a.dtype == np.int64 else a.astype(np.float32)) for k, a in out.items()}


def front_end(mels: int = 96, patch: int = 187) -> dict:
    """musicnn's input: librosa.feature.melspectrogram(sr=16000, n_fft=512, hop_length=256,
    n_mels=96) with librosa's defaults of 2019 (power 2, Slaney mel scale and norm, centred, Hann,
    reflect padding — the default before librosa 0.10), then log10(1 + 10000·S); patches of 187
    frames (librosa.time_to_frames(3 s) + 1) every 187 frames."""
    return {
        "spectrogram": {"sr": 16000, "n_fft": 512, "hop_length": 256, "win_length": None, "center": True,
                        "pad_mode": "reflect", "power": 2.0, "n_mels": mels, "fmin": 0.0, "fmax": None,
                        "htk": False, "norm": "slaney", "top_db": None, "amin": 1e-10, "ref": 1.0,
                        "compression": "log10_1p", "log_scale": 10000.0},
        "chunk_frames": patch,
        "chunk_hop": patch,
    }


def write_bundle(path: str, v: dict[str, np.ndarray], labels: list[str], mels: int, source: str,
                 patch: int = 187) -> dict:
    """A Timbre model bundle (timbre-model/1) of the checkpoint variables `v`."""
    from safetensors.numpy import save_file

    arch = shapes(v, mels)
    if arch["num_genres"] != len(labels):
        raise SystemExit(f"{len(labels)} labels but the checkpoint has {arch['num_genres']} outputs")
    architecture = dict(kind="musicnn", input_channels=1, dropout=0.5, **arch)
    metadata = {
        "format": "timbre-model/1",
        "labels": json.dumps(labels),
        "architecture": json.dumps(architecture, sort_keys=True),
        "front_end": json.dumps(front_end(mels, patch), sort_keys=True),
        "normalization": json.dumps({"mean": 0.0, "std": 1.0}),
        "source": json.dumps(source),
    }
    save_file(timbre_state(v), path, metadata=metadata)
    return architecture


def tf_forward(v: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    """musicnn's inference graph on patches x (B, T, F) float32: logits, sigmoid probabilities
    and the penultimate layer (the embedding), each per patch."""
    return {k: t.numpy() for k, t in tf_graph(v, x).items()}


def tf_graph(v: dict[str, np.ndarray], x) -> dict:
    """`tf_forward`'s ops as tensors, eager or inside a `tf.function` (x: (B, T, F) float32, B
    may be unknown), so a caller can trace the graph once and run it on any number of patches."""
    import tensorflow as tf

    def bn(t, i):
        s = layer_name("batch_normalization", i)
        return tf.nn.batch_normalization(t, v[f"{s}/moving_mean"], v[f"{s}/moving_variance"],
                                         v[f"{s}/beta"], v[f"{s}/gamma"], BN_EPS)

    def conv(t, i, padding):
        s = layer_name("conv2d", i)
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(t, v[f"{s}/kernel"], strides=1, padding=padding), v[f"{s}/bias"]))

    def freq_pool(t):  # max_pooling2d(pool_size=[1, W], strides=[1, W]), then squeeze
        w = t.shape[2]
        return tf.squeeze(tf.nn.max_pool2d(t, ksize=[1, w], strides=[1, w], padding="VALID"), [2])

    x = tf.convert_to_tensor(x, dtype=tf.float32)
    inp = bn(tf.expand_dims(x, 3), 0)
    pad7 = tf.pad(inp, [[0, 0], [3, 3], [0, 0], [0, 0]], "CONSTANT")
    front = [freq_pool(bn(conv(pad7, i, "VALID"), 1 + i)) for i in range(2)]
    front += [freq_pool(bn(conv(inp, 2 + j, "SAME"), 3 + j)) for j in range(3)]
    front = tf.concat(front, 2)

    # midend: convolutions spanning all features, transposed back to (B, T, K, 1)
    h = tf.expand_dims(front, 3)
    mids = [h]
    prev = None
    for i in range(3):
        src = mids[-1]
        c = bn(conv(tf.pad(src, [[0, 0], [3, 3], [0, 0], [0, 0]], "CONSTANT"), 5 + i, "VALID"), 6 + i)
        c = tf.transpose(c, [0, 1, 3, 2])
        if prev is not None:
            c = tf.add(c, prev)
        mids.append(c)
        prev = c
    features = tf.concat(mids, 2)

    max_pool = tf.reduce_max(features, axis=1)
    mean_pool, _ = tf.nn.moments(features, axes=[1])
    flat = tf.reshape(tf.concat([max_pool, mean_pool], 2), [tf.shape(x)[0], -1])
    flat = bn(flat, 9)
    dense = tf.nn.relu(tf.matmul(flat, v["dense/kernel"]) + v["dense/bias"])
    penultimate = bn(dense, 10)
    logits = tf.matmul(penultimate, v["dense_1/kernel"]) + v["dense_1/bias"]
    return {"logits": logits, "probabilities": tf.nn.sigmoid(logits), "embeddings": penultimate}
