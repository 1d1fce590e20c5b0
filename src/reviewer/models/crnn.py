"""The seed-001 CNN + RNN segment classifier over segment sequences.

Seed 001 classifies each window of an episode as "intro" / "not intro" with
a CNN that finds local patterns followed by a recurrent layer that reads the
sequence, then refines the boundaries. Here the CNN runs over *time* on the
same per-segment vectors the AudioTransformer reads (the frame-level MFCC /
contrast detail is already summarised per segment):

``x`` (B, L, D) → LayerNorm → ``n_conv`` × [Conv1d(kernel over segments) →
BatchNorm-free ReLU → dropout] → BiGRU → per-segment logits (B, L, H).

Boundary refinement below the segment hop (onsets, silence, alignment) is
the detector's job (:mod:`reviewer.detect`); this net only classifies.

Padding never leaks into real steps: activations are zeroed at padded steps
after every convolution (Conv1d pads with zeros at the sequence ends, so a
padded batch sees exactly what an unpadded sequence sees), and the GRU runs on
a packed sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from reviewer.config import from_dict, to_dict
from reviewer.errors import ConfigError, ValidationError
from reviewer.models.audio_transformer import check_inputs


@dataclass(frozen=True)
class CRNNConfig:
    """Hyper-parameters of :class:`CRNN`.

    Attributes
    ----------
    input_dim : int
        D, width of one segment's feature vector.
    conv_channels : int
        Filters per convolution (seed 001: 32–128).
    kernel_size : int
        Odd kernel width in segments (5 segments = 9 s at the default hop).
    n_conv : int
        Convolution layers.
    gru_hidden : int
        Hidden units per GRU direction (seed 001: 64–128).
    gru_layers : int
    dropout : float
    max_seq_len : int
        Longest sequence accepted (the scorer windows longer items).
    heads : tuple of str
        Names of the per-segment heads.
    """

    input_dim: int
    conv_channels: int = 64
    kernel_size: int = 5
    n_conv: int = 2
    gru_hidden: int = 64
    gru_layers: int = 1
    dropout: float = 0.1
    max_seq_len: int = 128
    heads: tuple[str, ...] = ("score",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", tuple(self.heads))
        if self.input_dim < 1 or self.conv_channels < 1 or self.gru_hidden < 1 or self.max_seq_len < 1:
            raise ConfigError(f"crnn: sizes must be >= 1, got {self}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"crnn: kernel_size must be odd and >= 1, got {self.kernel_size}")
        if self.n_conv < 0 or self.gru_layers < 1:
            raise ConfigError(f"crnn: need n_conv >= 0 and gru_layers >= 1, got {self.n_conv}, {self.gru_layers}")
        if not self.heads:
            raise ConfigError("crnn: needs at least one head")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"crnn: dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CRNNConfig":
        return from_dict(cls, data)


class CRNN(nn.Module):
    """Conv1d over time + BiGRU, one logit per segment and head.

    Parameters
    ----------
    config : CRNNConfig

    Notes
    -----
    ``forward(x, mask)`` takes ``x`` [shape=(B, L, D), float32] and ``mask``
    [shape=(B, L), bool] and returns ``{"segment": (B, L, H) logits}``.
    """

    def __init__(self, config: CRNNConfig) -> None:
        super().__init__()
        self.config = c = config
        self.norm = nn.LayerNorm(c.input_dim)
        convs = []
        width = c.input_dim
        for _ in range(c.n_conv):
            convs.append(nn.Conv1d(width, c.conv_channels, c.kernel_size, padding=c.kernel_size // 2))
            width = c.conv_channels
        self.convs = nn.ModuleList(convs)
        self.drop = nn.Dropout(c.dropout)
        self.gru = nn.GRU(width, c.gru_hidden, num_layers=c.gru_layers, batch_first=True, bidirectional=True,
                          dropout=c.dropout if c.gru_layers > 1 else 0.0)
        self.segment_head = nn.Linear(2 * c.gru_hidden, len(c.heads))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        c = self.config
        mask = check_inputs(x, mask, input_dim=c.input_dim, max_len=c.max_seq_len)
        lengths = mask.sum(dim=1)
        if not torch.equal(mask, torch.arange(mask.shape[1], device=mask.device)[None] < lengths[:, None]):
            raise ValidationError("crnn: the mask must mark a prefix of each sequence (real segments first, then padding)")
        keep = mask.to(x.dtype)[:, None, :]  # (B, 1, L)
        h = self.norm(x).transpose(1, 2) * keep  # (B, D, L)
        for conv in self.convs:
            h = self.drop(torch.relu(conv(h))) * keep
        h = h.transpose(1, 2)  # (B, L, C)
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
        return {"segment": self.segment_head(self.drop(out))}

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
