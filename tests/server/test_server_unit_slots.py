"""Which slot a new request gets (no model needed): reuse first, then busy slots kept in one
block, then the least recently used."""

from __future__ import annotations

from typing import Any

from ollamakit.server.batching import Slot, choose_slot

BUSY: Any = object()  # stands for the sequence running in a slot


def slots(busy: set[int], last_used: dict[int, float] | None = None, count: int = 4) -> list[Slot]:
    made = [Slot(index) for index in range(count)]
    for slot in made:
        slot.sequence = BUSY if slot.index in busy else None
        slot.last_used = (last_used or {}).get(slot.index, 0.0)
    return made


def test_a_fresh_runner_fills_slots_in_order() -> None:
    assert choose_slot(slots(set()), [1, 2, 3], 16).index == 0
    assert choose_slot(slots({0}), [1, 2, 3], 16).index == 1
    assert choose_slot(slots({0, 1}), [1, 2, 3], 16).index == 2


def test_busy_slots_stay_in_one_block() -> None:
    # Slot 0 was used longest ago, but taking it would leave a gap beside slot 2.
    recent = {0: 1.0, 1: 5.0, 3: 4.0}
    assert choose_slot(slots({2}, recent), [7], 16).index == 3
    # Either neighbour keeps one block: the least recently used of them.
    assert choose_slot(slots({1}, {0: 3.0, 2: 2.0, 3: 0.5}), [7], 16).index == 2
    # No choice avoids a gap: the least recently used.
    assert choose_slot(slots({0, 3}, {1: 9.0, 2: 8.0}), [7], 16).index == 2


def test_a_slot_that_can_reuse_the_prompt_wins() -> None:
    prompt = list(range(40))
    made = slots({1}, {0: 1.0, 2: 2.0, 3: 3.0})
    reusing = made[3]
    reusing.cached = [*prompt[:32], 999]
    reusing.exact = 32
    assert choose_slot(made, prompt, 16) is reusing
