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

"""The servers on a set of hypervisors, and one server by its ID.

Read as JSON, not through openstacksdk: building its Server resources
costs about 4 ms of client CPU a server (measured: 1.0 s for 120
servers, against 0.6 s for the request and its JSON), and every read
then goes through one mapping (:meth:`ServerState.from_nova`).
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
from typing import Any

from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import concurrency
from osc_hypervisor_servers.runner import reads
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import read_cost

LOG = logging.getLogger(__name__)


def _get_json(
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    path: str,
    query: dict[str, str] | None = None,
) -> Any:
    return reads.get_json(
        compute, retry, path, query, version.negotiated(compute)
    )


def read_server(
    compute: _proxy.Proxy, server_id: str, retry: retrying.RetryPolicy
) -> model.ServerState | None:
    """The server as Nova shows it now, or None when it is gone."""
    try:
        answer = _get_json(compute, retry, f'/servers/{server_id}')
    except sdk_exceptions.NotFoundException:
        return None
    return model.ServerState.from_nova(answer['server'])


def node_filter(name: str, whole: bool = True) -> dict[str, str]:
    """Nova's ``node`` filter for the node named ``name`` (``whole``), or
    for every node whose name starts with it; empty when it cannot be
    written exactly.

    "node" is a regular expression to Nova (MySQL, PostgreSQL and SQLite
    alike), and node names are whatever the driver reports: anchored,
    with every character but ASCII letters and digits escaped, it
    matches the name and nothing else. No filter for a name with "|",
    which Nova escapes again on MySQL, or outside ASCII; the compute
    host filters then, and every server is checked on the client.
    """
    if not name or not name.isascii() or '|' in name:
        return {}
    pattern = '^' + ''.join(c if c.isalnum() else '\\' + c for c in name)
    return {'node': pattern + ('$' if whole else '')}


def _query(
    status: str | None, project_id: str | None, **place: str
) -> dict[str, str]:
    # Nova's own names: host and node are admin-only filters that Nova
    # drops silently for anyone else, who would get their own servers.
    query = {'all_tenants': '1', **place}
    if status:
        query['status'] = status
    if project_id:
        query['project_id'] = project_id
    return query


def _detailed_listing(
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    query: dict[str, str],
) -> list[model.ServerState]:
    """``GET /servers/detail``, every page."""
    found: list[model.ServerState] = []
    page_query = query
    while True:
        answer = _get_json(compute, retry, '/servers/detail', page_query)
        servers = answer.get('servers') or []
        found.extend(map(model.ServerState.from_nova, servers))
        pages_on = any(
            link.get('rel') == 'next'
            for link in answer.get('servers_links') or ()
        )
        if not (servers and pages_on):
            return found
        page_query = dict(query, marker=servers[-1]['id'])


def _matches(
    server: model.ServerState, status: str | None, project_id: str | None
) -> bool:
    return not (
        (status and server.status != status)
        or (project_id and server.project_id != project_id)
    )


def _on_hypervisor(
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    hypervisor: model.Hypervisor,
    status: str | None,
    project_id: str | None,
) -> list[model.ServerState]:
    if hypervisor.host is None:
        # A node without a compute service runs no server.
        return []
    listed = _detailed_listing(
        compute,
        retry,
        _query(
            status,
            project_id,
            host=hypervisor.host,
            **node_filter(hypervisor.name),
        ),
    )
    selected = []
    for server in listed:
        if server.hypervisor_hostname == hypervisor.name and _matches(
            server, status, project_id
        ):
            selected.append(server)
        else:
            LOG.debug('Skipping server %s: not selected', server.id)
    return selected


def _in_one_listing(
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    hypervisors: Sequence[model.Hypervisor],
    status: str | None,
    project_id: str | None,
    one_listing: read_cost.OneListing,
) -> list[model.ServerState]:
    listed = _detailed_listing(
        compute,
        retry,
        _query(
            status,
            project_id,
            **node_filter(one_listing.node_prefix, whole=False),
        ),
    )
    # A node is named uniquely on its compute host.
    on_each: dict[tuple[str, str | None], list[model.ServerState]] = {
        (hypervisor.name, hypervisor.host): [] for hypervisor in hypervisors
    }
    for server in listed:
        place = (server.hypervisor_hostname or '', server.compute_host)
        if place in on_each and _matches(server, status, project_id):
            on_each[place].append(server)
    return [server for servers in on_each.values() for server in servers]


def list_servers(
    compute: _proxy.Proxy,
    hypervisors: Sequence[model.Hypervisor],
    retry: retrying.RetryPolicy,
    status: str | None = None,
    project_id: str | None = None,
    workers: int = 1,
    one_listing: read_cost.OneListing | None = None,
) -> list[model.ServerState]:
    """Every server on ``hypervisors``, across all projects, each once.

    Nova filters by service host and node, but "node" is a regular
    expression to it, so every server is checked again here: one that
    is not on a requested hypervisor is never returned. Up to
    ``workers`` hypervisors are listed at once; the order is the order
    of ``hypervisors``. With ``one_listing``, one listing (paged)
    replaces the listings per hypervisor; the result is the same.
    """
    if one_listing is not None:
        return _in_one_listing(
            compute, retry, hypervisors, status, project_id, one_listing
        )
    found: dict[str, model.ServerState] = {}
    for listed in concurrency.bounded_map(
        lambda hypervisor: _on_hypervisor(
            compute, retry, hypervisor, status, project_id
        ),
        hypervisors,
        workers,
    ):
        for server in listed:
            found.setdefault(server.id, server)
    return list(found.values())


def on_hosts(
    compute: _proxy.Proxy,
    hosts: Sequence[str],
    retry: retrying.RetryPolicy,
    workers: int = 1,
) -> list[model.ServerState]:
    """Every server on the compute ``hosts``, across all projects."""

    def on_host(host: str) -> list[model.ServerState]:
        return [
            server
            for server in _detailed_listing(
                compute, retry, _query(None, None, host=host)
            )
            if server.compute_host == host
        ]

    return [
        server
        for listed in concurrency.bounded_map(on_host, hosts, workers)
        for server in listed
    ]


def find_by_id(
    compute: _proxy.Proxy,
    server_ids: Sequence[str],
    retry: retrying.RetryPolicy,
    workers: int,
    hypervisors: Sequence[model.Hypervisor] = (),
    hosts: Sequence[str] = (),
) -> dict[str, model.ServerState | None]:
    """The servers ``server_ids`` as they are now; None for those gone.

    They are looked for first on ``hypervisors`` and compute ``hosts``,
    where they most likely are (one listing each), then one by one.
    """
    wanted = set(server_ids)
    listed = list_servers(
        compute, hypervisors, retry, workers=workers
    ) + on_hosts(compute, hosts, retry, workers)
    found: dict[str, model.ServerState | None] = {
        server.id: server for server in listed if server.id in wanted
    }
    elsewhere = [
        server_id for server_id in server_ids if server_id not in found
    ]
    for server_id, server in zip(
        elsewhere,
        concurrency.bounded_map(
            lambda server_id: read_server(compute, server_id, retry),
            elsewhere,
            workers,
        ),
        strict=True,
    ):
        found[server_id] = server
    return found
