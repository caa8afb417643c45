"""MAE network (see ``harbench_models.mae`` for the architecture and pretraining)."""

from __future__ import annotations

import torch
from torch import nn

from harbench.contracts import HarbenchError

DECODER_HEAD_DIM = 16


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head scaled dot-product attention with explicit matmuls: [B, N, D] x3 -> [B, N, D]."""
    b, n, d = q.shape
    q, k, v = (t.reshape(b, n, heads, d // heads).transpose(1, 2) for t in (q, k, v))
    scores = (q * (d // heads) ** -0.5) @ k.transpose(-2, -1)
    out = torch.softmax(scores, dim=-1) @ v  # [B, H, N, D/H]
    return out.transpose(1, 2).reshape(b, n, d)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = attend(self.q(x), self.k(x), self.v(x), self.heads)
        return self.dropout(self.proj(out))


class Block(nn.Module):
    """Pre-norm encoder block: x + attn(norm1(x)); x + fc2(gelu(fc1(norm2(x))))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        hidden = max(1, round(dim * mlp_ratio))
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.dropout(self.fc2(self.act(self.fc1(self.norm2(x)))))


class DecoderBlock(nn.Module):
    """Pre-norm block of the pretraining decoder. Its layers are named ``qkv``, ``out``,
    ``mlp_in``, ``mlp_out`` so that the encoder's adapter targets never match them."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp_in = nn.Linear(dim, max(1, round(dim * mlp_ratio)))
        self.act = nn.GELU()
        self.mlp_out = nn.Linear(max(1, round(dim * mlp_ratio)), dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        x = x + self.out(attend(q, k, v, self.heads))
        return x + self.mlp_out(self.act(self.mlp_in(self.norm2(x))))


class Decoder(nn.Module):
    """Reconstructs every patch from the encoded visible tokens plus mask tokens."""

    def __init__(self, dim: int, decoder_dim: int, depth: int, patches: int, patch_values: int,
                 mlp_ratio: float):
        super().__init__()
        self.embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.pos = nn.Parameter(torch.zeros(1, patches, decoder_dim))
        heads = max(1, decoder_dim // DECODER_HEAD_DIM)
        while decoder_dim % heads:
            heads -= 1
        self.blocks = nn.ModuleList(
            DecoderBlock(decoder_dim, heads, mlp_ratio) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(decoder_dim)
        self.pred = nn.Linear(decoder_dim, patch_values)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, visible: torch.Tensor, restore: torch.Tensor) -> torch.Tensor:
        """visible [B, n_keep, dim] in shuffled order; restore [B, N] puts tokens back in place."""
        x = self.embed(visible)
        b, n_keep, d = x.shape
        n = restore.shape[1]
        x = torch.cat([x, self.mask_token.expand(b, n - n_keep, d)], dim=1)
        x = torch.gather(x, 1, restore.unsqueeze(-1).expand(b, n, d)) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.pred(self.norm(x))  # [B, N, patch*C]


class MAENet(nn.Module):
    pretrain_modules = ("decoder",)

    def __init__(self, channels: int, window: int, classes: int, *, dim: int, depth: int,
                 heads: int, decoder_dim: int, decoder_depth: int, patch: int, fit: str,
                 mlp_ratio: float, dropout: float, norm_target: bool):
        super().__init__()
        self.patch, self.fit, self.norm_target = patch, fit, norm_target
        self.patches = window // patch if fit == "crop" else -(-window // patch)
        self.embed = nn.Linear(patch * channels, dim)
        self.pos = nn.Parameter(torch.zeros(1, self.patches, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)
        self.decoder: Decoder | None = Decoder(
            dim, decoder_dim, decoder_depth, self.patches, patch * channels, mlp_ratio
        )
        nn.init.normal_(self.pos, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, C] -> [B, N, patch*C] (cropped or zero-padded to N patches)."""
        b, t, c = x.shape
        need = self.patches * self.patch
        if t > need:
            x = x[:, :need]
        elif t < need:
            x = torch.cat([x, x.new_zeros(b, need - t, c)], dim=1)
        return x.reshape(b, self.patches, self.patch * c)

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C] -> [B, dim]
        """The mean of the encoded tokens (what the head sees)."""
        tokens = self.embed(self.patchify(x)) + self.pos
        return self.encode(tokens).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C] -> [B, K]
        return self.head(self.features(x))

    def pretrain_loss(self, x: torch.Tensor, mask_ratio: float) -> torch.Tensor:
        """MSE of the reconstruction of the masked patches of ``x`` [B, T, C] (a scalar)."""
        if self.decoder is None:
            raise HarbenchError("model 'mae' has no decoder any more (it was stripped for "
                                "fine-tuning): build a fresh model to pretrain")
        if not 0.0 < mask_ratio < 1.0:
            raise HarbenchError(f"mask_ratio must be between 0 and 1 (exclusive), got {mask_ratio}")
        patches = self.patchify(x)
        b, n, _ = patches.shape
        if n < 2:
            raise HarbenchError("masked pretraining needs at least 2 patches per window")
        n_keep = min(n - 1, max(1, round(n * (1.0 - mask_ratio))))
        noise = torch.rand(b, n, device=x.device)
        shuffle = noise.argsort(dim=1)
        restore = shuffle.argsort(dim=1)
        keep = shuffle[:, :n_keep]
        tokens = self.embed(patches) + self.pos
        visible = torch.gather(tokens, 1, keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
        pred = self.decoder(self.encode(visible), restore)
        target = patches
        if self.norm_target:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True, unbiased=False)
            target = (target - mean) / (var + 1e-6).sqrt()
        masked = torch.ones(b, n, device=x.device)
        masked.scatter_(1, keep, 0.0)
        per_patch = ((pred - target) ** 2).mean(dim=-1)
        return (per_patch * masked).sum() / masked.sum()
