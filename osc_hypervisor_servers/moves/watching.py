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

"""Watching the migration records of a run's moves, for every task.

One :class:`Watcher` per run polls ``/os-migrations`` filtered by source
host and ``changes-since``: a request per source host per interval,
whatever the number of servers waiting, which are woken when their
record changes.
"""

from __future__ import annotations

from collections.abc import Iterable
import dataclasses
import datetime
import logging
import threading
import time

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import retrying

LOG = logging.getLogger(__name__)

# A record's updated_at is set by Nova before its transaction commits, so
# a poll may see a later change before an earlier one: each poll asks
# again for this much time before the newest change it has seen.
OVERLAP = datetime.timedelta(seconds=60)


@dataclasses.dataclass(frozen=True)
class MoveKey:
    """Which record a task waits for: its server's move of one type,
    from one source host, started at ``since`` or later.
    """

    host: str
    server_id: str
    migration_type: str
    since: datetime.datetime


@dataclasses.dataclass
class _Host:
    """What the watcher knows of one source host."""

    since: datetime.datetime
    waiters: int = 0
    #: Whether a poll of it has answered yet.
    polled: bool = False


class Watcher:
    """Polls the migration records of source hosts for waiting tasks.

    Tasks call :meth:`wait`; one thread polls each host that has a
    waiter every ``interval`` seconds and wakes the waiters. A failed
    poll is logged (once while it fails alike) and tried again at the
    next interval; once the run gives up on an unanswering Nova, every
    waiter raises its NovaUnreachable.
    """

    def __init__(
        self,
        compute: _proxy.Proxy,
        retry: retrying.RetryPolicy,
        interval: float,
    ) -> None:
        self.compute = compute
        self.retry = retry
        self.interval = interval
        self._hosts: dict[str, _Host] = {}
        self._known: dict[str, migrations.Record] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: What ended the polling thread (a bug, or a run that gave up
        #: on Nova), for the waiters to raise instead of waiting for
        #: nothing.
        self._crash: BaseException | None = None
        self._last_warning = ''
        # First polls of a host, made by the tasks that need them.
        self._priming = threading.Lock()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait(
        self,
        key: MoveKey,
        until: frozenset[str] | None,
        stop: threading.Event,
        deadline: float,
    ) -> migrations.Record | None:
        """The move's record once its status is in ``until`` (or failed;
        any status when ``until`` is None), or its latest record when
        ``stop`` is set or the ``deadline`` (time.monotonic) passes; None
        if none was seen.
        """
        with self._changed:
            watched = self._hosts.setdefault(key.host, _Host(key.since))
            watched.since = min(watched.since, key.since - OVERLAP)
            watched.waiters += 1
            self._start()
            try:
                return self._await(key, until, stop, deadline)
            finally:
                watched.waiters -= 1

    def _await(
        self,
        key: MoveKey,
        until: frozenset[str] | None,
        stop: threading.Event,
        deadline: float,
    ) -> migrations.Record | None:
        """:meth:`wait`, with the lock held."""
        while True:
            if isinstance(self._crash, retrying.NovaUnreachable):
                raise self._crash
            if self._crash is not None:
                raise RuntimeError('the migration watcher stopped') from (
                    self._crash
                )
            record = self._latest(key)
            if record is not None and (
                until is None
                or record.status in until
                or record.status in kinds.FAILED_STATUSES
            ):
                return record
            remaining = deadline - time.monotonic()
            if stop.is_set() or remaining <= 0 or self._closed:
                return record
            # Woken by each poll; stop is checked at least as often.
            self._changed.wait(min(remaining, self.interval))

    def learn(self, found: Iterable[migrations.Record]) -> None:
        """Records a task read itself (after a lost answer)."""
        with self._changed:
            for record in found:
                self._known[record.uuid] = record
            self._changed.notify_all()

    def latest(self, key: MoveKey) -> migrations.Record | None:
        """The newest record of ``key``'s move seen so far."""
        with self._changed:
            return self._latest(key)

    def moved_from(
        self, server_id: str, host: str, since: datetime.datetime
    ) -> migrations.Record | None:
        """The newest record seen of a move of ``server_id`` from
        ``host``: before a task sends its own, another request's.

        ``since`` is when the task started: a host not polled yet is
        polled first, from OVERLAP before it, so that the first tasks of
        a host know of another request's moves as well as the others.
        """
        with self._priming:
            with self._changed:
                watched = self._hosts.setdefault(host, _Host(since - OVERLAP))
                first = not watched.polled
            if first:
                self._poll(host, watched.since)
        with self._changed:
            return max(
                (
                    record
                    for record in self._known.values()
                    if record.server_id == server_id
                    and record.source_compute == host
                ),
                key=lambda r: (r.created_at, r.id),
                default=None,
            )

    def _latest(self, key: MoveKey) -> migrations.Record | None:
        ours = [
            record
            for record in self._known.values()
            if record.is_of(key.server_id, key.migration_type, key.since)
        ]
        return max(ours, key=lambda r: (r.created_at, r.id), default=None)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._poll_while_open()
        except BaseException as error:  # noqa: B036 - handed to waiters
            with self._changed:
                self._crash = error
                self._changed.notify_all()

    def _poll_while_open(self) -> None:
        while True:
            with self._changed:
                if self._closed:
                    return
                hosts = {
                    name: host.since
                    for name, host in self._hosts.items()
                    if host.waiters
                }
            for name, since in hosts.items():
                self._poll(name, since)
            with self._changed:
                if not self._closed:
                    self._changed.wait(self.interval)

    def _poll(self, host: str, since: datetime.datetime) -> None:
        try:
            found = migrations.records(
                self.compute,
                self.retry,
                source_compute=host,
                changes_since=since.isoformat(),
            )
        except errors.SERVER_ERRORS as error:
            warning = (
                f'Could not list the migrations of {host}: '
                f'{errors.error_text(error)}'
            )
            if warning != self._last_warning:
                LOG.warning('%s', warning)
            self._last_warning = warning
            return
        self._last_warning = ''
        newest = max(
            (r.updated_at for r in found if r.updated_at is not None),
            default=None,
        )
        with self._changed:
            for record in found:
                self._known[record.uuid] = record
            watched = self._hosts[host]
            watched.polled = True
            if newest is not None:
                watched.since = max(watched.since, newest - OVERLAP)
            self._changed.notify_all()
