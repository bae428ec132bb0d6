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

"""Sending a server's planned calls, judged by the server's final state.

A retry after a lost answer can meet the effect of its own first try: a
delete then answers 404, a tag put on a server at its 50-tag limit 400.
So when a call fails after any retry, or with a 404, the server is read
again: if it holds what the call writes, the call did its job.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
import functools
import threading

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers import executor
from osc_hypervisor_servers import plan as plan_module
from osc_hypervisor_servers import retry as retry_module
from osc_hypervisor_servers import servers

NOT_FOUND = 404


def _retries_note(retries: int) -> str:
    if not retries:
        return ''
    return f' (after {retries} {"retry" if retries == 1 else "retries"})'


def _is_done_after_all(
    compute: _proxy.Proxy,
    call: plan_module.Call,
    server_id: str,
    retry: retry_module.RetryPolicy,
) -> bool:
    try:
        now = servers.read_server(compute, server_id, retry)
    except executor.SERVER_ERRORS:
        return False
    # A server that is gone holds nothing: its 404 stays a failure.
    return now is not None and call.is_done(now)


def _with_notes(details: str, notes: Sequence[str]) -> str:
    return '; '.join(filter(None, [details, *notes]))


@dataclasses.dataclass(frozen=True)
class AttributeTask:
    """Send one server's calls in order; stop at its first failure."""

    plan: plan_module.ServerPlan
    compute: _proxy.Proxy
    retry: retry_module.RetryPolicy

    @property
    def server(self) -> servers.ServerState:
        return self.plan.server

    def send(self, call: plan_module.Call) -> tuple[int, BaseException | None]:
        """Send ``call``; return its retries and its error, if any.

        An error is forgiven when the server holds what the call writes.
        """
        retries = 0

        def count_retry(error: BaseException) -> None:
            nonlocal retries
            retries += 1

        try:
            self.retry.call(
                functools.partial(call.send, self.compute, self.server.id),
                on_retry=count_retry,
            )
        except executor.SERVER_ERRORS as error:
            may_have_landed = retries or (
                getattr(error, 'status_code', None) == NOT_FOUND
            )
            if not may_have_landed or not _is_done_after_all(
                self.compute, call, self.server.id, self.retry
            ):
                return retries, error
        return retries, None

    def run(self, stop: threading.Event) -> executor.ServerResult:
        # Once started, a server's calls all go out: stopping halfway
        # would leave it half-changed.
        retries = 0
        done: list[plan_module.Call] = []
        for call in self.plan.calls:
            call_retries, error = self.send(call)
            retries += call_retries
            if error is not None:
                details = f'{call.describe()}: {executor.error_text(error)}'
                if done:
                    details += f'; done before: {plan_module.describe(done)}'
                return self._result(executor.FAILED, details, retries)
            done.append(call)
        return self._result(
            executor.CHANGED, plan_module.describe(done), retries
        )

    def _result(
        self, status: executor.Status, details: str, retries: int
    ) -> executor.ServerResult:
        return executor.ServerResult(
            self.server,
            status,
            _with_notes(details + _retries_note(retries), self.plan.notes),
        )


def settled_result(plan: plan_module.ServerPlan) -> executor.ServerResult:
    """The row of a server whose plan has no call."""
    return executor.ServerResult(
        plan.server, executor.UNCHANGED, _with_notes('', plan.notes)
    )


def preview(
    plans: Sequence[plan_module.ServerPlan],
    other_rows: Iterable[executor.ServerResult] = (),
) -> executor.Report:
    """The report a real run would give, without sending anything."""
    return executor.Report(
        executor.sorted_results(
            [
                executor.ServerResult(
                    plan.server,
                    executor.WOULD_CHANGE,
                    _with_notes(plan_module.describe(plan.calls), plan.notes),
                )
                if plan.calls
                else settled_result(plan)
                for plan in plans
            ]
            + list(other_rows)
        )
    )


def execute(
    compute: _proxy.Proxy,
    plans: Sequence[plan_module.ServerPlan],
    retry: retry_module.RetryPolicy,
    parallel: int,
    progress: executor.Progress | None = None,
    other_rows: Iterable[executor.ServerResult] = (),
) -> executor.Report:
    """Send every plan that has calls; the others are unchanged.

    ``other_rows`` are rows of servers that have no plan.
    """
    return executor.run(
        [AttributeTask(plan, compute, retry) for plan in plans if plan.calls],
        parallel,
        progress=progress,
        settled=[settled_result(plan) for plan in plans if not plan.calls]
        + list(other_rows),
    )
