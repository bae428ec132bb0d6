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

"""Executing plans: bounded concurrency, retries, Ctrl-C, one result each.

Each server's calls run in order on one worker thread; servers run side
by side. One server's failure never stops the others.
"""

import concurrent.futures
import dataclasses
import threading

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from osc_hypervisor_servers import plan as plan_module

CHANGED = 'changed'
UNCHANGED = 'unchanged'
FAILED = 'failed'
WOULD_CHANGE = 'would change'
NOT_ATTEMPTED = 'not attempted'

# Errors that belong to one server (an HTTP answer, a lost connection);
# anything else is a bug and is allowed to surface.
SERVER_ERRORS = (sdk_exceptions.SDKException, ksa_exceptions.ClientException)


@dataclasses.dataclass(frozen=True)
class ServerResult:
    server: object
    result: str
    details: str = ''


@dataclasses.dataclass(frozen=True)
class Report:
    results: list
    interrupted: bool = False

    @property
    def failed(self):
        return sum(1 for result in self.results if result.result == FAILED)

    def summary(self):
        total = len(self.results)
        summary = f'{self.failed} of {total} servers failed'
        skipped = sum(1 for r in self.results if r.result == NOT_ATTEMPTED)
        if skipped:
            summary += f', {skipped} not attempted'
        return summary


def _sorted(results):
    return sorted(
        results,
        key=lambda r: (r.server.hypervisor, r.server.name or '', r.server.id),
    )


def error_text(error):
    if isinstance(error, sdk_exceptions.HttpException):
        reason = error.details or error.message
        return f'HTTP {error.status_code}: {reason}'
    return str(error)


def preview(plans):
    """The report a real run would give, without sending anything."""
    return Report(
        _sorted(
            ServerResult(
                plan.server, WOULD_CHANGE, plan_module.describe(plan.calls)
            )
            if plan.calls
            else ServerResult(plan.server, UNCHANGED)
            for plan in plans
        )
    )


def _retries_note(retries):
    if not retries:
        return ''
    return f' (after {retries} {"retry" if retries == 1 else "retries"})'


def apply_plan(compute, plan, retry):
    """Send one server's calls in order; stop at its first failure."""
    retries = 0

    def count_retry(error):
        nonlocal retries
        retries += 1

    done = []
    for call in plan.calls:
        try:
            retry.call(
                lambda call=call: call.send(compute, plan.server.id),
                on_retry=count_retry,
            )
        except SERVER_ERRORS as error:
            details = f'{call.describe()}: {error_text(error)}'
            if done:
                details += f'; done before: {plan_module.describe(done)}'
            return ServerResult(
                plan.server, FAILED, details + _retries_note(retries)
            )
        done.append(call)
    return ServerResult(
        plan.server,
        CHANGED,
        plan_module.describe(done) + _retries_note(retries),
    )


def execute(compute, plans, parallel, retry, progress=None):
    """Apply ``plans`` with at most ``parallel`` servers in flight.

    On Ctrl-C no new server is started; the ones in flight finish, and
    the rest are reported as not attempted.
    """
    results = {
        plan.server.id: ServerResult(plan.server, UNCHANGED)
        for plan in plans
        if not plan.calls
    }
    pending = [plan for plan in plans if plan.calls]
    stop = threading.Event()

    def work(plan):
        if stop.is_set():
            return ServerResult(plan.server, NOT_ATTEMPTED)
        return apply_plan(compute, plan, retry)

    interrupted = False
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        futures = {pool.submit(work, plan): plan for plan in pending}
        try:
            for done, future in enumerate(
                concurrent.futures.as_completed(futures), 1
            ):
                result = future.result()
                results[result.server.id] = result
                failed += result.result == FAILED
                if progress is not None:
                    progress(done, len(pending), failed)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            for future, plan in futures.items():
                if plan.server.id in results:
                    continue
                if future.cancelled():
                    results[plan.server.id] = ServerResult(
                        plan.server, NOT_ATTEMPTED
                    )
                else:
                    results[plan.server.id] = future.result()
    return Report(_sorted(results.values()), interrupted=interrupted)
