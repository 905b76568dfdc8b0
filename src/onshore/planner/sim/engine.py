"""A vLLM-like continuous-batching engine, simulated for many replicas in lock-step numpy arrays.

Each replica is a tensor-parallel group running the scheduler vLLM V1 uses by default:
running sequences decode one token each, the remaining token budget (``max_batched_tokens``)
goes to prompt chunks in admission order (chunked prefill), new requests are admitted
first-come-first-served while a sequence slot (``max_num_seqs``) and KV blocks for the whole
prompt are free, and when a decode step needs a block that is not there the most recently
admitted sequence is preempted (its blocks freed, recomputed later, ahead of new requests).
With ``reserve_whole_request`` (TensorRT-LLM's GUARANTEED_NO_EVICT capacity scheduler) a request
is admitted only when the blocks for its prompt and its whole answer are free, and so is never
preempted.

Why lock-step arrays and not a heap of events: requests are routed up front, so replicas are
independent; the state that changes every step (one row of slots per replica) is then updated
for all replicas with a few dozen numpy operations per step, instead of a Python event per
token. Each row keeps its own clock. The run is deterministic: the only randomness is in the
workload and the router, both drawn from the caller's ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from onshore.planner.errors import PlannerError
from onshore.planner.perf.kv import BLOCK_TOKENS
from onshore.planner.perf.roofline import StepModel
from onshore.planner.sim import router
from onshore.planner.sim.config import EngineConfig
from onshore.planner.sim.metrics import SimResult
from onshore.planner.sim.queues import Queues
from onshore.planner.sim.workload import Workload

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def simulate(
    step: StepModel,
    config: EngineConfig,
    workload: Workload,
    replicas: int,
    rng: np.random.Generator,
    routing: str = "round_robin",
    stop_after: int | None = None,
) -> SimResult:
    """Serve ``workload`` on ``replicas`` identical replicas; every request runs to completion, or
    the run stops once ``stop_after`` have finished (the rest finish at NaN)."""
    closed = workload.arrival is None
    assign = (
        np.arange(workload.n, dtype=np.int64) % replicas
        if closed
        else router.assign(workload.n, replicas, routing, rng)
    )
    longest = int((workload.prompt + workload.output).max())
    if -(-longest // BLOCK_TOKENS) + config.swa_blocks_per_seq > config.kv_blocks:
        raise PlannerError(f"a {longest}-token request does not fit this replica's KV cache")
    lag = step.cal.request_ms * 1e-3
    engine = _Engine(step, config, Queues(workload, replicas, assign, lag), replicas, closed, lag)
    return engine.run(assign, stop_after)


class _Engine:
    def __init__(
        self, step: StepModel, cfg: EngineConfig, q: Queues, replicas: int, closed: bool, lag: float
    ) -> None:
        self.step, self.cfg, self.q, self.closed, self.lag = step, cfg, q, closed, lag
        r, s = replicas, cfg.max_num_seqs
        self.budget = max(cfg.max_batched_tokens, s)
        if not cfg.chunked_prefill:
            # an unchunked engine must be built with a budget that fits its longest prompt beside a
            # full decode batch (TensorRT-LLM: max_num_tokens >= max_input_len), or it could stall;
            # prompt + output covers a preempted sequence's recompute
            self.budget = max(self.budget, int((q.prompt + q.out).max()) + s)
        self.rows = np.arange(r)
        # Per-slot state, allocated for max_num_seqs slots but worked on through views of the first
        # ``width`` columns only: a sequence takes the lowest free slot, so the slots in use stay at
        # the left, and every per-step operation then touches the batch a replica actually reached
        # instead of all max_num_seqs slots. Measured with the row sums of ``_step_times`` (same
        # iterations, same p99s, bit-identical summaries): benchmarks/planner_bench.py's 1M
        # requests on 100 replicas 33.4 s -> 16.8 s CPU, a 6-configuration Korea sizing subset
        # 5.9 / 5.4 s -> 4.4 / 4.3 s CPU, back to back on one core of the shared 2-core machine
        # (load 6-7); re-measure on a quiet machine.
        self._full = {
            "occ": np.zeros((r, s), dtype=np.bool_),
            "swp": np.zeros((r, s), dtype=np.bool_),
            "qpos": np.zeros((r, s), dtype=np.int64),
            "pre": np.zeros((r, s), dtype=np.int64),
            "ctx": np.zeros((r, s), dtype=np.int64),
            "gen": np.zeros((r, s), dtype=np.int64),
            "olen": np.ones((r, s), dtype=np.int64),
            "blk": np.zeros((r, s), dtype=np.int64),
            "aseq": np.zeros((r, s), dtype=np.int64),
        }
        self.occ: BoolArray
        self.swp: BoolArray
        self.qpos: IntArray
        self.pre: IntArray
        self.ctx: IntArray
        self.gen: IntArray
        self.olen: IntArray
        self.blk: IntArray
        self.aseq: IntArray
        self.width = 0
        self._widen(16)
        self.n_occ = np.zeros(r, dtype=np.int64)
        self.n_swp = np.zeros(r, dtype=np.int64)
        self.free = np.full(r, cfg.kv_blocks, dtype=np.int64)
        self.head = np.zeros(r, dtype=np.int64)
        self.arrived = np.zeros(r, dtype=np.int64)
        self.clock = np.zeros(r)
        self.busy = np.zeros(r)
        self.admissions = 0
        self.preemptions = 0
        self.kv_block_s = 0.0
        self.in_system_s = 0.0
        self.min_free = cfg.kv_blocks

    def _widen(self, width: int) -> None:
        """Work on the first ``width`` slot columns (at least double, at most max_num_seqs)."""
        self.width = min(self.cfg.max_num_seqs, max(width, 2 * self.width))
        for name, full in self._full.items():
            setattr(self, name, full[:, : self.width])

    # -- arrivals and admission -------------------------------------------------------------
    def _advance_arrivals(self) -> None:
        q = self.q
        while True:
            due = q.arr[self.rows, self.arrived] <= self.clock
            if not due.any():
                return
            self.arrived += due

    def _jump_idle(self) -> None:
        idle = (self.n_occ == 0) & (self.arrived == self.head)
        if idle.any():
            nxt = self.q.arr[self.rows, self.arrived]
            jump = idle & np.isfinite(nxt)
            self.clock[jump] = nxt[jump]
            self._advance_arrivals()

    def _readmit_swapped(self) -> None:
        ovh = self.cfg.swa_blocks_per_seq
        for r in np.nonzero(self.n_swp)[0]:
            slots = np.nonzero(self.swp[r])[0]
            for s in slots[np.argsort(self.aseq[r, slots])]:
                need = -(-(int(self.pre[r, s]) + 1) // BLOCK_TOKENS) + ovh
                if need > self.free[r]:
                    break
                self.swp[r, s] = False
                self.blk[r, s] = need - ovh
                self.free[r] -= need
                self.n_swp[r] -= 1

    def _admit(self) -> None:
        if self.n_swp.any():
            self._readmit_swapped()
        q, ovh, cap = self.q, self.cfg.swa_blocks_per_seq, self.cfg.max_num_seqs
        while True:
            cand = (self.arrived > self.head) & (self.n_occ < cap) & (self.n_swp == 0)
            if not cand.any():
                return
            r = np.nonzero(cand)[0]
            if int(self.n_occ[r].max()) >= self.width:
                self._widen(self.width + 1)
            h = self.head[r]
            prompt = q.prompt[r, h]
            # TensorRT-LLM reserves the blocks to finish the request (GUARANTEED_NO_EVICT): it then
            # never grows past them (``_grow``) and is never preempted; vLLM those of its prompt
            need = -(-(prompt + (q.out[r, h] if self.cfg.reserve_whole_request else 1)) // BLOCK_TOKENS)
            ok = need + ovh <= self.free[r]
            if not ok.any():
                return
            r, h, prompt, need = r[ok], h[ok], prompt[ok], need[ok]
            s = np.argmin(self.occ[r], axis=1)
            self.occ[r, s] = True
            self.qpos[r, s] = h
            # a cached prefix is context already in KV: only the rest is prefilled
            hit = q.cached[r, h]
            self.pre[r, s] = prompt - hit
            self.ctx[r, s] = hit
            self.gen[r, s] = 0
            self.olen[r, s] = q.out[r, h]
            self.blk[r, s] = need
            self.aseq[r, s] = self.admissions + np.arange(len(r))
            self.admissions += len(r)
            self.free[r] -= need + ovh
            self.head[r] += 1
            self.n_occ[r] += 1

    # -- KV growth and preemption -----------------------------------------------------------
    def _grow(self, dec: BoolArray) -> None:
        """Preempt where one more decode step needs more blocks than are free (edits ``dec``)."""
        extra = dec & (self.ctx + 1 > self.blk * BLOCK_TOKENS)
        over = extra.sum(axis=1) > self.free
        if over.any():
            for r in np.nonzero(over)[0]:
                self._preempt_row(int(r), dec, extra)

    def _preempt_row(self, r: int, dec: BoolArray, extra: BoolArray) -> None:
        ovh = self.cfg.swa_blocks_per_seq
        while extra[r].sum() > self.free[r]:
            live = np.nonzero(self.occ[r] & ~self.swp[r])[0]
            s = live[np.argmax(self.aseq[r, live])]
            self.free[r] += self.blk[r, s] + ovh
            self.pre[r, s] = self.pre[r, s] + self.ctx[r, s] + (1 if dec[r, s] else 0)
            self.ctx[r, s] = 0
            self.blk[r, s] = 0
            self.swp[r, s] = True
            dec[r, s] = False
            extra[r, s] = False
            self.n_swp[r] += 1
            self.preemptions += 1

    # -- one step for every replica -----------------------------------------------------------
    def _chunks(self, dec: BoolArray) -> IntArray:
        pf = self.occ & (self.pre > 0)
        # swapped-out sequences are rare: skip the mask when there are none (with the same skip in
        # run: 100k requests on 100 replicas 1.37 / 1.29 s -> 1.28 / 1.25 s CPU, near the noise)
        if self.n_swp.any():
            pf &= ~self.swp
        left = self.budget - dec.sum(axis=1)
        chunk = np.where(pf, np.minimum(self.pre, left[:, None]), 0)
        multi = np.nonzero(pf.sum(axis=1) > 1)[0]
        if multi.size:
            key = np.where(pf[multi], self.aseq[multi], np.iinfo(np.int64).max)
            order = np.argsort(key, axis=1)
            want = np.take_along_axis(np.where(pf[multi], self.pre[multi], 0), order, axis=1)
            before = np.cumsum(want, axis=1) - want
            got = np.clip(left[multi, None] - before, 0, want)
            sub = np.zeros_like(got)
            np.put_along_axis(sub, order, got, axis=1)
            chunk[multi] = sub
        if not self.cfg.chunked_prefill:
            # whole prompts only, in admission order: the first that does not fit stops the rest
            chunk = np.where(chunk == self.pre, chunk, 0)
        return chunk

    def _row_sums(self, tok: IntArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Per replica: tokens, sequences, (query, position) pairs and positions read this step."""
        on = tok > 0
        t = tok.astype(np.float64)
        total = tok.sum(axis=1).astype(np.float64)
        pairs = (t * self.ctx).sum(axis=1) + (t * (t + 1.0)).sum(axis=1) / 2.0
        pos = (self.ctx * on).sum(axis=1) + total
        return total, on.sum(axis=1).astype(np.float64), pairs, pos

    def _step_times(
        self,
        tok: IntArray,
        dec: BoolArray,
        sums: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
        k: IntArray | None = None,
    ) -> FloatArray:
        """Each replica's step time; with ``k``, rows with ``k > 1`` cost ``k`` decode steps at once.

        Those rows have no prefill chunk (``_horizon``), so every token is a decode at context
        ``ctx`` and the ``k`` steps are costed at the mid-point context ``ctx + (k - 1) / 2``: the
        pair and position sums then grow by ``(k - 1) / 2`` per decoding sequence, added to the
        row sums instead of recomputing every slot (exact: both are sums of halves far below
        2**52). Summing each slot once per step (not twice) and skipping the sliding-window sums
        of models without one is part of the gain measured in ``__init__``.
        """
        total, seqs, pairs, pos = sums
        shift: FloatArray | None = None
        if k is not None:
            shift = np.where(k > 1, (k - 1) / 2.0, 0.0)
            n_dec = dec.sum(axis=1)
            pairs = pairs + n_dec * shift
            pos = pos + n_dec * shift
        w = self.step.spec.model.sliding_window
        pairs_swa: FloatArray | float = 0.0
        pos_swa: FloatArray | float = 0.0
        if w:
            t = tok.astype(np.float64)
            mid = self.ctx if shift is None else self.ctx + dec * shift[:, None]
            pos_swa = np.minimum(np.where(tok > 0, mid + tok, 0.0), w).sum(axis=1)
            pairs_swa = (t * np.minimum(mid + (t + 1.0) / 2.0, w)).sum(axis=1)
        # a pure-decode step (one token a sequence) within the engine's CUDA-graph batch is replayed
        graph = (total == seqs) & (seqs <= self.step.graph_batch) if self.step.graph_saving_s else None
        dt = np.asarray(self.step.step_time(total, seqs, pairs, pairs_swa, pos, pos_swa, graph))
        if k is not None:
            dt = dt * k
        return np.where(total > 0, dt, 0.0)

    def _horizon(self, dec: BoolArray, chunk: IntArray, dt1: npt.NDArray[np.float64]) -> IntArray:
        """Decode steps each replica can take before anything but context length changes.

        Between an arrival, a finish, a prefill chunk and a new KV block, a replica repeats the same
        decode step with every context one token longer; those ``k`` steps are costed at once at
        the mid-point context (attention cost is linear in context, so that is exact for it).
        """
        big = np.int64(1) << 40
        n_dec = dec.sum(axis=1)
        rem = np.where(dec, self.olen - self.gen, big).min(axis=1)
        nxt = self.q.arr[self.rows, self.arrived]
        gap = np.where(np.isfinite(nxt), nxt - self.clock, 0.0)
        k_arr = np.where(np.isfinite(nxt), np.ceil(gap / np.maximum(dt1, 1e-12)), big).astype(np.int64)
        k_blk = np.where(n_dec > 0, (self.free // np.maximum(n_dec, 1)) * BLOCK_TOKENS - 1, big)
        k = np.minimum(np.minimum(rem, k_arr), k_blk)
        single = chunk.any(axis=1) | (self.n_swp > 0) | (n_dec == 0)
        return np.maximum(np.where(single, 1, k), 1)

    def _finish(self, fin: BoolArray, t_end: npt.NDArray[np.float64]) -> None:
        q, ovh = self.q, self.cfg.swa_blocks_per_seq
        r, s = np.nonzero(fin)
        q.done[r, self.qpos[r, s]] = t_end[r]
        np.add.at(self.free, r, self.blk[r, s] + ovh)
        np.add.at(self.n_occ, r, -1)
        self.occ[r, s] = False
        self.ctx[r, s] = 0
        self.blk[r, s] = 0
        self.pre[r, s] = 0
        if self.closed:
            # r is sorted (np.nonzero is row-major): rank of each finish within its row.
            first_of_row = np.searchsorted(r, r)
            idx = q.generated[r] + np.arange(len(r)) - first_of_row
            ok = idx < q.counts[r]
            q.arr[r[ok], idx[ok]] = t_end[r[ok]] + self.lag
            np.add.at(q.generated, r[ok], 1)

    def run(self, assign: IntArray, stop_after: int | None) -> SimResult:
        q = self.q
        total = q.total if stop_after is None else min(stop_after, q.total)
        finished = 0
        it = 0
        while finished < total:
            it += 1
            if it > self.cfg.max_iterations:
                raise PlannerError("simulation did not finish (max_iterations reached)")
            self._advance_arrivals()
            self._jump_idle()
            self._admit()
            dec = self.occ & (self.pre == 0)
            if self.n_swp.any():
                dec &= ~self.swp
            self._grow(dec)
            chunk = self._chunks(dec)
            tok = chunk + dec
            sums = self._row_sums(tok)
            dt = self._step_times(tok, dec, sums)
            k = self._horizon(dec, chunk, dt)
            if (k > 1).any():
                dt = self._step_times(tok, dec, sums, k)
            adv = dec * k[:, None]
            waiting = self.arrived - self.head
            self.in_system_s += float(((self.n_occ + waiting) * dt).sum())
            self.kv_block_s += float(((self.cfg.kv_blocks - self.free) * dt).sum())
            self.ctx += chunk + adv  # in place: ctx and blk are views of the full arrays
            grown = np.where(dec, np.maximum(-(-self.ctx // BLOCK_TOKENS) - self.blk, 0), 0)
            self.free -= grown.sum(axis=1)
            self.blk += grown
            self.min_free = min(self.min_free, int(self.free.min()))
            self.pre -= chunk
            first = (chunk > 0) & (self.pre == 0)
            produced = dec | first
            self.gen += adv + first
            t_end = self.clock + dt
            if first.any():
                r, s = np.nonzero(first)
                qp = self.qpos[r, s]
                new = np.isnan(q.first[r, qp])
                q.first[r[new], qp[new]] = t_end[r[new]]
            fin = produced & (self.gen >= self.olen)
            if fin.any():
                finished += int(fin.sum())
                self._finish(fin, t_end)
            self.busy += dt
            self.clock = t_end
        return self._result(assign, it)

    def _result(self, assign: IntArray, iterations: int) -> SimResult:
        q = self.q
        valid = q.req >= 0
        ids = q.req[valid]
        n = len(ids)
        arrival, first, finish = np.empty(n), np.empty(n), np.empty(n)
        prompt, output = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        arrival[ids], first[ids], finish[ids] = q.arr[valid] - self.lag, q.first[valid], q.done[valid]
        prompt[ids], output[ids] = q.prompt[valid], q.out[valid]
        return SimResult(
            arrival=arrival,
            first_token=first,
            finish=finish,
            prompt=prompt,
            output=output,
            replica=assign,
            replicas=len(self.rows),
            busy_s=self.busy.copy(),
            iterations=iterations,
            kv_capacity_blocks=self.cfg.kv_blocks,
            max_kv_blocks_used=self.cfg.kv_blocks - self.min_free,
            kv_block_seconds=self.kv_block_s,
            in_system_seconds=self.in_system_s,
            preemptions=self.preemptions,
            max_batch_tokens=self.budget,
            max_seqs=self.cfg.max_num_seqs,
        )
