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

"""The servers on a set of hypervisors, as plain snapshots.

Snapshots are immutable and hold only what planning needs, so worker
threads never share an openstacksdk resource (the SDK changes those in
place).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import logging

from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy
from openstack.compute.v2 import server as sdk_server

from osc_hypervisor_servers import concurrency
from osc_hypervisor_servers import hypervisors as hypervisors_module
from osc_hypervisor_servers import retry as retry_module

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServerState:
    id: str
    name: str
    project_id: str
    #: The hypervisor (compute node) the server is on, as Nova reports
    #: it in OS-EXT-SRV-ATTR:hypervisor_hostname.
    hypervisor_hostname: str | None
    #: The server's compute service host (OS-EXT-SRV-ATTR:host).
    compute_host: str | None
    status: str
    #: OS-EXT-STS:task_state: None unless an action is under way.
    task_state: str | None
    metadata: Mapping[str, str]
    tags: frozenset[str]
    description: str | None


def from_sdk(server: sdk_server.Server) -> ServerState:
    return ServerState(
        id=server.id,
        name=server.name,
        project_id=server.project_id,
        hypervisor_hostname=server.hypervisor_hostname,
        compute_host=server.compute_host,
        status=server.status,
        task_state=server.task_state,
        metadata=dict(server.metadata or {}),
        tags=frozenset(server.tags or ()),
        description=server.description,
    )


def read_server(
    compute: _proxy.Proxy, server_id: str, retry: retry_module.RetryPolicy
) -> ServerState | None:
    """The server as Nova shows it now, or None when it is gone."""
    try:
        return from_sdk(retry.call(lambda: compute.get_server(server_id)))
    except sdk_exceptions.NotFoundException:
        return None


def _query(
    host: str, node: str, status: str | None, project_id: str | None
) -> dict[str, str]:
    # Keyword names are openstacksdk's, which drops unknown ones silently:
    # "host=" instead of "compute_host=" would list every server.
    query = {'compute_host': host, 'node': node}
    if status:
        query['status'] = status
    if project_id:
        query['project_id'] = project_id
    return query


def list_servers(
    compute: _proxy.Proxy,
    hypervisors: Sequence[hypervisors_module.Hypervisor],
    retry: retry_module.RetryPolicy,
    status: str | None = None,
    project_id: str | None = None,
    workers: int = 1,
    everywhere: bool = False,
) -> list[ServerState]:
    """Every server on ``hypervisors``, across all projects, each once.

    Nova filters by service host and node, but "node" is a regular
    expression to it, so every server is checked again here: one that
    is not on a requested hypervisor is never returned. Up to
    ``workers`` hypervisors are listed at once; the order is the order
    of ``hypervisors``. With ``everywhere``, one listing of every server
    (paged) replaces the listings per hypervisor; the result is the same.
    """
    if everywhere:
        return _everywhere(compute, hypervisors, retry, status, project_id)

    def listing(
        hypervisor: hypervisors_module.Hypervisor,
    ) -> list[ServerState]:
        if hypervisor.host is None:
            # A node without a compute service runs no server.
            return []
        query = _query(hypervisor.host, hypervisor.name, status, project_id)
        listed = retry.call(
            lambda: list(
                compute.servers(details=True, all_projects=True, **query)
            )
        )
        return [
            server
            for server in map(from_sdk, listed)
            if _selected(server, hypervisor, status, project_id)
        ]

    found: dict[str, ServerState] = {}
    for listed in concurrency.bounded_map(listing, hypervisors, workers):
        for server in listed:
            found.setdefault(server.id, server)
    return list(found.values())


def _everywhere(
    compute: _proxy.Proxy,
    hypervisors: Sequence[hypervisors_module.Hypervisor],
    retry: retry_module.RetryPolicy,
    status: str | None,
    project_id: str | None,
) -> list[ServerState]:
    query = {'status': status, 'project_id': project_id}
    listed = retry.call(
        lambda: list(
            compute.servers(
                details=True,
                all_projects=True,
                **{key: value for key, value in query.items() if value},
            )
        )
    )
    # A node is named uniquely on its compute host.
    on_each: dict[tuple[str, str | None], list[ServerState]] = {
        (hypervisor.name, hypervisor.host): [] for hypervisor in hypervisors
    }
    for server in map(from_sdk, listed):
        place = (server.hypervisor_hostname or '', server.compute_host)
        if place in on_each and _matches(server, status, project_id):
            on_each[place].append(server)
    return [server for servers in on_each.values() for server in servers]


def _matches(
    server: ServerState, status: str | None, project_id: str | None
) -> bool:
    return not (
        (status and server.status != status)
        or (project_id and server.project_id != project_id)
    )


def _selected(
    server: ServerState,
    hypervisor: hypervisors_module.Hypervisor,
    status: str | None,
    project_id: str | None,
) -> bool:
    if server.hypervisor_hostname != hypervisor.name or not _matches(
        server, status, project_id
    ):
        LOG.debug('Skipping server %s: not selected', server.id)
        return False
    return True
