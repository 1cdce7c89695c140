"""Checker for Module 4's stretch exercise: one decoding step of self-attention with a
key/value cache.

``step(mha, x_new, cache)`` gets the newest position's input ``x_new`` ``(batch, 1, d_model)``
and a :class:`course_lib.attention.KeyValueCache` holding the keys and values of the earlier
positions (``None`` before the first step). It must append the new position's key and value
to the cache and return the attention output of that position ``(batch, 1, d_model)``, which
must equal row ``t`` of masked self-attention over the whole prefix.
"""

from __future__ import annotations

import torch

from course_lib.attention import KeyValueCache, MultiHeadAttention, causal_mask, split_heads
from course_lib.checkers.core import case, checker, expect_shape
from course_lib.checkers.mistakes import expect_close_or_explain, own_rng, seed_cpu


def _projected_lengths(mha: MultiHeadAttention) -> list[int]:
    """Record the sequence length of every input ``mha.k_proj`` sees (a forward hook)."""
    seen: list[int] = []
    mha.k_proj.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[1]))
    return seen


@checker
@own_rng
def check_kv_cache_step(step, seed: int = 45) -> None:
    """``step(mha, x_new, cache) -> (batch, 1, d_model)``, appending to ``cache``."""
    for trial, (d_model, heads, batch, length) in enumerate(((16, 4, 2, 6), (12, 3, 3, 5))):
        seed_cpu(seed + trial)
        mha = MultiHeadAttention(d_model, heads).eval()
        x = torch.randn(batch, length, d_model)
        with torch.no_grad():
            full, _ = mha(x, x, x, attn_mask=causal_mask(length))  # every row at once
            own_only = mha.out_proj(mha.v_proj(x))  # each position reading only itself
        lengths = _projected_lengths(mha)
        cache = KeyValueCache()
        for t in range(length):
            what = f"step {t} (d_model={d_model}, {heads} heads, batch {batch})"
            with (
                case(
                    what,
                    "x_new is (batch, 1, d_model); cache.key and cache.value are None "
                    "before the first step, then (batch, heads, t, d_head): append the new key and "
                    "value along the positions axis (dim=-2).",
                ),
                torch.no_grad(),
            ):
                out = step(mha, x[:, t : t + 1], cache)
            expect_shape(out, (batch, 1, d_model), f"the output of {what}")
            if cache.key is None or cache.value is None:
                raise AssertionError(
                    f"after {what} cache.key / cache.value are still None: store the keys and "
                    "values (all positions so far) in the cache for the next step."
                )
            d_head = d_model // heads
            expect_shape(
                cache.key,
                (batch, heads, t + 1, d_head),
                f"cache.key after {what} (batch, heads, positions so far, d_head)",
            )
            expect_shape(cache.value, (batch, heads, t + 1, d_head), f"cache.value after {what}")
            with torch.no_grad():
                keys = split_heads(mha.k_proj(x[:, : t + 1]), heads)
            lengths.pop()  # the line above is the checker's own projection
            expect_close_or_explain(
                cache.key,
                keys,
                f"cache.key after {what}",
                hint="the cache must hold split_heads(mha.k_proj(x)) of every position so far, "
                "in order, the newest last (torch.cat([cache.key, k], dim=-2)).",
            )
            expect_close_or_explain(
                out,
                full[:, t : t + 1],
                f"the output of {what}",
                {
                    "the new position attended only to itself: attend over all cached keys and "
                    "values, the earlier positions too": own_only[:, t : t + 1]
                },
                hint="q of the new position, keys and values of every cached position (no mask "
                "needed: they are all in the past), merge_heads, then mha.out_proj.",
            )
        if any(n != 1 for n in lengths):
            raise AssertionError(
                f"mha.k_proj was applied to sequences of lengths {sorted(set(lengths))}: a "
                "cached step projects only the new position; the earlier keys come from the "
                "cache. That is where the saving comes from."
            )
    print("  every step equals masked self-attention over the whole prefix; one new key per step")
