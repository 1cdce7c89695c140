"""Positional encodings: the sinusoidal table of the paper, learned embeddings, and RoPE with
its relative-position property."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.attention import MultiHeadAttention
from course_lib.positional_encoding import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    apply_rotary,
    rotary_angles,
    sinusoidal_encoding,
)


def test_sinusoidal_table_matches_the_paper_formula_entry_by_entry():
    max_len, d_model = 20, 10
    pe = sinusoidal_encoding(max_len, d_model)
    assert pe.shape == (max_len, d_model) and pe.dtype == torch.float32
    for pos in range(max_len):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 5))


def test_sinusoidal_dot_product_depends_only_on_the_offset():
    pe = sinusoidal_encoding(64, 32)
    dots = pe @ pe.T
    for offset in (1, 5, 20):
        diagonal = dots.diagonal(offset)
        torch.testing.assert_close(diagonal, diagonal[0].expand_as(diagonal), atol=1e-4, rtol=0)
    # ...and is largest at offset 0, falling off for nearby positions
    assert dots[10, 10] > dots[10, 11] > dots[10, 14]


def test_sinusoidal_module_adds_the_table_with_offset():
    layer = SinusoidalPositionalEncoding(8, max_len=30)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(layer(x), x + sinusoidal_encoding(30, 8)[:5])
    torch.testing.assert_close(layer(x, offset=7), x + sinusoidal_encoding(30, 8)[7:12])
    assert not list(layer.parameters()) and "pe" not in layer.state_dict()
    with pytest.raises(ValueError, match="exceed max_len"):
        layer(torch.randn(1, 31, 8))
    with pytest.raises(ValueError, match="batch, seq, 8"):
        layer(torch.randn(5, 8))
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(10, 7)


def test_learned_embedding_is_trained_and_added():
    torch.manual_seed(0)
    layer = LearnedPositionalEmbedding(16, 8)
    x = torch.randn(3, 6, 8)
    out = layer(x)
    torch.testing.assert_close(out, x + layer.embedding.weight[:6])
    out.sum().backward()
    grad = layer.embedding.weight.grad
    assert grad[:6].abs().sum() > 0 and grad[6:].abs().sum() == 0
    assert layer.embedding.weight.std().item() == pytest.approx(0.02, rel=0.2)
    torch.testing.assert_close(layer(x, offset=4), x + layer.embedding.weight[4:10])
    with pytest.raises(ValueError, match="exceed max_len"):
        layer(torch.randn(1, 17, 8))


def _complex_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0):
    """RoPE as in the RoFormer paper: pairs as complex numbers times e^{i pos omega}."""
    d = x.shape[-1]
    omega = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], d // 2, 2).contiguous())
    rotated = z * torch.polar(torch.ones_like(omega), positions[:, None].double() * omega)
    return torch.view_as_real(rotated).flatten(-2).float()


def test_rope_matches_the_complex_number_formulation_and_keeps_norms():
    rope = RotaryEmbedding(16, max_len=64)
    x = torch.randn(2, 3, 10, 16)
    out = rope(x)
    torch.testing.assert_close(out, _complex_rope(x, torch.arange(10)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(out[..., 0, :], x[..., 0, :])  # position 0: no rotation
    torch.testing.assert_close(rope(x, offset=5), rope(x, positions=torch.arange(5, 15)))
    with pytest.raises(ValueError, match="max_len"):
        rope(x, offset=60)
    with pytest.raises(ValueError, match="angles must be"):
        apply_rotary(x, rotary_angles(9, 16))


def test_rope_scores_depend_only_on_relative_position():
    rope = RotaryEmbedding(32, max_len=256)
    q, k = torch.randn(32), torch.randn(32)

    def score(m: int, n: int) -> torch.Tensor:
        return (
            rope(q[None], positions=torch.tensor([m]))
            @ rope(k[None], positions=torch.tensor([n])).T
        )

    for m, n in ((3, 1), (10, 10), (0, 7)):
        for shift in (1, 50, 200):
            torch.testing.assert_close(
                score(m + shift, n + shift), score(m, n), atol=1e-4, rtol=1e-4
            )
    # Added sinusoidal encodings do not have this property:
    pe = sinusoidal_encoding(256, 32)
    added = [((q + pe[m]) @ (k + pe[n])).item() for m, n in ((3, 1), (53, 51))]
    assert abs(added[0] - added[1]) > 1e-2


def test_positional_encoding_makes_attention_order_aware():
    """Without positions, self-attention is permutation-equivariant; with them, it is not."""
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, 2).eval()
    pe = SinusoidalPositionalEncoding(16, max_len=10)
    x = torch.randn(1, 6, 16)
    perm = torch.tensor([3, 0, 5, 1, 2, 4])
    out = attention(x, x, x)[0]
    torch.testing.assert_close(attention(x[:, perm], x[:, perm], x[:, perm])[0], out[:, perm])
    y, y_perm = pe(x), pe(x[:, perm])
    assert not torch.allclose(attention(y_perm, y_perm, y_perm)[0], attention(y, y, y)[0][:, perm])


def test_the_encoding_table_draws_with_plot_attention_on_a_scale_centred_on_zero():
    import matplotlib.pyplot as plt

    from course_lib.plots import plot_attention

    pe = sinusoidal_encoding(16, 8)
    fig = plot_attention(pe, vmin=None, cmap="RdBu_r", xlabel="dimension", ylabel="position")
    ax = fig.axes[0]
    limit = pe.abs().max().item()
    assert ax.images[0].get_clim() == pytest.approx((-limit, limit))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("dimension", "position")
    assert plot_attention(pe.abs()).axes[0].images[0].get_clim()[0] == 0.0  # default unchanged
    plt.close("all")
