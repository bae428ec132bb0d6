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

"""The facts of a drain's pre-flight, read from Placement and Nova.

:mod:`.packing` places the servers; this module reads what it needs, at a
cost that grows with the servers, their flavors' shapes and their server
groups, not with hosts times servers:

* each server's allocations (``GET /allocations/{server}``): every
  resource class it holds, nested providers included;
* the hosts' free capacity: one allocation candidates request for one
  vCPU (a census of every provider that can take anything, with its
  capacity and usage per resource class), and one per distinct shape
  (the hosts that can take one such server, which checks ``max_unit``);
* the hypervisors (one listing: service host, enabled, up), the
  availability zones' hosts (one listing, when a server is pinned to a
  zone) and the server groups of the servers (one listing, and a read
  of each member found nowhere else).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
from typing import Any

from keystoneauth1 import exceptions as ksa_exceptions

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import packing
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.runner import concurrency
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reads
from osc_hypervisor_servers.selection import listings
from osc_hypervisor_servers.selection import lookup

#: Nested providers in allocation candidates, all of a provider's
#: resources in its summary, and forbidden traits.
PLACEMENT_MICROVERSION = '1.29'
#: Server groups' policy and rules.
GROUPS_MICROVERSION = '2.64'
DISABLED_TRAIT = 'COMPUTE_STATUS_DISABLED'
_NO_PLACEMENT = (
    "The pre-flight reads Placement, which this cloud's catalog does not "
    'list; give --skip-preflight to drain without it'
)


@dataclasses.dataclass(frozen=True)
class Facts:
    needs: list[packing.Need]
    hosts: list[packing.Host]
    shapes: dict[packing.Shape, frozenset[str]]


def _placement_json(
    context: invocation.RunContext, path: str, query: dict[str, str]
) -> Any:
    connect = context.connect_placement
    if connect is None:
        errors.refuse(_NO_PLACEMENT)
    try:
        return reads.get_json(
            connect(), context.retry, path, query, PLACEMENT_MICROVERSION
        )
    except ksa_exceptions.EndpointNotFound:
        errors.refuse(_NO_PLACEMENT)


def _allocations(
    context: invocation.RunContext, server_id: str
) -> dict[str, int]:
    """Every resource the server holds, summed over its providers."""
    answer = _placement_json(context, f'/allocations/{server_id}', {})
    held: dict[str, int] = {}
    for allocation in (answer.get('allocations') or {}).values():
        for rc, amount in (allocation.get('resources') or {}).items():
            held[rc] = held.get(rc, 0) + int(amount)
    return held


def _allocation_candidates(
    context: invocation.RunContext,
    resources: Mapping[str, int],
    skip_disabled: bool,
) -> dict[str, Any]:
    """The provider summaries of the allocation candidates of one
    server of ``resources``, by provider.
    """
    query = {
        'resources': ','.join(
            f'{rc}:{n}' for rc, n in sorted(resources.items())
        )
    }
    if skip_disabled:
        query['required'] = f'!{DISABLED_TRAIT}'
    answer = _placement_json(context, '/allocation_candidates', query)
    summaries: dict[str, Any] = answer.get('provider_summaries') or {}
    return summaries


def _roots(summaries: Mapping[str, Any]) -> set[str]:
    return {
        summary.get('root_provider_uuid') or provider
        for provider, summary in summaries.items()
    }


def _free_by_root(summaries: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Free capacity of each provider tree, by resource class."""
    free: dict[str, dict[str, int]] = {}
    for provider, summary in summaries.items():
        root = summary.get('root_provider_uuid') or provider
        tree = free.setdefault(root, {})
        for rc, usage in (summary.get('resources') or {}).items():
            left = int(usage.get('capacity', 0)) - int(usage.get('used', 0))
            tree[rc] = tree.get(rc, 0) + left
    return free


def _zones(context: invocation.RunContext) -> dict[str, str]:
    """The availability zone of each compute host."""
    answer = reads.get_json(
        context.compute, context.retry, '/os-availability-zone/detail'
    )
    zones = {}
    for zone in answer.get('availabilityZoneInfo') or []:
        for host in zone.get('hosts') or {}:
            zones[host] = zone['zoneName']
    return zones


def _groups(
    context: invocation.RunContext,
    servers: Sequence[model.ServerState],
    workers: int,
) -> dict[str, packing.Group]:
    """The server group of each server that has one."""
    answer = reads.get_json(
        context.compute,
        context.retry,
        '/os-server-groups',
        {'all_projects': 'True'},
        GROUPS_MICROVERSION,
    )
    ours = {server.id: server for server in servers}
    found = {}
    for group in answer.get('server_groups') or []:
        members = list(group.get('members') or [])
        if not ours.keys() & set(members):
            continue
        elsewhere = [m for m in members if m not in ours]
        read = concurrency.bounded_map(
            lambda member: listings.read_server(
                context.compute, member, context.retry
            ),
            elsewhere,
            workers,
        )
        hosts = collections.Counter(
            server.compute_host
            for server in [ours[m] for m in members if m in ours] + read
            if server is not None and server.compute_host
        )
        rules = group.get('rules') or {}
        record = packing.Group(
            id=group['id'],
            name=group.get('name') or group['id'],
            policy=group.get('policy') or '',
            max_per_host=int(rules.get('max_server_per_host', 1)),
            members_on=hosts,
        )
        for member in members:
            found[member] = record
    return found


def _unchecked(server: model.ServerState) -> tuple[str, ...]:
    alias = server.extra_specs.get('pci_passthrough:alias')
    return (f'PCI alias {alias} (not in Placement)',) if alias else ()


def _need(
    plan: planning.MovePlan,
    resources: dict[str, int],
    groups: Mapping[str, packing.Group],
) -> packing.Need:
    server = plan.server
    return packing.Need(
        server_id=server.id,
        resources=resources,
        host=server.compute_host or '',
        zone=server.pinned_zone,
        group=groups.get(server.id),
        only=None if plan.target is None else frozenset({plan.target}),
        unchecked=_unchecked(server),
    )


def gather(
    context: invocation.RunContext,
    plans: Iterable[planning.MovePlan],
    may_take: Callable[[model.Hypervisor], bool],
    workers: int,
    skip_disabled: bool = True,
) -> Facts:
    """The facts to place ``plans`` on the hypervisors that ``may_take``
    servers (the others are left out); ``skip_disabled`` leaves out the
    disabled ones in Placement already.
    """
    plans = list(plans)
    servers = [plan.server for plan in plans]
    # Alone, first: the proxy's first request discovers Placement's
    # version, which requests made side by side would each do again.
    census = _free_by_root(
        _allocation_candidates(context, {'VCPU': 1}, skip_disabled)
    )
    held = concurrency.bounded_map(
        lambda server: _allocations(context, server.id), servers, workers
    )
    nodes = lookup.every_hypervisor(context.compute, context.retry)
    # A compute node's resource provider is the hypervisor, by its ID.
    hosts_of = {
        node.id: node.host for node in nodes if node.host and may_take(node)
    }
    shapes = sorted(
        {frozenset(resources.items()) for resources in held if resources},
        key=sorted,
    )
    candidates = concurrency.bounded_map(
        lambda shape: _roots(
            _allocation_candidates(context, dict(shape), skip_disabled)
        ),
        shapes,
        workers,
    )
    zones = _zones(context) if any(s.pinned_zone for s in servers) else {}
    groups = _groups(context, servers, workers)
    return Facts(
        needs=[
            _need(plan, resources, groups)
            for plan, resources in zip(plans, held, strict=True)
        ],
        hosts=[
            packing.Host(hosts_of[root], zones.get(hosts_of[root]), free)
            for root, free in sorted(census.items())
            if root in hosts_of
        ],
        shapes={
            shape: frozenset(
                hosts_of[root] for root in roots if root in hosts_of
            )
            for shape, roots in zip(shapes, candidates, strict=True)
        },
    )
