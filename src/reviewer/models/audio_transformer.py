"""The AudioTransformer: an encoder over packed segment sequences (seed 000 §9).

Input is a batch of segment sequences ``x`` (B, L, D) — the transformed
per-segment features of a package or a window of a segment table — and a mask
(B, L), True for real segments. The net is

1. an input projection ``D → d_model`` (LayerNorm + Linear + dropout);
2. a positional encoding: ``"learned"`` (an embedding per position),
   ``"sinusoidal"`` (fixed, Vaswani et al.) or ``"relative"`` (a learned bias
   per head and clipped distance ``j - i`` added to the attention logits, the
   seed's recommendation);
3. an optional CLS token prepended as step 0 (``pooling="cls"``), otherwise
   masked mean pooling over the real segments (``pooling="mean"``);
4. ``nn.TransformerEncoder`` (pre-norm) with the key padding mask, so padded
   steps never influence real ones;
5. per-segment heads (one logit per segment and head name: ``"intro"``,
   ``"chorus"``, ``"interest"``) and an optional track-level regression head
   (e.g. ``log(views + 1)``) on the pooled vector.

The config dataclass is stored inside every checkpoint, so a net rebuilds
exactly (nanoGPT style).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from reviewer.config import from_dict, to_dict
from reviewer.errors import ConfigError, ValidationError

POS_ENCODINGS: tuple[str, ...] = ("learned", "sinusoidal", "relative")
POOLINGS: tuple[str, ...] = ("cls", "mean")


@dataclass(frozen=True)
class AudioTransformerConfig:
    """Hyper-parameters of :class:`AudioTransformer` (small CPU defaults; the seed's Exp 0 uses 256 × 4).

    Attributes
    ----------
    input_dim : int
        D, width of one segment's feature vector.
    d_model, n_layers, n_heads, dim_feedforward : int
        Encoder size; ``d_model`` must be divisible by ``n_heads``.
    dropout : float
    max_seq_len : int
        Longest sequence (without the CLS token) the positional encoding covers.
    pos_encoding : str
        One of :data:`POS_ENCODINGS`.
    pooling : str
        ``"cls"`` (prepend a learned token) or ``"mean"`` (masked mean).
    heads : tuple of str
        Names of the per-segment heads, one logit each.
    track_regression : bool
        Add a track-level regression output (``"track"``).
    """

    input_dim: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    dim_feedforward: int = 128
    dropout: float = 0.1
    max_seq_len: int = 128
    pos_encoding: str = "relative"
    pooling: str = "mean"
    heads: tuple[str, ...] = ("score",)
    track_regression: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", tuple(self.heads))
        if self.input_dim < 1 or self.max_seq_len < 1 or self.n_layers < 1:
            raise ConfigError(f"transformer: input_dim, max_seq_len and n_layers must be >= 1, got {self}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"transformer: d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.pos_encoding not in POS_ENCODINGS:
            raise ConfigError(f"transformer: pos_encoding must be one of {POS_ENCODINGS}, got {self.pos_encoding!r}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"transformer: pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if not self.heads and not self.track_regression:
            raise ConfigError("transformer: needs at least one segment head or track_regression=True")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"transformer: dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AudioTransformerConfig":
        return from_dict(cls, data)


def sinusoidal_table(n: int, d: int) -> torch.Tensor:
    """Fixed sinusoidal position table, shape ``(n, d)`` float32."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(n, d)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return table


def check_inputs(x: torch.Tensor, mask: torch.Tensor | None, *, input_dim: int, max_len: int) -> torch.Tensor:
    """Validate ``x`` (B, L, D) and return a bool mask (B, L) (all True when None)."""
    if x.ndim != 3 or x.shape[-1] != input_dim:
        raise ValidationError(f"features must have shape (B, L, D={input_dim}), got {tuple(x.shape)}")
    if x.shape[1] > max_len:
        raise ValidationError(f"sequence length {x.shape[1]} exceeds max_seq_len={max_len}; score it in windows")
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValidationError(f"mask must have shape (B, L)={tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    mask = mask.to(torch.bool)
    if not bool(mask.any(dim=1).all()):
        raise ValidationError("every sequence needs at least one real segment (a mask row is all False)")
    return mask


def _gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU as a plain function: it keeps PyTorch off its fused inference "fast path", which returned NaN
    with a float (relative-bias) attention mask on trained weights; train and eval now run the same code."""
    return nn.functional.gelu(x)


class AudioTransformer(nn.Module):
    """Transformer encoder with per-segment heads and an optional track regression head.

    Parameters
    ----------
    config : AudioTransformerConfig

    Notes
    -----
    ``forward(x, mask)`` takes ``x`` [shape=(B, L, D), float32] and ``mask``
    [shape=(B, L), bool, True = real segment] and returns a dict with
    ``"segment"`` [shape=(B, L, H)] logits for ``config.heads`` and, when
    ``config.track_regression``, ``"track"`` [shape=(B,)]. Outputs at padded
    steps are meaningless and must be ignored.
    """

    def __init__(self, config: AudioTransformerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.input = nn.Sequential(nn.LayerNorm(c.input_dim), nn.Linear(c.input_dim, c.d_model), nn.Dropout(c.dropout))
        n_pos = c.max_seq_len + (1 if c.pooling == "cls" else 0)
        if c.pos_encoding == "learned":
            self.pos = nn.Embedding(n_pos, c.d_model)
            nn.init.normal_(self.pos.weight, std=0.02)
        elif c.pos_encoding == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_table(n_pos, c.d_model), persistent=False)
        else:
            self.rel_bias = nn.Embedding(2 * n_pos - 1, c.n_heads)
            nn.init.zeros_(self.rel_bias.weight)
        if c.pooling == "cls":
            self.cls = nn.Parameter(torch.zeros(1, 1, c.d_model))
            nn.init.normal_(self.cls, std=0.02)
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.n_heads, dim_feedforward=c.dim_feedforward, dropout=c.dropout,
            activation=_gelu, batch_first=True, norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, c.n_layers, norm=nn.LayerNorm(c.d_model), enable_nested_tensor=False)
        self.segment_head = nn.Linear(c.d_model, len(c.heads)) if c.heads else None
        self.track_head = (
            nn.Sequential(nn.Linear(c.d_model, c.d_model), nn.GELU(), nn.Linear(c.d_model, 1)) if c.track_regression else None
        )

    def _relative_mask(self, pad: torch.Tensor) -> torch.Tensor:
        """Float attention mask (B * n_heads, L, L): relative bias, -inf on padded keys."""
        b, n = pad.shape
        idx = torch.arange(n, device=pad.device)
        rel = idx[None, :] - idx[:, None] + (self.rel_bias.num_embeddings // 2)
        bias = self.rel_bias(rel).permute(2, 0, 1)  # (H, L, L)
        keys = torch.zeros(b, 1, 1, n, device=pad.device).masked_fill(pad[:, None, None, :], float("-inf"))
        return (bias[None] + keys).reshape(b * self.config.n_heads, n, n)

    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states (B, L', d_model) and the mask (B, L') they belong to (L' = L + 1 with CLS)."""
        c = self.config
        mask = check_inputs(x, mask, input_dim=c.input_dim, max_len=c.max_seq_len)
        h = self.input(x)
        if c.pooling == "cls":
            h = torch.cat([self.cls.expand(h.shape[0], 1, -1), h], dim=1)
            mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        n = h.shape[1]
        if c.pos_encoding == "learned":
            h = h + self.pos(torch.arange(n, device=h.device))[None]
        elif c.pos_encoding == "sinusoidal":
            h = h + self.pos_table[:n][None]
        pad = ~mask
        if c.pos_encoding == "relative":
            h = self.encoder(h, mask=self._relative_mask(pad))
        else:
            h = self.encoder(h, src_key_padding_mask=pad)
        return h, mask

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        h, full_mask = self.encode(x, mask)
        out: dict[str, torch.Tensor] = {}
        seg = h[:, 1:] if self.config.pooling == "cls" else h
        if self.segment_head is not None:
            out["segment"] = self.segment_head(seg)
        if self.track_head is not None:
            if self.config.pooling == "cls":
                pooled = h[:, 0]
            else:
                w = full_mask.to(h.dtype)[..., None]
                pooled = (h * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)
            out["track"] = self.track_head(pooled).squeeze(-1)
        return out

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
