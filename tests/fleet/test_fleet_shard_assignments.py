"""Shard assignments without a broker: the message format, merging checkpoints, the split."""

from __future__ import annotations

import pytest

from flxtrd import FlexValidationError, OrderType
from flxtrd._fleet._model import check_run, order_message_id
from flxtrd._fleet._shards import (
    OrderPlan,
    ShardAssignment,
    assign_shards,
    plan_order,
    shard_queue,
)

PLAN = OrderPlan(orders=3, start_ms=1_900_000_800_000)


def test_an_assignment_round_trips_through_its_message_body() -> None:
    """encode then decode gives the same shard, devices, plan and progress."""
    a = ShardAssignment(2, {"d0": 0, "d1": 1}, PLAN, {"d0": 3})
    assert ShardAssignment.decode(a.encode()) == a


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"shard": 1, "devices": []}'])
def test_a_body_that_is_not_an_assignment_is_refused(body: bytes) -> None:
    """A foreign message in a shard queue raises (the worker acks and drops it)."""
    with pytest.raises((ValueError, KeyError, TypeError, AttributeError)):
        ShardAssignment.decode(body)


def test_merging_two_checkpoints_keeps_the_furthest_progress_of_each_device() -> None:
    """A dead worker's old checkpoint and its newer one: the furthest sequence per device wins."""
    new = ShardAssignment(0, {"d0": 0, "d1": 1, "d2": 2}, PLAN, {"d0": 2, "d1": 4})
    old = ShardAssignment(0, {"d0": 0, "d1": 1, "d2": 2}, PLAN, {"d0": 3, "d1": 1, "d2": 2})
    new.merge(old)
    assert new.next_seq == {"d0": 3, "d1": 4, "d2": 2}
    assert not new.complete
    new.next_seq = {"d0": 4, "d1": 4, "d2": 4}
    assert new.complete


def test_pairs_of_devices_share_a_shard_and_every_device_has_one() -> None:
    """Devices 2k and 2k+1 land in one shard, round-robin over the shards, none twice."""
    ids = [f"d{i}" for i in range(10)]
    shards = assign_shards(ids, 3)
    assert shards == [["d0", "d1", "d6", "d7"], ["d2", "d3", "d8", "d9"], ["d4", "d5"]]
    assert sorted(d for shard in shards for d in shard) == sorted(ids)


def test_the_plan_makes_even_devices_sell_and_odd_devices_buy_one_window() -> None:
    """Every ask meets a bid: same window, ask price under bid price."""
    ask, bid = plan_order(PLAN, 0), plan_order(PLAN, 1)
    assert (ask.order_type, bid.order_type) == (OrderType.ASK, OrderType.BID)
    assert ask.flexibility.start_ms == bid.flexibility.start_ms == PLAN.start_ms
    assert ask.price_eur < bid.price_eur


def test_message_ids_and_queue_names_are_deterministic() -> None:
    """The same run, device and sequence give the same id; queues are named by run and shard."""
    assert order_message_id("r1", "dev", 4) == order_message_id("r1", "dev", 4) == "r1:dev:4"
    assert shard_queue("r1", 3) == "flxtrd.fleet.r1.shard.3"


@pytest.mark.parametrize("run", ["", "x" * 17, "a b", "r/1", 5])
def test_a_bad_run_name_is_refused_naming_the_field(run: object) -> None:
    """Run names are 1-16 letters, digits, '-' or '_' (they prefix every message id)."""
    with pytest.raises(FlexValidationError) as caught:
        check_run(run)
    assert caught.value.field == "run"
