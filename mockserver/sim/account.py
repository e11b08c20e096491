"""The simulated account: a balance in billing units, charged per completed request.

Off unless the server is given a balance (``--balance``). A request is charged
when it completes with an output, by its model's billing (``x-mock-model.
billing``: per image for the Kontext models); failed and cancelled requests
cost nothing, as on fal. Once the balance is spent, new submits are refused,
but requests already accepted still run and are charged, so a balance can go
below zero, as fal's does.

Completion is read off the clock like every other state, so charges are
settled lazily: before a submit for a billed model is admitted, and whenever
the account is read.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mockserver.sim.jobs import Charge, Job

# fal's words for a locked account.
EXHAUSTED = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."


class BalanceExhausted(Exception):
    """The account has nothing left: the submit is refused (the caller says 403)."""

    def __init__(self) -> None:
        super().__init__(EXHAUSTED)


class Account:
    def __init__(self, balance: float | None) -> None:
        self.balance = None if balance is None else float(balance)  # None: no account, nothing is refused
        self.charged_units = 0.0
        self.charged_usd = 0.0
        self.charged_requests = 0
        # Jobs with a charge that have not completed yet (at most the store's unfinished jobs).
        self._open: deque[Job] = deque()

    @property
    def enabled(self) -> bool:
        return self.balance is not None

    def admit(self, now: float) -> None:
        """Raise :class:`BalanceExhausted` when the balance is spent (once completed work is charged)."""
        if self.balance is None:
            return
        self.settle(now)
        if self.balance <= 0:
            raise BalanceExhausted

    def track(self, job: Job) -> None:
        """Charge ``job`` when it completes with an output."""
        if self.balance is not None and job.charge is not None:
            self._open.append(job)

    def settle(self, now: float) -> None:
        """Charge every tracked job that has completed by ``now``."""
        still_open: deque[Job] = deque()
        while self._open:
            job = self._open.popleft()
            if job.finished_at is None or job.finished_at > now:
                still_open.append(job)
            elif job.failure is None and job.charge is not None:
                self._charge(job.charge)
        self._open = still_open

    def top_up(self, units: float, now: float) -> None:
        """Add ``units``; on a server started without an account, this starts one (from zero)."""
        self.settle(now)
        self.balance = (self.balance or 0.0) + units

    def set_balance(self, units: float | None, now: float) -> None:
        """Set the balance outright; None stops simulating an account (nothing is refused or charged)."""
        self.settle(now)
        self.balance = units
        if units is None:
            self._open.clear()

    def summary(self, now: float) -> dict[str, Any]:
        self.settle(now)
        return {
            "enabled": self.enabled,
            "balance": self.balance,
            "charged_units": self.charged_units,
            "charged_usd": round(self.charged_usd, 6),
            "charged_requests": self.charged_requests,
            "open_requests": len(self._open),
        }

    def _charge(self, charge: Charge) -> None:
        assert self.balance is not None
        self.balance -= charge.units
        self.charged_units += charge.units
        self.charged_usd += charge.usd
        self.charged_requests += 1
