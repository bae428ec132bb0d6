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


"""Moving servers and watching Nova's migration records.

No move action answers with the migration it started (live migrate and
migrate answer 202, evacuate 200, all without a body), and from
microversion 2.34 a 202 does not even mean the move will happen: Nova
checks and schedules afterwards, and a move it cannot make leaves the
server ACTIVE on its source with the record in ``error``. So a run finds
each move's record in ``GET /os-migrations`` (the server, the kind of
move, created after the action) and judges by it and by where the
server is.

One :class:`Watcher` per run polls ``/os-migrations`` filtered by source
host and ``changes-since``: a request per source host per interval,
whatever the number of servers waiting, which are woken when their
record changes.
"""

from __future__ import annotations

from collections.abc import Iterable
import dataclasses
import datetime
import email.utils
import logging
import threading
import time

from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy
from openstack.compute.v2 import migration as sdk_migration
import requests

from osc_hypervisor_servers import executor
from osc_hypervisor_servers import retry as retry_module

LOG = logging.getLogger(__name__)

#: migration_type of each kind of move in Nova's records.
LIVE_MIGRATION = 'live-migration'
COLD_MIGRATION = 'migration'
EVACUATION = 'evacuation'

#: Record statuses after which Nova does no more for the move.
FAILED_STATUSES = frozenset({'error', 'failed', 'cancelled'})
#: A live migration that worked; an evacuation (``completed`` once the
#: source compute restarts).
LIVE_DONE = frozenset({'completed'})
EVACUATION_DONE = frozenset({'done', 'completed'})
#: A cold migration waiting for confirmation (VERIFY_RESIZE), confirmed.
COLD_FINISHED = frozenset({'finished'})
COLD_CONFIRMED = frozenset({'confirmed'})

# A record's updated_at is set by Nova before its transaction commits, so
# a poll may see a later change before an earlier one: each poll asks
# again for this much time before the newest change it has seen.
_OVERLAP = datetime.timedelta(seconds=60)


def _naive_utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    # Nova's records are UTC without a zone, e.g. 2026-12-01T08:00:05.123.
    return _naive_utc(datetime.datetime.fromisoformat(value.rstrip('Z')))


class NovaClock:
    """Nova's time, learnt from the Date header of its answers.

    Records carry Nova's timestamps; comparing them with this machine's
    clock would go wrong by any skew between the two.
    """

    def __init__(self) -> None:
        self._offset = datetime.timedelta(0)
        self._lock = threading.Lock()

    def learn(self, response: requests.Response) -> None:
        header = response.headers.get('Date')
        if not header:
            return
        try:
            nova_time = _naive_utc(email.utils.parsedate_to_datetime(header))
        except (TypeError, ValueError):
            return
        with self._lock:
            self._offset = nova_time - _local_utc()

    def now(self) -> datetime.datetime:
        """Nova's time now, to the second (the Date header's precision)."""
        with self._lock:
            return _local_utc() + self._offset


def _local_utc() -> datetime.datetime:
    return _naive_utc(datetime.datetime.now(datetime.timezone.utc))


@dataclasses.dataclass(frozen=True)
class Record:
    """One migration record, as ``/os-migrations`` shows it."""

    id: int
    uuid: str
    server_id: str
    migration_type: str
    status: str
    source_compute: str | None
    dest_compute: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None

    def describe(self) -> str:
        return f'migration {self.id} {self.status}'


def _record(migration: sdk_migration.Migration) -> Record:
    created_at = _parse_time(migration.created_at)
    assert created_at is not None
    return Record(
        # The SDK's id is the integer id; uuid is its alternate id.
        id=int(migration.id),
        uuid=str(migration.uuid),
        server_id=migration.server_id,
        migration_type=migration.migration_type,
        status=migration.status,
        source_compute=migration.source_compute,
        dest_compute=migration.dest_compute,
        created_at=created_at,
        updated_at=_parse_time(migration.updated_at),
    )


def records_of(
    compute: _proxy.Proxy,
    server_id: str,
    retry: retry_module.RetryPolicy,
) -> list[Record]:
    """Every migration record of one server (a few), newest first.

    Without changes-since: a record Nova created a moment ago has no
    updated_at yet, and changes-since would not show it.
    """
    # Never pass "limit": the SDK would then ask for the next page with
    # the integer id as marker, which Nova refuses (it wants the uuid).
    return sorted(
        (
            _record(migration)
            for migration in retry.call(
                lambda: list(compute.migrations(server_id=server_id))
            )
        ),
        key=lambda record: (record.created_at, record.id),
        reverse=True,
    )


def act(
    compute: _proxy.Proxy,
    clock: NovaClock,
    server_id: str,
    body: dict[str, object],
    microversion: str,
) -> None:
    """POST one server action; raise openstacksdk's error when refused.

    Sent through the proxy, not its live_migrate_server & co: those pin
    live migration to 2.30, where Nova checks synchronously, whatever
    microversion the session uses, and they drop the answer, whose Date
    keeps the clock right.
    """
    response = compute.post(
        f'/servers/{server_id}/action', json=body, microversion=microversion
    )
    clock.learn(response)
    sdk_exceptions.raise_from_response(response)


def is_ours(
    record: Record,
    server_id: str,
    migration_type: str,
    since: datetime.datetime,
) -> bool:
    # Nova runs one move of a server at a time, so the only record of
    # this kind created after the action was accepted is its own.
    return (
        record.server_id == server_id
        and record.migration_type == migration_type
        and record.created_at >= since
    )


@dataclasses.dataclass
class _Host:
    """What the watcher knows of one source host."""

    since: datetime.datetime
    waiters: int = 0


class Watcher:
    """Polls the migration records of source hosts for waiting tasks.

    Tasks call :meth:`wait`; one thread polls each host that has a
    waiter every ``interval`` seconds and wakes the waiters. A failed
    poll is logged and tried again at the next interval.
    """

    def __init__(
        self,
        compute: _proxy.Proxy,
        retry: retry_module.RetryPolicy,
        interval: float,
    ) -> None:
        self.compute = compute
        self.retry = retry
        self.interval = interval
        self.polls = 0
        self._hosts: dict[str, _Host] = {}
        self._records: dict[str, Record] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: What ended the polling thread unexpectedly (a bug), for the
        #: waiters to raise instead of waiting for nothing.
        self._crash: BaseException | None = None

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wait(
        self,
        host: str,
        server_id: str,
        migration_type: str,
        since: datetime.datetime,
        until: frozenset[str] | None,
        stop: threading.Event,
        deadline: float,
    ) -> Record | None:
        """The server's record once its status is in ``until`` (or
        failed; any status when ``until`` is None), or its latest record
        when ``stop`` is set or the ``deadline`` (time.monotonic)
        passes; None if none was seen.
        """
        with self._changed:
            watched = self._hosts.setdefault(host, _Host(since))
            watched.since = min(watched.since, since - _OVERLAP)
            watched.waiters += 1
            self._start()
            try:
                while True:
                    if self._crash is not None:
                        raise RuntimeError(
                            'the migration watcher stopped'
                        ) from self._crash
                    record = self._latest(server_id, migration_type, since)
                    if record is not None and (
                        until is None
                        or record.status in until
                        or record.status in FAILED_STATUSES
                    ):
                        return record
                    remaining = deadline - time.monotonic()
                    if stop.is_set() or remaining <= 0 or self._closed:
                        return record
                    # Woken by each poll; stop is checked at least as often.
                    self._changed.wait(min(remaining, self.interval))
            finally:
                watched.waiters -= 1

    def learn(self, records: Iterable[Record]) -> None:
        with self._changed:
            for record in records:
                self._records[record.uuid] = record
            self._changed.notify_all()

    def _latest(
        self, server_id: str, migration_type: str, since: datetime.datetime
    ) -> Record | None:
        ours = [
            record
            for record in self._records.values()
            if is_ours(record, server_id, migration_type, since)
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
            found = [
                _record(migration)
                for migration in self.retry.call(
                    lambda: list(
                        self.compute.migrations(
                            source_compute=host,
                            changes_since=since.isoformat(),
                        )
                    )
                )
            ]
        except executor.SERVER_ERRORS as error:
            LOG.warning(
                'Could not list the migrations of %s: %s',
                host,
                executor.error_text(error),
            )
            return
        finally:
            self.polls += 1
        newest = max(
            (r.updated_at for r in found if r.updated_at is not None),
            default=None,
        )
        with self._changed:
            for record in found:
                self._records[record.uuid] = record
            watched = self._hosts[host]
            if newest is not None:
                watched.since = max(watched.since, newest - _OVERLAP)
            self._changed.notify_all()
