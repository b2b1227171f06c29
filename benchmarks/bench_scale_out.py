"""Scale-out on Ray: 10,000,000 accounts re-margined across worker processes (issue 14).

deribit-pm over 1,000 instruments of the embedded Deribit chain, accounts of 10 random positions
(benchmarks/books.py). The book is never built in one process: it is cut into shards of
1,000,000 accounts and each worker builds its own shards from a seed (shard ``k``: accounts
``k * 1e6 ..``, seed ``1000 + k``), so the driver holds only the prepared state and the results.
Every figure is measured in this run, on this machine (2 cores, shared: the load average is
printed, and CPU seconds are shown beside wall seconds).

1. In-process baseline: one shard of 1,000,000 accounts built and re-margined in this process
   (Detail.TOTALS), its peak memory; the prepared state's size (what a tick broadcasts).
2. Batch: the 10 shards as Ray tasks on a private single-node Ray with 1 worker, then with 2:
   wall time, CPU seconds in the workers, the speed-up from 1 to 2 workers; the totals of both
   runs are compared bit for bit (and shard 0 with the in-process baseline).
3. Resident (the real-time shape): the 10 shards held by actors (built inside them); every tick
   broadcasts the prepared state once (``ray.put``) and re-margins every resident account: tick
   latency, broadcast bytes, memory per resident shard.
4. The multi-node model of docs/scale-out.md from these figures: memory per shard, broadcast
   bytes per tick, expected tick latency at 10 and 100 nodes.
5. The real-time loop's tick (:func:`realtime_loop`, also alone: ``python -m
   benchmarks.bench_scale_out realtime``): the engine's margin of 100,000 accounts
   (``SOLVENT_BENCH_RT_ACCOUNTS``) per tick, with ten accounts changed between ticks, in
   process, with the book's shards shipped as Ray tasks on every tick, and held by Ray actors
   (``realtime.resident``: account changes routed to their actor, the prepared state broadcast
   once), with 1 and 2 workers; per-tick latency and its ratio to the in-process tick of the
   same run, broadcast bytes; every mode's figures compared bit for bit.

``SOLVENT_BENCH_SCALE_ACCOUNTS`` changes the total (default 10,000,000; a multiple of the shard
size is not required).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from benchmarks.books import synthetic_account_book, synthetic_book
from benchmarks.common import load_average
from solvent.executors import shard_bounds
from solvent.margin.protocol import Detail, PricedMarket
from solvent.margin.registry import get_model
from solvent.margin.result import BookMargin
from solvent.margin.sharded import MarginState, margin_shard
from solvent.market.deribit import load_embedded_chain
from solvent.portfolio.book import Book

MODEL = "deribit-pm"
N_INSTRUMENTS = 1000
TOTAL_ACCOUNTS = 10_000_000
SHARD_ACCOUNTS = 1_000_000
TICKS = 3
OBJECT_STORE_BYTES = 512 * 1024 * 1024
NIC_BYTES_PER_S = 1.25e9
"""10 Gb/s: the network assumed by the multi-node model."""
CORES_PER_NODE = 16
"""Cores per node assumed by the multi-node model."""
NODE_MEMORY_BYTES = 64 * 1024**3
"""Memory per node assumed by the multi-node model."""
SUBMIT_S = 0.0001
"""Driver-side cost of submitting one actor call assumed on a cluster (Ray's order of size); the
round trip of a whole tick with nothing to compute is measured here."""


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """Shard ``index``: accounts ``start:stop`` of the synthetic book, built from its seed."""

    index: int
    start: int
    stop: int
    instruments: tuple[str, ...]

    def build(self) -> Book:
        book = synthetic_book(self.stop - self.start, self.instruments, seed=1000 + self.index)
        names = tuple(f"acct-{i}" for i in range(self.start, self.stop))
        return Book(names, book.instruments, book.quantities)


@dataclass(frozen=True, slots=True)
class ShardRun:
    """What a worker reports for one shard: seconds (wall and CPU), the worker's peak memory so
    far, the totals (USD)."""

    index: int
    pid: int
    build_s: float
    margin_s: float
    cpu_s: float
    rss_bytes: int
    initial_margin_usd: np.ndarray[Any, np.dtype[np.float64]]
    maintenance_margin_usd: np.ndarray[Any, np.dtype[np.float64]]


def _rss() -> int:
    """Resident set size of this process now (bytes)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build_and_margin(state: MarginState, spec: ShardSpec) -> ShardRun:
    """A batch shard: build it from its seed, margin it, keep only the totals."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    book = spec.build()
    t1 = time.perf_counter()
    result = margin_shard(state, book)
    t2 = time.perf_counter()
    return ShardRun(
        spec.index,
        os.getpid(),
        t1 - t0,
        t2 - t1,
        time.process_time() - cpu0,
        _peak_rss(),
        np.asarray(result.initial_margin_usd),
        np.asarray(result.maintenance_margin_usd),
    )


def warm_up(state: MarginState, _: int) -> int:
    return os.getpid()


@dataclass(frozen=True, slots=True)
class ResidentShard:
    """A resident shard: its book, built inside the actor that holds it."""

    spec: ShardSpec
    book: Book | None = None


def build_resident(held: ResidentShard, _: None) -> ResidentShard:
    return ResidentShard(held.spec, held.spec.build())


def margin_resident(state: MarginState, held: ResidentShard) -> tuple[float, float, BookMargin]:
    """A tick on one resident shard: (wall s, CPU s, the totals). Only the arrays travel back:
    the account names of a resident shard do not change with the market (the real-time loop
    keeps them), so they are left out of the tick's result."""
    assert held.book is not None
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = margin_shard(state, held.book)
    arrays = BookMargin(
        result.model,
        result.parameters,
        (),
        np.asarray(result.initial_margin_usd),
        np.asarray(result.maintenance_margin_usd),
    )
    return time.perf_counter() - t0, time.process_time() - cpu0, arrays


def resident_rss(_: None, held: ResidentShard) -> int:
    return _rss()


def nothing(_: None, held: ResidentShard) -> int:
    return 0


def _prepared(instruments: tuple[str, ...]) -> tuple[MarginState, float]:
    market = load_embedded_chain()
    model = get_model(MODEL)
    start = time.perf_counter()
    priced = PricedMarket.resolve(market, instruments)
    prepared = model.prepare(priced, instruments, model.load_params(None))
    return MarginState(model, prepared, Detail.TOTALS), time.perf_counter() - start


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def baseline(state: MarginState, spec: ShardSpec) -> ShardRun:
    run = build_and_margin(state, spec)
    print(
        f"in-process, 1 shard of {spec.stop - spec.start:,} accounts: build {run.build_s:.2f} s, "
        f"margin {run.margin_s:.2f} s ({run.cpu_s:.2f} CPU s for both), "
        f"peak memory {_gb(_peak_rss())}"
    )
    return run


def batch(state: MarginState, specs: list[ShardSpec], workers: int) -> tuple[float, list[ShardRun]]:
    """The shards as Ray tasks on a private Ray with ``workers`` CPUs: (wall s, runs)."""
    from solvent.executors.ray_cluster import RayExecutor

    with RayExecutor(num_cpus=workers, object_store_bytes=OBJECT_STORE_BYTES) as ex:
        shared = ex.share(state)
        ex.map(warm_up, shared, list(range(4 * workers)))  # workers started, Solvent imported
        start = time.perf_counter()
        runs = ex.map(build_and_margin, shared, specs)
        wall = time.perf_counter() - start
    cpu = sum(r.cpu_s for r in runs)
    margin_cpu = sum(r.margin_s for r in runs)
    n = specs[-1].stop
    print(
        f"batch, {workers} worker(s): {n:,} accounts in {len(specs)} tasks: wall {wall:.1f} s "
        f"({n / wall:,.0f} accounts/s); worker CPU {cpu:.1f} s (margin wall in tasks "
        f"{margin_cpu:.1f} s); largest worker peak RSS {_gb(max(r.rss_bytes for r in runs))}; "
        f"processes {len({r.pid for r in runs})}"
    )
    return wall, runs


def resident(state: MarginState, specs: list[ShardSpec], workers: int) -> dict[str, float]:
    """The real-time shape: one shard per worker held by an actor, ``TICKS`` ticks."""
    from solvent.executors.ray_cluster import RayExecutor

    out: dict[str, float] = {}
    with RayExecutor(num_cpus=workers, object_store_bytes=OBJECT_STORE_BYTES) as ex:
        held = ex.hold([ResidentShard(s) for s in specs])
        before = held.map(resident_rss, ex.share(None))
        start = time.perf_counter()
        held.update(build_resident, dict.fromkeys(range(len(specs))))  # built in the actors
        out["build_s"] = time.perf_counter() - start
        after = held.map(resident_rss, ex.share(None))
        out["rss_per_shard"] = float(np.mean(after))
        out["book_bytes_per_shard"] = float(np.mean(np.subtract(after, before)))
        latencies, cpu, put = [], [], []
        for _ in range(TICKS):
            t0 = time.perf_counter()
            shared = ex.share(state)
            t1 = time.perf_counter()
            results = held.map(margin_resident, shared)
            t2 = time.perf_counter()
            put.append(t1 - t0)
            latencies.append(t2 - t0)
            cpu.append(sum(c for _, c, _ in results))
            out["broadcast_bytes"] = float(shared.nbytes)
        out["tick_s"] = min(latencies)
        out["put_s"] = min(put)
        out["tick_cpu_s"] = min(cpu)
        out["accounts"] = float(sum(r.initial_margin_usd.size for _, _, r in results))
        empty = []
        for _ in range(5):
            t0 = time.perf_counter()
            held.map(nothing, ex.share(None))
            empty.append(time.perf_counter() - t0)
        out["empty_tick_s"] = min(empty)
        held.close()
    print(
        f"resident, {workers} workers, {len(specs)} actors of {specs[0].stop - specs[0].start:,} "
        f"accounts: built in {out['build_s']:.1f} s; RSS per actor {_gb(out['rss_per_shard'])} "
        f"(the shard's book {_gb(out['book_bytes_per_shard'])}); tick (best of {TICKS}): "
        f"{out['tick_s']:.2f} s wall, {out['tick_cpu_s']:.1f} CPU s, ray.put "
        f"{1e3 * out['put_s']:.1f} ms of {out['broadcast_bytes'] / 1e6:.2f} MB; a tick with "
        f"nothing to compute {1e3 * out['empty_tick_s']:.1f} ms"
    )
    return out


def multi_node_model(
    per_account_cpu_s: float,
    bytes_per_account: float,
    broadcast: float,
    accounts: int,
    empty_tick_s: float,
) -> None:
    """docs/scale-out.md's model: a tick at ``nodes`` nodes of ``CORES_PER_NODE`` cores."""
    print(
        f"model (assumed: {CORES_PER_NODE} cores and {NODE_MEMORY_BYTES / 1024**3:.0f} GiB per "
        f"node, one shard per core, {NIC_BYTES_PER_S * 8 / 1e9:.0f} Gb/s network, "
        f"{1e6 * SUBMIT_S:.0f} us to submit a call; measured: {1e6 * per_account_cpu_s:.2f} CPU us "
        f"and {bytes_per_account:.0f} B resident per account, {broadcast / 1e6:.2f} MB broadcast "
        f"per tick, {1e3 * empty_tick_s:.1f} ms round trip of an empty tick)"
    )
    for total in (accounts, 10 * accounts):
        for nodes in (10, 100):
            cores = nodes * CORES_PER_NODE
            compute = total * per_account_cpu_s / cores
            bcast = broadcast * nodes / NIC_BYTES_PER_S  # every node pulls it once from the head
            gather = 16 * total / NIC_BYTES_PER_S  # IM and MM (2 x float64) back to the driver
            calls = empty_tick_s + SUBMIT_S * cores  # one call per shard, all in flight at once
            memory = total * bytes_per_account / nodes
            tick = bcast + compute + gather + calls
            print(
                f"  {total:>12,} accounts on {nodes:>3} nodes: memory per node "
                f"{_gb(memory)} ({100 * memory / NODE_MEMORY_BYTES:.0f} %), broadcast "
                f"{broadcast * nodes / 1e6:,.0f} MB ({1e3 * bcast:.0f} ms), compute "
                f"{1e3 * compute:.0f} ms, totals back {1e3 * gather:.0f} ms, calls "
                f"{1e3 * calls:.0f} ms: tick ~{1e3 * tick:.0f} ms (~{1e3 * (tick - gather):.0f} ms "
                f"when only the accounts whose state changed travel back)"
            )


def main() -> None:
    load = load_average()
    print(f"machine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min)")
    total = int(os.environ.get("SOLVENT_BENCH_SCALE_ACCOUNTS", str(TOTAL_ACCOUNTS)))
    market = load_embedded_chain()
    instruments = tuple(list(market.quotes)[:N_INSTRUMENTS])
    state, prepare_s = _prepared(instruments)
    shards = max(total // SHARD_ACCOUNTS, 1)
    specs = [
        ShardSpec(k, a, b, instruments) for k, (a, b) in enumerate(shard_bounds(total, shards))
    ]
    from solvent.executors.ray_cluster import _serialized_bytes

    broadcast = _serialized_bytes(state)
    print(
        f"{MODEL}, {len(instruments):,} instruments: prepare {prepare_s:.2f} s; prepared state "
        f"{broadcast / 1e6:.2f} MB (the broadcast of one tick); {total:,} accounts in "
        f"{len(specs)} shards of ~{specs[0].stop - specs[0].start:,}"
    )
    base = baseline(state, specs[0])
    one_wall, one = batch(state, specs, 1)
    two_wall, two = batch(state, specs, 2)
    same = all(
        np.array_equal(x.initial_margin_usd, y.initial_margin_usd)
        and np.array_equal(x.maintenance_margin_usd, y.maintenance_margin_usd)
        for x, y in zip(one, two, strict=True)
    ) and np.array_equal(one[0].initial_margin_usd, base.initial_margin_usd)
    im = float(sum(r.initial_margin_usd.sum() for r in two))
    print(
        f"scaling 1 -> 2 workers: {one_wall / two_wall:.2f}x (ideal 2.00x on 2 cores shared "
        f"with the load above); totals identical across runs and to in-process: {same}; "
        f"sum of IM {im:,.0f} USD"
    )
    halves = [ShardSpec(k, a, b, instruments) for k, (a, b) in enumerate(shard_bounds(total, 2))]
    ticks = resident(state, halves, 2)
    per_account_cpu = ticks["tick_cpu_s"] / ticks["accounts"]
    per_account_bytes = ticks["book_bytes_per_shard"] / (halves[0].stop - halves[0].start)
    multi_node_model(
        per_account_cpu, per_account_bytes, ticks["broadcast_bytes"], total, ticks["empty_tick_s"]
    )
    realtime_loop()


RT_ACCOUNTS = 100_000
RT_TICKS = 12
RT_CHANGED = 10
"""Accounts whose positions change between two ticks of the real-time benchmark."""


def _loop(
    accounts: Any,
    market: Any,
    executor: Any,
    mode: str,
    ticks: int,
) -> tuple[list[float], list[float], list[Any], dict[str, float]]:
    """``ticks`` ticks of the engine's margin (``remargin``) on a fresh copy of the book, the
    same ``RT_CHANGED`` accounts changed before each: per-tick wall seconds (the grouped book
    rebuilt after the change, risk arrays, margin, health) and of its margin stage alone, each
    tick's requirements, and the resident's figures."""
    from solvent.ledger.model import PositionState
    from solvent.realtime.book_state import AccountRows, BookState
    from solvent.realtime.latency import TickTimer
    from solvent.realtime.resident import ResidentUnits
    from solvent.realtime.tick import ModelRuntime, remargin

    state = BookState(accounts, [MODEL] * len(accounts))
    runtimes = {MODEL: ModelRuntime(MODEL)}
    stage = ResidentUnits(executor, lambda: state) if mode == "actors" else None
    rng = np.random.default_rng(5)
    instruments = accounts.instruments
    latencies: list[float] = []
    margin_stage: list[float] = []
    results: list[Any] = []
    for t in range(ticks + 1):  # tick 0 places the book and warms up: not counted
        if t:
            changed = rng.choice(len(accounts), RT_CHANGED, replace=False)
            positions = {
                accounts.accounts[i]: [
                    PositionState(
                        instruments[j],
                        Decimal(str(np.round(rng.normal(0, 2), 1))),
                        Decimal(0),
                        Decimal(0),
                        "BTC",
                    )
                    for j in rng.choice(len(instruments), 10, replace=False)
                ]
                for i in changed.tolist()
            }
            state.replace(AccountRows({}, positions))
        start = time.perf_counter()
        grouped = state.grouped()
        priced = PricedMarket.resolve(market, grouped.book.instruments)
        timer = TickTimer()
        health = remargin(
            grouped,
            priced,
            t,  # a new market version: the model is prepared again, as on a moved market
            runtimes,
            {},
            timer,
            executor=executor if mode == "tasks" else None,
            stage=stage,
        )
        if t:
            latencies.append(time.perf_counter() - start)
            margin_stage.append(timer.seconds["margin"])
        results.append((health.initial_margin_usd, health.maintenance_margin_usd))
    figures: dict[str, float] = {}
    if stage is not None:
        figures = {"broadcast_bytes": float(stage.broadcast_bytes), "routed": float(stage.routed)}
        stage.close()
    return latencies, margin_stage, results, figures


def realtime_loop() -> None:
    """Section 5 of the module docstring."""
    from solvent.executors.ray_cluster import RayExecutor

    load = load_average()
    n = int(os.environ.get("SOLVENT_BENCH_RT_ACCOUNTS", str(RT_ACCOUNTS)))
    market = load_embedded_chain()
    instruments = tuple(list(market.quotes)[:N_INSTRUMENTS])
    accounts = synthetic_account_book(n, instruments)
    print(
        f"real-time loop, {MODEL}: {n:,} accounts x 10 positions over {len(instruments):,} "
        f"instruments, {RT_CHANGED} accounts changed between ticks, best and median of "
        f"{RT_TICKS} ticks; load average {load} (1, 5, 15 min)"
    )
    base, base_margin, expected, _ = _loop(accounts, market, None, "in-process", RT_TICKS)
    p50, m50 = float(np.median(base)), float(np.median(base_margin))
    print(
        f"  in-process: tick p50 {1e3 * p50:.1f} ms (best {1e3 * min(base):.1f} ms), of which "
        f"the margin stage {1e3 * m50:.1f} ms (the baselines)"
    )
    same = True
    for workers in (1, 2):
        with RayExecutor(num_cpus=workers, object_store_bytes=OBJECT_STORE_BYTES) as ex:
            for mode in ("tasks", "actors"):
                lat, stage, got, figures = _loop(accounts, market, ex, mode, RT_TICKS)
                same = same and all(
                    np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
                    for a, b in zip(got, expected, strict=True)
                )
                m, s50 = float(np.median(lat)), float(np.median(stage))
                extra = ""
                if figures:
                    extra = (
                        f"; broadcast {figures['broadcast_bytes'] / 1e6:.2f} MB per tick, "
                        f"{int(figures['routed'])} units routed by the last change"
                    )
                what = "book shipped as tasks" if mode == "tasks" else "book resident in actors"
                print(
                    f"  {workers} worker(s), {what}: tick p50 {1e3 * m:.1f} ms (best "
                    f"{1e3 * min(lat):.1f} ms) = {m / p50:.2f}x the in-process tick; margin "
                    f"stage {1e3 * s50:.1f} ms = {s50 / m50:.2f}x the in-process stage{extra}"
                )
    load = load_average()
    print(f"  every tick's figures identical to in-process, bit for bit: {same}; load now {load}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["realtime"]:
        realtime_loop()
    else:
        main()
