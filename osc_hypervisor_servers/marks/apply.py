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
judged by the server's state (:mod:`..runner.judged`).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
import functools
import threading

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.marks import planning
from osc_hypervisor_servers.marks import writes
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import judged
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import listings


def _retries_note(retries: int) -> str:
    if not retries:
        return ''
    return f' (after {retries} {"retry" if retries == 1 else "retries"})'


def _with_notes(details: str, notes: Sequence[str]) -> str:
    return '; '.join(filter(None, [details, *notes]))


@dataclasses.dataclass(frozen=True)
class AttributeTask:
    """Send one server's writes in order; stop at its first failure."""

    plan: planning.ServerPlan
    compute: _proxy.Proxy
    retry: retrying.RetryPolicy

    @property
    def server(self) -> model.ServerState:
        return self.plan.server

    def preview(self) -> reporting.ServerResult:
        return reporting.ServerResult(
            self.server,
            reporting.WOULD_CHANGE,
            _with_notes(writes.describe(self.plan.writes), self.plan.notes),
        )

    def _holds(self, write: writes.Write) -> bool:
        now = listings.read_server(self.compute, self.server.id, self.retry)
        # A server that is gone holds nothing: its 404 stays a failure.
        return now is not None and write.is_done(now)

    def run(self, stop: threading.Event) -> reporting.ServerResult:
        # Once started, a server's writes all go out: stopping halfway
        # would leave it half-changed.
        retries = 0
        done: list[writes.Write] = []
        for write in self.plan.writes:
            sent = judged.send(
                functools.partial(write.send, self.compute, self.server.id),
                functools.partial(self._holds, write),
                judged.RESEND,
                self.retry,
            )
            retries += sent.retries
            if sent.error is not None:
                details = (
                    f'{write.describe()}: {errors.error_text(sent.error)}'
                )
                if done:
                    details += f'; done before: {writes.describe(done)}'
                return self._result(reporting.FAILED, details, retries)
            done.append(write)
        return self._result(reporting.CHANGED, writes.describe(done), retries)

    def _result(
        self, status: reporting.Status, details: str, retries: int
    ) -> reporting.ServerResult:
        return reporting.ServerResult(
            self.server,
            status,
            _with_notes(details + _retries_note(retries), self.plan.notes),
        )


def batch(
    compute: _proxy.Proxy,
    plans: Sequence[planning.ServerPlan],
    retry: retrying.RetryPolicy,
    steps: Sequence[execution.Step] = (),
    settled: Iterable[reporting.ServerResult] = (),
) -> execution.Batch:
    """A task for each plan that has writes; the others are unchanged.

    ``settled`` are the rows of servers that have no plan.
    """
    return execution.Batch(
        tasks=[
            AttributeTask(plan, compute, retry)
            for plan in plans
            if plan.writes
        ],
        settled=[
            reporting.ServerResult(
                plan.server, reporting.UNCHANGED, _with_notes('', plan.notes)
            )
            for plan in plans
            if not plan.writes
        ]
        + list(settled),
        steps=steps,
    )
