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

"""``maintain`` hands a drained host to the operator's command, then
waits for it to be back.

The command runs through the shell, in the environment ``maintain`` was
started with plus the host's names and the run's journal; each line it
writes, on stdout or stderr, reaches the operator's stderr prefixed with
the host (stdout keeps the rows, so that ``-f json`` stays readable).
A host is back once the command exited 0, its compute service is up
with a heartbeat later than the command's end (Nova's clock: a heartbeat
from before the command says nothing of the host after it), its
hypervisor is up, and the ``--check`` command, if any, exits 0.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import datetime
import os
import subprocess
import threading
import time
import typing

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.selection import lookup

#: How often a host that is not back yet is asked about.
BACK_POLL_SECONDS = 1.0
#: How long a command gets to end after Ctrl-C (which it receives too).
INTERRUPT_GRACE_SECONDS = 10.0
#: Nova's Date header has whole seconds: a heartbeat must be this much
#: later than the command's end to be surely after it.
HEARTBEAT_MARGIN = datetime.timedelta(seconds=1)


@dataclasses.dataclass(frozen=True)
class Command:
    """A command of the operator's, for the hosts of one turn."""

    #: The command line, as given to ``--exec`` or ``--check``.
    line: str
    #: The run's journal, in the environment as HYPERVISOR_SERVERS_JOURNAL.
    journal: str

    def environment(self, hypervisor: model.Hypervisor) -> dict[str, str]:
        return {
            **os.environ,
            'HYPERVISOR_NAME': hypervisor.name,
            'COMPUTE_HOST': hypervisor.host or '',
            'HYPERVISOR_SERVERS_JOURNAL': self.journal,
        }

    def run(
        self,
        hypervisor: model.Hypervisor,
        notify: Callable[[str], None],
        label: str = '',
    ) -> int:
        """Run the command for ``hypervisor``; its exit status.

        On Ctrl-C the command, which is in the same process group, gets
        it too: it is given a moment to end, then killed.
        """
        prefix = f'[{hypervisor.name}{label}] '
        # The operator's own command line, as they would type it.
        process = subprocess.Popen(  # noqa: S602
            self.line,
            shell=True,
            env=self.environment(hypervisor),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        pumps = [
            threading.Thread(
                target=_relay, args=(stream, prefix, notify), daemon=True
            )
            for stream in (process.stdout, process.stderr)
        ]
        for pump in pumps:
            pump.start()
        try:
            status = process.wait()
        except KeyboardInterrupt:
            try:
                process.wait(INTERRUPT_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            raise
        finally:
            for pump in pumps:
                pump.join()
        return status


def _relay(
    stream: typing.IO[bytes] | None,
    prefix: str,
    notify: Callable[[str], None],
) -> None:
    if stream is None:
        return
    with stream:
        for line in stream:
            notify(prefix + line.decode('utf-8', 'replace').rstrip('\r\n'))


def nova_now(context: invocation.RunContext) -> datetime.datetime:
    """Nova's time now, by the Date header of its version document."""
    clock = migrations.NovaClock()
    migrations.LearnNovaTime(context.compute, clock, context.retry).perform()
    return clock.now()


def _not_back(
    context: invocation.RunContext,
    hypervisor: model.Hypervisor,
    since: datetime.datetime,
) -> str | None:
    """Why ``hypervisor`` is not back since ``since``, or None."""
    host = hypervisor.host or ''
    service = compute_services.find_compute_service(
        context.compute, host, context.retry
    )
    if service is None:
        return f'{host} has no single {compute_services.BINARY} service'
    if service.is_down:
        return f'the compute service of {host} is down'
    heartbeat = migrations.parse_time(service.updated_at)
    if heartbeat is None or heartbeat < since + HEARTBEAT_MARGIN:
        return (
            f'the compute service of {host} has not reported since the '
            f'command ended'
        )
    state = lookup.find_hypervisor(
        context.compute, hypervisor.id, context.retry
    ).state
    if state != 'up':
        return f'hypervisor {hypervisor.name} is {state or "not up"}'
    return None


@dataclasses.dataclass(frozen=True)
class Waiting:
    """How ``maintain`` waits for hosts to be back."""

    #: How long, from the end of the last command.
    timeout: float
    #: The health gate (``--check``), if any.
    check: Command | None = None
    poll_seconds: float = BACK_POLL_SECONDS


def wait_until_back(
    context: invocation.RunContext,
    hypervisors: Sequence[model.Hypervisor],
    since: datetime.datetime,
    waiting: Waiting,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str | None:
    """Wait until every one of ``hypervisors`` is back (see the module);
    None once they are, else why the last one asked about is not.
    """
    deadline = clock() + waiting.timeout
    left = list(hypervisors)
    told: dict[str, str] = {}
    while True:
        problems: Mapping[str, str | None] = {
            hypervisor.id: _not_back(context, hypervisor, since)
            or _failed_check(context, hypervisor, waiting.check)
            for hypervisor in left
        }
        left = [h for h in left if problems[h.id] is not None]
        for hypervisor in left:
            problem = str(problems[hypervisor.id])
            if told.get(hypervisor.id) != problem:
                context.notify(f'{hypervisor.name}: waiting: {problem}')
                told[hypervisor.id] = problem
        if not left:
            return None
        if clock() >= deadline:
            return (
                f'{told[left[0].id]} after {waiting.timeout:g} s (--timeout)'
            )
        sleep(waiting.poll_seconds)


def _failed_check(
    context: invocation.RunContext,
    hypervisor: model.Hypervisor,
    check: Command | None,
) -> str | None:
    if check is None:
        return None
    status = check.run(hypervisor, context.notify, label=' check')
    return None if status == 0 else f'--check exited {status}'
