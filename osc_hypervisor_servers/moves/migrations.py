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

"""Server actions that move, and Nova's migration records of them.

No move action answers with the migration it started (live migrate and
migrate answer 202, evacuate 200, all without a body), and from
microversion 2.34 a 202 does not even mean the move will happen: Nova
checks and schedules afterwards, and a move it cannot make leaves the
server ACTIVE on its source with the record in ``error``. So a run finds
each move's record in ``GET /os-migrations`` (the server, the kind of
move, created after the action) and judges by it and by where the
server is.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import threading

from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy
from openstack.compute.v2 import migration as sdk_migration
import requests

from osc_hypervisor_servers.runner import retrying


def _naive_utc(moment: datetime.datetime) -> datetime.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    # Nova's records are UTC without a zone, e.g. 2026-12-01T08:00:05.123.
    return _naive_utc(datetime.datetime.fromisoformat(value.rstrip('Z')))


def _local_utc() -> datetime.datetime:
    return _naive_utc(datetime.datetime.now(datetime.timezone.utc))


#: Nova's clock is known to the second (the Date header): a record made
#: by an action may look up to this much older than the action.
CLOCK_SLACK = datetime.timedelta(seconds=2)


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
    #: Who asked for the move (2.80+).
    user_id: str | None = None

    @classmethod
    def from_sdk(cls, migration: sdk_migration.Migration) -> Record | None:
        """The record, or None for one without a creation time, which
        cannot be told apart from an older move's.
        """
        created_at = parse_time(migration.created_at)
        if created_at is None:
            return None
        return cls(
            # The SDK's id is the integer id; uuid is its alternate id.
            id=int(migration.id),
            uuid=str(migration.uuid),
            server_id=migration.server_id,
            migration_type=migration.migration_type,
            status=migration.status,
            source_compute=migration.source_compute,
            dest_compute=migration.dest_compute,
            created_at=created_at,
            updated_at=parse_time(migration.updated_at),
            user_id=migration.user_id,
        )

    def describe(self) -> str:
        return f'migration {self.id} {self.status}'

    def is_of(
        self, server_id: str, migration_type: str, since: datetime.datetime
    ) -> bool:
        """Whether this is the record of a move of ``server_id`` of this
        type that started at ``since`` or later.

        Nova runs one move of a server at a time, so the only record of
        this kind created after the action was accepted is its own.
        """
        return (
            self.server_id == server_id
            and self.migration_type == migration_type
            and self.created_at >= since
        )


def records(
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    **query: str,
) -> list[Record]:
    """Migration records that ``query`` selects (Nova's filters).

    Never with "limit": the SDK would then ask for the next page with
    the integer id as marker, which Nova refuses (it wants the uuid).
    """
    listed = retry.call(lambda: list(compute.migrations(**query)))
    return [
        record for record in map(Record.from_sdk, listed) if record is not None
    ]


def records_of(
    compute: _proxy.Proxy,
    server_id: str,
    retry: retrying.RetryPolicy,
) -> list[Record]:
    """Every migration record of one server (a few), newest first.

    Without changes-since: a record Nova created a moment ago has no
    updated_at yet, and changes-since would not show it.
    """
    return sorted(
        records(compute, retry, server_id=server_id),
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


class LearnNovaTime:
    """The drain's step that sets its clock by Nova's before the first
    move (see :mod:`..runner.execution`).
    """

    def __init__(
        self,
        compute: _proxy.Proxy,
        clock: NovaClock,
        retry: retrying.RetryPolicy,
    ) -> None:
        self.compute = compute
        self.clock = clock
        self.retry = retry

    def preview(self) -> str | None:
        return None

    def perform(self) -> None:
        self.clock.learn(self.retry.call(lambda: self.compute.get('/')))

    def conclude(self, report: object) -> None:
        """Nothing to record."""
