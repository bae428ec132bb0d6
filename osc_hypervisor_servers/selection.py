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

"""Which servers a command acts on: hypervisors, then their servers.

Shared by every verb. Hypervisors are looked up, then listed, several at
a time (bounded): a run over twenty hypervisors costs about the round
trips of one, and its result and order are those of a serial run.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import math
import os

from openstack.compute.v2 import _proxy
from osc_lib import exceptions

from osc_hypervisor_servers import concurrency
from osc_hypervisor_servers import hypervisors as hypervisors_module
from osc_hypervisor_servers import retry as retry_module
from osc_hypervisor_servers import servers as servers_module
from osc_hypervisor_servers import version


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which servers to act on.

    ``hypervisors`` are IDs or exact hostnames; ``matching`` are
    substrings, an explicit opt-in to ``nova host-meta``'s behaviour.
    """

    hypervisors: tuple[str, ...] = ()
    matching: tuple[str, ...] = ()
    status: str | None = None
    project_id: str | None = None

    def check(self) -> None:
        if not (self.hypervisors or self.matching):
            raise exceptions.CommandError(
                'Give at least one hypervisor, or --matching <substring>'
            )


@dataclasses.dataclass(frozen=True)
class Selected:
    hypervisors: list[hypervisors_module.Hypervisor]
    servers: list[servers_module.ServerState]


# One listing request costs Nova about as much as this many servers in a
# listing (measured in the sandbox: 60 ms a request, 5 ms a server), and
# Nova pages at [api] max_limit, 1000 by default.
SERVERS_PER_REQUEST = 12
PAGE_SIZE = 1000

REQUIRED_MICROVERSIONS = [
    (version.HYPERVISOR_LOOKUP, 'to look up hypervisors')
]


def find_by_id(
    compute: _proxy.Proxy,
    server_ids: Sequence[str],
    hypervisors: Sequence[hypervisors_module.Hypervisor],
    retry: retry_module.RetryPolicy,
    workers: int,
) -> dict[str, servers_module.ServerState | None]:
    """The servers ``server_ids`` as they are now; None for those gone.

    They are looked for first on ``hypervisors``, where they most likely
    still are (one listing each), then one by one.
    """
    wanted = set(server_ids)
    found: dict[str, servers_module.ServerState | None] = {
        server.id: server
        for server in servers_module.list_servers(
            compute, hypervisors, retry, workers=workers
        )
        if server.id in wanted
    }
    elsewhere = [
        server_id for server_id in server_ids if server_id not in found
    ]
    for server_id, server in zip(
        elsewhere,
        concurrency.bounded_map(
            lambda server_id: servers_module.read_server(
                compute, server_id, retry
            ),
            elsewhere,
            workers,
        ),
        strict=True,
    ):
        found[server_id] = server
    return found


def _listing_plan(
    found: Sequence[hypervisors_module.Hypervisor],
    everyone: Sequence[hypervisors_module.Hypervisor] | None,
    counts: hypervisors_module.CloudCounts | None,
) -> servers_module.Everywhere | None:
    """One listing of every server, narrowed to the names' common
    prefix, when it costs Nova less than a listing per hypervisor: when
    the hypervisors hold most of the servers it would return.
    """
    on_them = [hypervisor.running_vms for hypervisor in found]
    if counts is None or len(found) < 2 or None in on_them:
        return None
    selected = {hypervisor.id for hypervisor in found}
    prefix = os.path.commonprefix([hypervisor.name for hypervisor in found])
    if everyone is not None:
        returned = sum(
            hypervisor.running_vms or 0
            for hypervisor in everyone
            if hypervisor.name.startswith(prefix)
        )
        elsewhere = sum(
            hypervisor.running_vms or 0
            for hypervisor in everyone
            if hypervisor.name.startswith(prefix)
            and hypervisor.id not in selected
        )
    else:
        returned = counts.servers
        elsewhere = counts.servers - sum(count or 0 for count in on_them)
    pages = max(1, math.ceil(returned / PAGE_SIZE))
    if elsewhere >= SERVERS_PER_REQUEST * (len(found) - pages):
        return None
    return servers_module.Everywhere(node_prefix=prefix)


def select(
    compute: _proxy.Proxy,
    selection: Selection,
    retry: retry_module.RetryPolicy,
    workers: int,
) -> Selected:
    # Nova's counts decide how to read, when there is a choice.
    lookups = len(selection.hypervisors) + len(selection.matching)
    counts = None
    everyone = None
    if lookups > 1:
        counts = hypervisors_module.cloud_counts(compute, retry)
        everyone = hypervisors_module.everyone_if_cheaper(
            compute, lookups, counts, retry
        )
    found = hypervisors_module.resolve(
        compute,
        selection.hypervisors,
        selection.matching,
        retry,
        workers=workers,
        everyone=everyone,
    )
    return Selected(
        found,
        servers_module.list_servers(
            compute,
            found,
            retry,
            status=selection.status,
            project_id=selection.project_id,
            workers=workers,
            everywhere=_listing_plan(found, everyone, counts),
        ),
    )
