"""CodeFormer: a VQGAN codebook prior, a transformer that predicts code indices, and SFT fusion.

Re-implemented from the description of sczhou/CodeFormer `basicsr/archs/codeformer_arch.py` and
`vqgan_arch.py`. Module and parameter names match the official ones, so the published
`{'params_ema': ...}` checkpoint loads with strict=True.

Forward, for an aligned 512x512 face in [-1, 1]:

1. the VQGAN encoder maps the face to a 16x16x256 latent `lq_feat`, keeping four intermediate
   features (at 256/128/64/32 px) for the fusion step;
2. a pre-norm transformer over the 256 latent tokens (sequence-first) predicts, for every token,
   logits over the 1024 codebook entries;
3. the arg-max code of each token is looked up in the codebook (optionally AdaIN-matched to the
   statistics of `lq_feat`, which the official demo does) and decoded by the VQGAN generator;
4. with fidelity weight ``w > 0``, after the generator blocks at 32/64/128/256 px, the encoder
   feature of that size modulates the decoder feature: ``dec + w * (dec * scale + shift)``.
   ``w = 0`` skips fusion entirely (strongest restoration); ``w = 1`` is the most faithful.

Reduced precision: under autocast only the generator (less its 16x16 stage, see below) and the fusion
blocks (about two thirds of the work at w > 0) run in bf16/fp16. Everything that decides the discrete
code choice runs in fp32: the encoder, the transformer, the logits and their arg-max, the codebook
lookup and AdaIN (and the 16x16 attention softmax everywhere). Why the encoder too: on the golden inputs
a bf16 encoder is off by about 5% in `lq_feat`, which changed 6 of the 256 chosen codes (a different
code is a different 32x32 patch: 19 dB against fp32); with the fp32 encoder no code changes (43 dB; 44.7
dB with the fp32 16x16 stage below). Set ``encoder_autocast = True`` on an instance to run the encoder
under autocast as well (faster, codes may change where the top two logits are close).

The generator's 16x16 stage (conv_in, the middle blocks and the 16 px level, before the first
Upsample) runs in fp32 as well: under 4% of the generator's convolution FLOPs, but an error made
there is amplified by every later stage. On the benchmark's random network it alone lifts the
agreement with fp32 from 39.97 to 42.6 dB (other parts kept in fp32 one at a time: GroupNorm 41.0,
the residual stream 41.4, the final norm + conv 40.0), and on the golden face from 43.1 to 44.7 dB
(w=0.5), at no measurable cost in speed.

The official class hard-codes its VQGAN (nf=64, channel multipliers 1,2,2,4,4,8, 256 latent
channels); here those are keyword arguments with the official defaults (``vq_nf``, ``vq_ch_mult``,
``vq_emb_dim``), so tests can build a tiny network with the same block structure.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

IMG_SIZE = 512  # the block structure (and so the fusion indices) is that of a 512 px VQGAN
LATENT_SIDE = 16  # 512 / 2**5
# Where the encoder features are taken (after encoder block i) and fused (after generator block i),
# per feature-map size; fixed by the block layout built below.
ENCODER_TAP = {"512": 2, "256": 5, "128": 8, "64": 11, "32": 14, "16": 18}
GENERATOR_FUSE = {"16": 6, "32": 9, "64": 12, "128": 15, "256": 18, "512": 21}
ADAIN_EPS = 1e-5


def _fp32(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Disable autocast on x's device (if it is on), so the block runs in the dtype it is given."""
    if x.device.type in ("cpu", "cuda") and torch.is_autocast_enabled(x.device.type):
        return torch.autocast(x.device.type, enabled=False)
    return contextlib.nullcontext()


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


def _swish(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x)  # x * sigmoid(x) in one pass (two full-size temporaries fewer at 512 px)


class ResBlock(nn.Module):
    """GroupNorm-swish-conv twice, plus a 1x1 projection of the skip when the width changes."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.in_ch, self.out_ch = in_ch, out_ch
        self.norm1 = _group_norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.norm2 = _group_norm(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1)
        if in_ch != out_ch:
            self.conv_out = nn.Conv2d(in_ch, out_ch, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_swish(self.norm1(x)))
        h = self.conv2(_swish(self.norm2(h)))
        skip = self.conv_out(x) if self.in_ch != self.out_ch else x
        return h + skip


class AttnBlock(nn.Module):
    """Single-head spatial self-attention (1x1 convs for q, k, v and the output), residual."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = _group_norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        b, c, hh, ww = x.shape
        q, k, v = (conv(h).reshape(b, c, hh * ww).transpose(1, 2) for conv in (self.q, self.k, self.v))
        # 256 tokens at 16x16: cheap, so the softmax runs in fp32 whatever the autocast dtype.
        with _fp32(x):
            attn = torch.softmax(torch.bmm(q.float(), k.float().transpose(1, 2)) * (c**-0.5), dim=2)
            h = torch.bmm(attn, v.float())
        h = h.transpose(1, 2).reshape(b, c, hh, ww).to(v.dtype)
        return x + self.proj_out(h)


class Downsample(nn.Module):
    """Zero-pad one column right and one row below, then a stride-2 3x3 conv (no padding)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _encoder_blocks(nf: int, ch_mult: Sequence[int], emb_dim: int) -> list[nn.Module]:
    """conv_in; per resolution 2 ResBlocks (+ attention at 16 px) and a Downsample; mid; norm; conv."""
    blocks: list[nn.Module] = [nn.Conv2d(3, nf, 3, 1, 1)]
    res, ch = IMG_SIZE, nf
    for level, mult in enumerate(ch_mult):
        for _ in range(2):
            blocks.append(ResBlock(ch, nf * mult))
            ch = nf * mult
            if res == LATENT_SIDE:
                blocks.append(AttnBlock(ch))
        if level != len(ch_mult) - 1:
            blocks.append(Downsample(ch))
            res //= 2
    blocks += [ResBlock(ch, ch), AttnBlock(ch), ResBlock(ch, ch), _group_norm(ch), nn.Conv2d(ch, emb_dim, 3, 1, 1)]
    return blocks


def _generator_blocks(nf: int, ch_mult: Sequence[int], emb_dim: int) -> list[nn.Module]:
    """The mirror image: conv_in; mid; per resolution 2 ResBlocks (+ attention at 16 px) and an Upsample."""
    ch = nf * ch_mult[-1]
    res = LATENT_SIDE
    blocks: list[nn.Module] = [nn.Conv2d(emb_dim, ch, 3, 1, 1), ResBlock(ch, ch), AttnBlock(ch), ResBlock(ch, ch)]
    for level in reversed(range(len(ch_mult))):
        for _ in range(2):
            blocks.append(ResBlock(ch, nf * ch_mult[level]))
            ch = nf * ch_mult[level]
            if res == LATENT_SIDE:
                blocks.append(AttnBlock(ch))
        if level != 0:
            blocks.append(Upsample(ch))
            res *= 2
    blocks += [_group_norm(ch), nn.Conv2d(ch, 3, 3, 1, 1)]
    return blocks


class _Blocks(nn.Module):
    """A plain container so the state_dict reads `encoder.blocks.<i>.*` / `generator.blocks.<i>.*`."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)


class VectorQuantizer(nn.Module):
    """The codebook (only the lookup is needed at inference: codes come from the transformer)."""

    def __init__(self, codebook_size: int, emb_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(codebook_size, emb_dim)

    def lookup(self, indices: torch.Tensor, side: int) -> torch.Tensor:
        """[b, side*side] code indices (row-major tokens) -> [b, emb_dim, side, side] fp32 features."""
        feat = F.embedding(indices, self.embedding.weight.float())
        return feat.view(indices.shape[0], side, side, -1).permute(0, 3, 1, 2).contiguous()


class SelfAttention(nn.Module):
    """Multi-head attention with nn.MultiheadAttention's parameter layout (packed q/k/v projection)."""

    def __init__(self, dim: int, n_head: int) -> None:
        super().__init__()
        if dim % n_head:
            raise ValueError(f"dim_embd ({dim}) must be divisible by n_head ({n_head})")
        self.n_head = n_head
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)

    def forward(self, qk: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """Sequence-first [L, b, dim]; queries and keys come from `qk`, values from `value`."""
        length, batch, dim = value.shape
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        head = dim // self.n_head

        def heads(t: torch.Tensor) -> torch.Tensor:  # [L, b, dim] -> [b * n_head, L, head]
            return t.reshape(length, batch * self.n_head, head).transpose(0, 1)

        q = heads(F.linear(qk, w_q, b_q)) * (head**-0.5)
        k = heads(F.linear(qk, w_k, b_k))
        v = heads(F.linear(value, w_v, b_v))
        attn = torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1)
        out = torch.bmm(attn, v).transpose(0, 1).reshape(length, batch, dim)
        return self.out_proj(out)


class TransformerSALayer(nn.Module):
    """Pre-norm transformer layer: position embedding added to queries and keys only; exact GELU MLP."""

    def __init__(self, dim: int, n_head: int, dim_mlp: int) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, n_head)
        self.linear1 = nn.Linear(dim, dim_mlp)
        self.linear2 = nn.Linear(dim_mlp, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.self_attn(h + pos, h)
        return x + self.linear2(F.gelu(self.linear1(self.norm2(x))))


class FuseSFTBlock(nn.Module):
    """Controllable feature transform: encoder + decoder features -> per-pixel scale and shift."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.encode_enc = ResBlock(2 * in_ch, out_ch)
        self.scale = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(out_ch, out_ch, 3, 1, 1))
        self.shift = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(out_ch, out_ch, 3, 1, 1))

    def forward(self, enc: torch.Tensor, dec: torch.Tensor, w: float) -> torch.Tensor:
        # The encoder's features are fp32 (see the module docstring); under autocast the decoder's are
        # bf16/fp16: concatenate in the decoder's dtype, or the whole block would run on fp32 copies.
        enc = self.encode_enc(torch.cat([enc.to(dec.dtype), dec], dim=1))
        return dec + w * (dec * self.scale(enc) + self.shift(enc))


@dataclass
class CodeFormerEncoding:
    """What `CodeFormer.encode` hands to `decode`."""

    features: dict[str, torch.Tensor]  # encoder features to fuse, by feature-map size ('32', ...)
    lq_feat: torch.Tensor  # [b, 256, 16, 16] encoder output
    logits: torch.Tensor  # [b, 256, codebook_size], fp32
    quant: torch.Tensor  # [b, 256, 16, 16] looked-up (and AdaIN-matched) codes, fp32


def _mean_std(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and sqrt(unbiased variance + eps) over H*W (as the official AdaIN)."""
    b, c = feat.shape[:2]
    flat = feat.reshape(b, c, -1)
    return flat.mean(dim=2).view(b, c, 1, 1), (flat.var(dim=2) + ADAIN_EPS).sqrt().view(b, c, 1, 1)


def adaptive_instance_norm(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Give `content` the per-channel mean and std of `style`."""
    c_mean, c_std = _mean_std(content)
    s_mean, s_std = _mean_std(style)
    return (content - c_mean) / c_std * s_std + s_mean


class CodeFormer(nn.Module):
    """CodeFormer with the official constructor; ``forward(x, w, adain) -> (out, logits, lq_feat)``."""

    encoder_autocast = False  # see the module docstring: the encoder runs in fp32 unless this is set

    def __init__(
        self,
        dim_embd: int = 512,
        n_head: int = 8,
        n_layers: int = 9,
        codebook_size: int = 1024,
        latent_size: int = 256,
        connect_list: Sequence[str] = ("32", "64", "128", "256"),
        fix_modules: Sequence[str] | None = ("quantize", "generator"),
        vq_nf: int = 64,
        vq_ch_mult: Sequence[int] = (1, 2, 2, 4, 4, 8),
        vq_emb_dim: int = 256,
    ) -> None:
        super().__init__()
        if len(vq_ch_mult) != 6:
            raise ValueError("vq_ch_mult needs 6 entries (512 px down to the 16x16 latent)")
        if latent_size != LATENT_SIDE * LATENT_SIDE:
            raise ValueError(f"latent_size must be {LATENT_SIDE * LATENT_SIDE} (a 16x16 latent of a 512 px face)")
        sizes = [str(IMG_SIZE >> level) for level in range(6)]  # '512', '256', ..., '16'
        self.connect_list = [str(s) for s in connect_list]
        unknown = [s for s in self.connect_list if s not in sizes[1:5]]
        if unknown:
            raise ValueError(f"connect_list entries must be among 32, 64, 128, 256; got {unknown}")
        # Registration order gives the official state_dict order (position_emb, being a direct parameter,
        # comes first anyway).
        self.encoder = _Blocks(_encoder_blocks(vq_nf, vq_ch_mult, vq_emb_dim))
        self.quantize = VectorQuantizer(codebook_size, vq_emb_dim)
        self.generator = _Blocks(_generator_blocks(vq_nf, vq_ch_mult, vq_emb_dim))
        self.position_emb = nn.Parameter(torch.zeros(latent_size, dim_embd))
        self.feat_emb = nn.Linear(vq_emb_dim, dim_embd)
        self.ft_layers = nn.Sequential(*[TransformerSALayer(dim_embd, n_head, 2 * dim_embd) for _ in range(n_layers)])
        self.idx_pred_layer = nn.Sequential(nn.LayerNorm(dim_embd), nn.Linear(dim_embd, codebook_size, bias=False))
        # Generator blocks before the first Upsample: the 16x16 stage (conv_in, mid, the 16 px level).
        self._latent_stage_end = next(i for i, b in enumerate(self.generator.blocks) if isinstance(b, Upsample))
        channels = {size: vq_nf * mult for size, mult in zip(sizes, vq_ch_mult)}
        self.fuse_convs_dict = nn.ModuleDict({s: FuseSFTBlock(channels[s], channels[s]) for s in self.connect_list})
        for name in fix_modules or ():
            getattr(self, name).requires_grad_(False)

    def encode(self, x: torch.Tensor, adain: bool = False) -> CodeFormerEncoding:
        """Everything that does not depend on the fidelity weight: encoder, transformer, code lookup.

        A fidelity sweep encodes once and decodes once per w.
        """
        if x.shape[-2:] != (IMG_SIZE, IMG_SIZE):
            raise ValueError(f"CodeFormer needs a {IMG_SIZE}x{IMG_SIZE} aligned face, got {tuple(x.shape[-2:])}")
        taps = {ENCODER_TAP[s]: s for s in self.connect_list}
        enc_feats: dict[str, torch.Tensor] = {}
        with contextlib.nullcontext() if self.encoder_autocast else _fp32(x):
            x = x if self.encoder_autocast else x.float()
            for i, block in enumerate(self.encoder.blocks):
                x = block(x)
                if i in taps:
                    enc_feats[taps[i]] = x
        lq_feat = x

        # Transformer over the 16x16 tokens, in fp32 (a few % of the compute; keeps the code choice stable).
        with _fp32(lq_feat):
            lq32 = lq_feat.float()
            tokens = self.feat_emb(lq32.flatten(2).permute(2, 0, 1))  # [hw, b, dim]
            pos = self.position_emb.float().unsqueeze(1)
            for layer in self.ft_layers:
                tokens = layer(tokens, pos)
            logits = self.idx_pred_layer(tokens).permute(1, 0, 2)  # [b, hw, codebook]
            # arg-max of the logits is the official top-1 of their softmax.
            quant = self.quantize.lookup(logits.argmax(dim=2), LATENT_SIDE)
            if adain:
                quant = adaptive_instance_norm(quant, lq32)
        return CodeFormerEncoding(enc_feats, lq_feat, logits, quant)

    def decode(self, enc: CodeFormerEncoding, w: float = 0.0) -> torch.Tensor:
        """The generator on the looked-up codes, fusing the encoder features with weight w (w = 0: none)."""
        fuse_at = {GENERATOR_FUSE[s]: s for s in self.connect_list}
        x = enc.quant
        for i, block in enumerate(self.generator.blocks):
            # The 16x16 stage runs in fp32 under autocast too (see the module docstring): cheap, and the
            # error it would add is amplified by every stage after it.
            with _fp32(x) if i < self._latent_stage_end else contextlib.nullcontext():
                x = block(x)
            if w > 0 and i in fuse_at:
                size = fuse_at[i]
                x = self.fuse_convs_dict[size](enc.features[size], x, w)
        return x

    def forward(
        self, x: torch.Tensor, w: float = 0.0, detach_16: bool = True, code_only: bool = False, adain: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """x: [b, 3, 512, 512] RGB in [-1, 1] -> (out [b, 3, 512, 512], logits [b, 256, codebook], lq_feat).

        The arguments are the official ones, in the official order. `detach_16` only matters for training
        (inference runs without gradients either way); `code_only` returns (logits, lq_feat) as the official
        class does.
        """
        del detach_16
        enc = self.encode(x, adain)
        if code_only:
            return enc.logits, enc.lq_feat
        return self.decode(enc, w), enc.logits, enc.lq_feat
