"""Run per-example library explainers (LIME, SHAP) side by side so their model calls are batched.

LIME and SHAP explain one text at a time and call a model function whenever they need outputs;
SHAP's Partition explainer even decides what to evaluate next from the previous answers, so its
requests cannot be collected up front. ``run_lockstep`` runs one job per example in its own thread,
but only one thread runs at a time: each job runs until it asks the model something, then the next
job runs; when every job is waiting, all their requests go to the engine as ONE batched call and
every job gets its answer. Jobs take turns in a fixed order and each has its own numpy and torch
global random states (SHAP breaks priority ties with ``np.random``; captum's KernelShap samples
with torch's generator), so results are deterministic and an example's result does not depend on
the other examples in the call.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np
import torch

Ask = Callable[[Any], Any]


class _Cancelled(BaseException):
    """Unwinds a waiting job when another job failed (BaseException: libraries must not catch it)."""


class _Job:
    def __init__(self, fn: Callable[[Ask], Any], seed: int, runner: "_Runner") -> None:
        self.fn, self.runner = fn, runner
        self.go = threading.Semaphore(0)
        self.request: Any = None
        self.answer: Any = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.rng_state = np.random.RandomState(seed).get_state()
        # torch's global generator too: captum's samplers (KernelShap) draw from it.
        self.torch_state = torch.Generator().manual_seed(int(seed)).get_state()
        self.thread = threading.Thread(target=self._body, daemon=True)

    def ask(self, request: Any) -> Any:
        # Called from the job's thread: hand the request over and wait for the next turn.
        self.request = request
        self.runner.yielded.release()
        self.go.acquire()
        if self.runner.cancelled:
            raise _Cancelled()
        answer, self.answer = self.answer, None
        return answer

    def _body(self) -> None:
        self.go.acquire()
        try:
            if not self.runner.cancelled:
                self.result = self.fn(self.ask)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the coordinating thread
            self.error = exc
        finally:
            self.done = True
            self.runner.yielded.release()


class _Runner:
    def __init__(self) -> None:
        self.yielded = threading.Semaphore(0)
        self.cancelled = False

    def turn(self, job: _Job) -> None:
        """Let ``job`` run until it asks something or finishes, with its own numpy and torch random
        states."""
        np.random.set_state(job.rng_state)
        torch.set_rng_state(job.torch_state)
        job.go.release()
        self.yielded.acquire()
        job.rng_state = np.random.get_state()
        job.torch_state = torch.get_rng_state()


def run_lockstep(
    jobs: Sequence[Callable[[Ask], Any]],
    answer_all: Callable[[list], list],
    seeds: Sequence[int],
    max_active: int = 64,
    progress: bool = False,
    desc: str = "explain",
) -> list:
    """Run ``jobs[i](ask)`` for every i and return their results in order.

    A job calls ``ask(request)`` to get an answer; ``answer_all(requests)`` receives the pending
    requests of all waiting jobs (in job order) and returns their answers: this is where the one
    batched model call per round happens. ``seeds[i]`` seeds job i's numpy and torch global random
    states.
    At most ``max_active`` jobs (threads) are alive at once. The caller's numpy and torch global
    random states are restored afterwards.
    """
    runner = _Runner()
    pending = [_Job(fn, seed, runner) for fn, seed in zip(jobs, seeds)]
    results: list = [None] * len(pending)
    order = {id(job): i for i, job in enumerate(pending)}
    active: list[_Job] = []
    caller_state, caller_torch_state = np.random.get_state(), torch.get_rng_state()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc=desc, unit="text", leave=False)
    pending.reverse()
    try:
        # batched: one engine call per round, for every waiting job together
        while active or pending:
            while pending and len(active) < max_active:
                job = pending.pop()
                job.thread.start()
                active.append(job)
            for job in active:
                runner.turn(job)
            waiting = []
            for job in active:
                if not job.done:
                    waiting.append(job)
                    continue
                if job.error is not None:
                    raise job.error
                results[order[id(job)]] = job.result
                if bar is not None:
                    bar.update(1)
            if waiting:
                answers = answer_all([job.request for job in waiting])
                for job, answer in zip(waiting, answers):
                    job.request, job.answer = None, answer
            active = waiting
    finally:
        np.random.set_state(caller_state)
        torch.set_rng_state(caller_torch_state)
        if bar is not None:
            bar.close()
        if active:
            runner.cancelled = True
            for job in active:
                if not job.done:
                    job.go.release()
            for job in active:
                job.thread.join()
    return results


def output_answers(model, output: str) -> Callable[[list], list]:
    """``answer_all`` for jobs whose request is ``(texts, target)``: f(x) for every text, computed
    with one batched engine call over all requests."""

    def answer_all(requests: list) -> list:
        texts = [t for texts, _ in requests for t in texts]
        targets = np.concatenate([np.full(len(texts_), target, dtype=int) for texts_, target in requests])
        values = model.output_from_logits(model.logits(texts), targets, output)
        bounds = np.cumsum([0] + [len(texts_) for texts_, _ in requests])
        return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    return answer_all
