"""The bench's pooled p99: what one measurement of all the rounds' requests would report."""

from __future__ import annotations

import random

import pytest

from bench.run import TAIL_STEP, pooled_p99_us


def wrk_percentile(ordered: list[int], p: float) -> int:
    # wrk's stats_percentile: the least value whose cumulative count reaches the rank.
    rank = max(1, round(p / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def wrk_result(samples: list[int]) -> dict:
    samples = sorted(samples)
    steps = round(10 / TAIL_STEP)
    return {
        "requests": len(samples),
        "p99_us": wrk_percentile(samples, 99),
        "max_us": max(samples),
        "tail_us": [wrk_percentile(samples, 90 + k * TAIL_STEP) for k in range(steps + 1)],
    }


def exact_p99(samples: list[int]) -> int:
    return wrk_percentile(sorted(samples), 99)


@pytest.mark.parametrize("seed", range(5))
def test_pooled_p99_is_that_of_all_requests_and_not_the_worst_rounds(seed):
    rng = random.Random(seed)
    rounds = [
        [int(rng.lognormvariate(8.8, 0.35)) for _ in range(rng.randint(4000, 9000))]
        for _ in range(7)
    ]
    # One round with a hiccup: its own p99 is far above everyone else's.
    rounds.append([int(rng.lognormvariate(8.8, 0.35)) for _ in range(6000)] + [60_000] * 200)
    everything = [s for r in rounds for s in r]
    results = [wrk_result(r) for r in rounds]

    pooled = pooled_p99_us(results)

    truth = exact_p99(everything)
    assert pooled >= truth
    # Each round's share is rounded down by at most one step, so no more than a step's worth of
    # requests lies between the truth and the answer.
    between = sum(truth < s <= pooled for s in everything)
    assert between <= TAIL_STEP / 100 * len(everything)
    assert pooled < max(r["p99_us"] for r in results) / 2
