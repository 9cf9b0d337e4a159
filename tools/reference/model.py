"""PyTorch reference of Timbre's tagging networks (docs: ENGINE contract, DESIGN.md).

This is the model the Swift engine (`NeuralNet` + `Tagger`) re-implements; the
parameter and buffer names are the `state_dict` names, so checkpoints move between
the two. `tools/golden/make_model_fixtures.py` uses it to write the golden fixtures
of `Tests/TaggerTests/GoldenModelTests.swift`.
"""
from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2018): per-channel gates from global means."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B,C,H,W)
        s = x.mean(dim=(2, 3))
        s = torch.relu(self.fc1(s))
        s = torch.sigmoid(self.fc2(s))
        return x * s[:, :, None, None]


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN (+SE) + shortcut, then ReLU (He et al., 2016)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, use_attention: bool = True,
                 reduction: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.attention = ChannelAttention(out_ch, reduction) if use_attention else None
        self.shortcut = (nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))
                         if stride != 1 or in_ch != out_ch else None)  # None = identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.attention is not None:
            out = self.attention(out)
        out = out + (self.shortcut(x) if self.shortcut is not None else x)
        return torch.relu(out)


class MultiLabelAudioCNN(nn.Module):
    """ResNet-style CNN with channel attention over (B, C, n_mels, frames) log-mel chunks."""

    def __init__(self, num_genres: int, input_channels: int = 1, base_channels: int = 64,
                 use_attention: bool = True, embedding_dim: int = 256, dropout: float = 0.3,
                 blocks=(2, 3, 2), reduction: int = 16):
        super().__init__()
        b = base_channels
        self.stem = nn.Sequential(nn.Conv2d(input_channels, b, 7, 2, 3, bias=False), nn.BatchNorm2d(b),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        widths = [b * 2 ** i for i in range(len(blocks))]
        stages, in_ch = [], b
        for i, (w, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(*[ResidualBlock(in_ch if j == 0 else w, w, stride if j == 0 else 1,
                                                        use_attention, reduction) for j in range(n)]))
            in_ch = w
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.embedding = nn.Sequential(nn.Linear(widths[-1], embedding_dim), nn.BatchNorm1d(embedding_dim),
                                       nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, num_genres)

    def get_embeddings(self, x: torch.Tensor) -> torch.Tensor:  # (B, embedding_dim)
        return self.embedding(self.pool(self.layers(self.stem(x))).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits (B, num_genres)
        return self.classifier(self.dropout(self.get_embeddings(x)))


class BaselineCNN(nn.Module):
    """The seed's baseline: four conv-BN-ReLU-maxpool stages, no attention, no residuals."""

    def __init__(self, num_genres: int, input_channels: int = 1, base_channels: int = 32,
                 embedding_dim: int = 256, dropout: float = 0.3):
        super().__init__()
        b = base_channels
        chans = [b, 2 * b, 4 * b, 8 * b]
        layers, c_in = [], input_channels
        for c in chans:
            layers.append(nn.Sequential(nn.Conv2d(c_in, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                        nn.MaxPool2d(2)))
            c_in = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.embedding = nn.Sequential(nn.Linear(chans[-1], embedding_dim), nn.BatchNorm1d(embedding_dim),
                                       nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, num_genres)

    def get_embeddings(self, x: torch.Tensor) -> torch.Tensor:  # (B, embedding_dim)
        return self.embedding(self.pool(self.features(x)).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits (B, num_genres)
        return self.classifier(self.dropout(self.get_embeddings(x)))


class CNNLSTM(nn.Module):
    """The seed's CNN + LSTM: MultiLabelAudioCNN's stem and stages, the mean over frequency of
    the last feature map as a (B, frames, channels) sequence, an LSTM (batch-first, zero initial
    state), its outputs averaged over time, then the same embedding and classifier."""

    def __init__(self, num_genres: int, input_channels: int = 1, base_channels: int = 64,
                 use_attention: bool = True, embedding_dim: int = 256, dropout: float = 0.3,
                 blocks=(2, 3, 2), reduction: int = 16, lstm_hidden: int = 128, lstm_layers: int = 1,
                 bidirectional: bool = True):
        super().__init__()
        cnn = MultiLabelAudioCNN(num_genres, input_channels, base_channels, use_attention, embedding_dim,
                                 dropout, blocks, reduction)
        self.stem, self.layers = cnn.stem, cnn.layers
        width = base_channels * 2 ** (len(blocks) - 1)
        self.lstm = nn.LSTM(width, lstm_hidden, lstm_layers, batch_first=True, bidirectional=bidirectional)
        features = lstm_hidden * (2 if bidirectional else 1)
        self.embedding = nn.Sequential(nn.Linear(features, embedding_dim), nn.BatchNorm1d(embedding_dim), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, num_genres)

    def get_embeddings(self, x: torch.Tensor) -> torch.Tensor:  # (B, embedding_dim)
        f = self.layers(self.stem(x))            # (B, C, H, W)
        seq = f.mean(dim=2).transpose(1, 2)      # (B, W, C)
        out, _ = self.lstm(seq)                  # (B, W, D*H)
        return self.embedding(out.mean(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits (B, num_genres)
        return self.classifier(self.dropout(self.get_embeddings(x)))


def make_network(config: dict) -> nn.Module:
    """Builds a network from an architecture config with the keys of Swift's `ArchitectureConfig`
    (snake_case: kind, num_genres, input_channels, base_channels, use_attention, embedding_dim,
    dropout, blocks, attention_reduction; cnn_lstm adds lstm_hidden, lstm_layers, bidirectional)."""
    kind = config.get("kind", "resnet_se")
    if kind == "resnet_se":
        return MultiLabelAudioCNN(config["num_genres"], config.get("input_channels", 1),
                                  config.get("base_channels", 64), config.get("use_attention", True),
                                  config.get("embedding_dim", 256), config.get("dropout", 0.3),
                                  tuple(config.get("blocks", (2, 3, 2))), config.get("attention_reduction", 16))
    if kind == "baseline":
        return BaselineCNN(config["num_genres"], config.get("input_channels", 1), config.get("base_channels", 32),
                           config.get("embedding_dim", 256), config.get("dropout", 0.3))
    if kind == "cnn_lstm":
        return CNNLSTM(config["num_genres"], config.get("input_channels", 1), config.get("base_channels", 64),
                       config.get("use_attention", True), config.get("embedding_dim", 256), config.get("dropout", 0.3),
                       tuple(config.get("blocks", (2, 3, 2))), config.get("attention_reduction", 16),
                       config.get("lstm_hidden", 128), config.get("lstm_layers", 1), config.get("bidirectional", True))
    raise ValueError(f"unknown architecture kind {kind!r}")
