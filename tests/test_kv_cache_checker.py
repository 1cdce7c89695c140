"""The key/value-cache stretch exercise's checker: right versions pass, typical wrong ones
fail with a hint, on several seeds."""

import pytest
import torch

from course_lib.attention import merge_heads, scaled_dot_product_attention, split_heads
from course_lib.checkers import CheckFailed
from course_lib.checkers.kv_cache import check_kv_cache_step

SEEDS = (45, 7, 123)


def by_hand(mha, x_new, cache):
    q = split_heads(mha.q_proj(x_new), mha.num_heads)
    k = split_heads(mha.k_proj(x_new), mha.num_heads)
    v = split_heads(mha.v_proj(x_new), mha.num_heads)
    if cache.key is not None:
        k, v = torch.cat([cache.key, k], dim=-2), torch.cat([cache.value, v], dim=-2)
    cache.key, cache.value = k, v
    context, _ = scaled_dot_product_attention(q, k, v)
    return mha.out_proj(merge_heads(context))


def with_the_course_class(mha, x_new, cache):
    return mha(x_new, x_new, x_new, cache=cache, need_weights=False)[0]


def overwrites_the_cache(mha, x_new, cache):
    q, k, v = (split_heads(p(x_new), mha.num_heads) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    cache.key, cache.value = k, v  # forgets the earlier positions
    return mha.out_proj(merge_heads(scaled_dot_product_attention(q, k, v)[0]))


def appends_on_the_heads_axis(mha, x_new, cache):
    q, k, v = (split_heads(p(x_new), mha.num_heads) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    if cache.key is not None:
        k, v = torch.cat([cache.key, k], dim=1), torch.cat([cache.value, v], dim=1)
    cache.key, cache.value = k, v
    return mha.out_proj(merge_heads(scaled_dot_product_attention(q, k, v)[0]))


def no_output_projection(mha, x_new, cache):
    q, k, v = (split_heads(p(x_new), mha.num_heads) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    if cache.key is not None:
        k, v = torch.cat([cache.key, k], dim=-2), torch.cat([cache.value, v], dim=-2)
    cache.key, cache.value = k, v
    return merge_heads(scaled_dot_product_attention(q, k, v)[0])


def first_row_of_the_causal_mask(mha, x_new, cache):
    q, k, v = (split_heads(p(x_new), mha.num_heads) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    if cache.key is not None:
        k, v = torch.cat([cache.key, k], dim=-2), torch.cat([cache.value, v], dim=-2)
    cache.key, cache.value = k, v
    mask = torch.ones(k.shape[-2], k.shape[-2], dtype=torch.bool).triu(1)[:1]  # row 0, not t
    return mha.out_proj(merge_heads(scaled_dot_product_attention(q, k, v, mask)[0]))


def never_stores(mha, x_new, cache):
    q, k, v = (split_heads(p(x_new), mha.num_heads) for p in (mha.q_proj, mha.k_proj, mha.v_proj))
    return mha.out_proj(merge_heads(scaled_dot_product_attention(q, k, v)[0]))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("step", [by_hand, with_the_course_class])
def test_right_versions_pass(step, seed, capsys):
    assert check_kv_cache_step(step, seed=seed)
    assert "[passed]" in capsys.readouterr().out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "step, message",
    [
        (overwrites_the_cache, "cache.key after step 1"),
        (appends_on_the_heads_axis, "dim=-2"),
        (no_output_projection, "out_proj"),
        (first_row_of_the_causal_mask, "output of step 1"),
        (never_stores, "still None"),
    ],
)
def test_typical_mistakes_fail_with_a_hint(step, message, seed):
    with pytest.raises(CheckFailed, match=message):
        check_kv_cache_step(step, seed=seed)


def test_recomputing_the_prefix_keys_fails():
    history = {}

    def recomputes(mha, x_new, cache):
        prefix = torch.cat([history[id(cache)], x_new], 1) if id(cache) in history else x_new
        history[id(cache)] = prefix
        k = split_heads(mha.k_proj(prefix), mha.num_heads)  # the whole prefix, every step
        v = split_heads(mha.v_proj(prefix), mha.num_heads)
        q = split_heads(mha.q_proj(x_new), mha.num_heads)
        cache.key, cache.value = k, v
        return mha.out_proj(merge_heads(scaled_dot_product_attention(q, k, v)[0]))

    with pytest.raises(CheckFailed, match="projects only the new position"):
        check_kv_cache_step(recomputes)


def test_the_stub_is_not_attempted(capsys):
    def stub(mha, x_new, cache):
        raise NotImplementedError("Exercise not attempted yet: replace this line")

    assert not check_kv_cache_step(stub)
    assert "[not attempted]" in capsys.readouterr().out
