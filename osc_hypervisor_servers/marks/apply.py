#   Licensed under the Apache License, Version 2.0 (the "License"); you may
#   not use this file except in compliance with the License. You may obtain
#   a copy of the License at
#
#        http://www.apache.org/licenses/LICENSE-2.0
#
#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#   WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#   License for the specific language governing permissions and limitations
#   under the License.

"""Sending a server's planned writes, each judged by the server's state.

Writes of attributes are idempotent: after a lost answer they are sent
again, and a write that finally fails, after a retry or with a 404, is
judged by the server's state (:mod:`..runner.judged`). A server with
writes Nova would refuse is ``skipped`` with the rule, after the writes
Nova accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
import functools
import threading
import time

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.marks import planning
from osc_hypervisor_servers.marks import writes
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import landing
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import listings


def _retries_note(retries: int) -> str:
    if not retries:
        return ''
    return f' (after {retries} {"retry" if retries == 1 else "retries"})'


def _with_notes(details: str, notes: Sequence[str]) -> str:
    return '; '.join(filter(None, [details, *notes]))


#: Makes the plan of a server as it is now (after a task ended).
Replan = Callable[[model.ServerState], planning.ServerPlan]
#: Journals a plan made again, before its writes; raises OSError when
#: the journal cannot be written.
Revise = Callable[[planning.ServerPlan], None]

# How often a server whose task must end is read again.
TASK_POLL_SECONDS = 1.0


def _refused_text(plan: planning.ServerPlan) -> str:
    return '; '.join(
        f'skipped {write.describe()}: {rule}' for write, rule in plan.refused
    )


@dataclasses.dataclass(frozen=True)
class AttributeTask:
    """Send one server's writes in order; stop at its first failure.

    A server whose properties change while a task is under way is read
    again until the task ends (``timeout`` seconds at most), planned
    again as it is then (``replan``), and that plan journaled before
    its writes (``revise``): the journal holds what the writes replace.
    """

    plan: planning.ServerPlan
    compute: _proxy.Proxy
    retry: retrying.RetryPolicy
    replan: Replan
    revise: Revise
    timeout: float

    @property
    def server(self) -> model.ServerState:
        return self.plan.server

    def preview(self) -> reporting.ServerResult:
        plan = self.plan
        status = reporting.SKIPPED if plan.refused else reporting.WOULD_CHANGE
        details = writes.describe(plan.writes)
        if plan.waits:
            details += f' once task {plan.server.task_state} ends'
        return reporting.ServerResult(
            plan.server,
            status,
            _with_notes(details, [_refused_text(plan), *plan.notes]),
        )

    def _holds(self, write: writes.Write) -> bool:
        now = listings.read_server(self.compute, self.server.id, self.retry)
        # A server that is gone holds nothing: its 404 stays a failure.
        return now is not None and write.is_done(now)

    def _after_task(
        self, stop: threading.Event
    ) -> planning.ServerPlan | reporting.ServerResult:
        """The plan once the server's task ended, or the row that ends
        the task (timed out, gone, Ctrl-C).
        """
        deadline = time.monotonic() + self.timeout
        plan = self.plan
        while plan.waits:
            if stop.is_set():
                return reporting.ServerResult(
                    self.server,
                    reporting.NOT_ATTEMPTED,
                    f'interrupted while task {plan.server.task_state} was '
                    f'under way; nothing written',
                )
            if time.monotonic() >= deadline:
                return reporting.ServerResult(
                    self.server,
                    reporting.TIMED_OUT,
                    f'task {plan.server.task_state} still under way after '
                    f'{self.timeout:g} s; nothing written',
                )
            stop.wait(min(TASK_POLL_SECONDS, deadline - time.monotonic()))
            now = listings.read_server(
                self.compute, self.server.id, self.retry
            )
            if now is None:
                return reporting.ServerResult(
                    self.server,
                    reporting.FAILED,
                    'the server no longer exists',
                )
            plan = self.replan(now)
        return plan

    def run(self, stop: threading.Event) -> reporting.ServerResult:
        try:
            plan = self._after_task(stop)
        except errors.SERVER_ERRORS as error:
            return reporting.ServerResult(
                self.server, reporting.FAILED, errors.error_text(error)
            )
        except retrying.NovaUnreachable as error:
            return reporting.ServerResult(
                self.server,
                reporting.NOT_ATTEMPTED,
                f'not started: {error}; nothing written',
            )
        if isinstance(plan, reporting.ServerResult):
            return plan
        if plan.changes != self.plan.changes:
            try:
                self.revise(plan)
            except OSError as error:
                return reporting.ServerResult(
                    self.server,
                    reporting.FAILED,
                    f'the journal could not record the values its writes '
                    f'replace now ({error.strerror}); nothing written',
                )
        return _send(plan, self.compute, self.retry, self._holds)


def _send(
    plan: planning.ServerPlan,
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    holds: Callable[[writes.Write], bool],
) -> reporting.ServerResult:
    """Send ``plan``'s writes; its row."""
    # Once started, a server's writes all go out: stopping halfway would
    # leave it half-changed.
    retries = 0
    done: list[writes.Write] = []
    for write in plan.writes:
        try:
            sent = landing.send(
                functools.partial(write.send, compute, plan.server.id),
                functools.partial(holds, write),
                landing.RESEND,
                retry,
            )
        except retrying.NovaUnreachable as error:
            return _unanswered(plan, error, write, done)
        retries += sent.retries
        if sent.error is not None:
            details = f'{write.describe()}: {errors.error_text(sent.error)}'
            if done:
                details += f'; done before: {writes.describe(done)}'
            return _result(plan, reporting.FAILED, details, retries)
        done.append(write)
    status = reporting.SKIPPED if plan.refused else reporting.CHANGED
    return _result(plan, status, writes.describe(done), retries)


def _unanswered(
    plan: planning.ServerPlan,
    error: retrying.NovaUnreachable,
    write: writes.Write,
    done: Sequence[writes.Write],
) -> reporting.ServerResult:
    """The row of a server whose ``write`` Nova did not answer."""
    if error.unsent and not done:
        return _result(
            plan, reporting.NOT_ATTEMPTED, f'not started: {error}', 0
        )
    details = f'{write.describe()}: {error}'
    if not error.unsent:
        details += ' (it may have landed)'
    if done:
        details += f'; done before: {writes.describe(done)}'
    return _result(plan, reporting.FAILED, details, 0)


def _result(
    plan: planning.ServerPlan,
    status: reporting.Status,
    details: str,
    retries: int,
) -> reporting.ServerResult:
    return reporting.ServerResult(
        plan.server,
        status,
        _with_notes(
            details + _retries_note(retries),
            [_refused_text(plan), *plan.notes],
        ),
    )


def _without_writes(plan: planning.ServerPlan) -> reporting.ServerResult:
    """The row of a server with nothing to send."""
    status = reporting.SKIPPED if plan.refused else reporting.UNCHANGED
    return reporting.ServerResult(
        plan.server,
        status,
        _with_notes('', [_refused_text(plan), *plan.notes]),
    )


def batch(
    compute: _proxy.Proxy,
    plans: Sequence[planning.ServerPlan],
    retry: retrying.RetryPolicy,
    replan: Replan,
    revise: Revise,
    timeout: float,
    steps: Sequence[execution.Step] = (),
    rows_without_plan: Iterable[reporting.ServerResult] = (),
) -> execution.Batch:
    """A task for each plan that has writes; a row for the others.

    ``rows_without_plan`` are the rows of servers that have no plan.
    """
    return execution.Batch(
        tasks=[
            AttributeTask(plan, compute, retry, replan, revise, timeout)
            for plan in plans
            if plan.writes
        ],
        rows_without_task=[
            _without_writes(plan) for plan in plans if not plan.writes
        ]
        + list(rows_without_plan),
        steps=steps,
    )
