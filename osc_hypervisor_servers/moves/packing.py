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

"""Whether a drain can finish: each server placed on the hosts it may go
to, as far as Placement and the server groups tell. Pure: the facts are
read by :mod:`.preflight`.

What it models: each server's allocations (every resource class, nested
providers included) against each candidate host's free capacity
(``(total - reserved) x allocation_ratio - used``, and ``max_unit``
through Placement's own candidates), each placement consuming capacity;
the server's pinned availability zone; ``anti-affinity`` (no two members
on one host, counting members already there, up to
``max_server_per_host``) and ``affinity`` (a member goes only where the
group's other members are). What it cannot: the scheduler's other
filters, aggregates, and new boots racing with the drain. So a "fits" is
no promise, and a "no room" is reliable for the resources it names.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses

#: How the resource classes Nova's flavors name read in a verdict, in
#: the singular and the plural.
UNITS = {
    'MEMORY_MB': ('MB RAM', 'MB RAM'),
    'VCPU': ('vCPU', 'vCPUs'),
    'DISK_GB': ('GB disk', 'GB disk'),
}
# The order in which a shortage is named, and servers are sized.
_SIZE_ORDER = ('MEMORY_MB', 'VCPU', 'DISK_GB')

Resources = Mapping[str, int]
Shape = frozenset[tuple[str, int]]
#: The hosts Placement offers for one server of each shape.
Shapes = Mapping[Shape, frozenset[str]]


@dataclasses.dataclass(frozen=True)
class Group:
    """A server group, as Nova's ServerGroup filters see it."""

    id: str
    name: str
    #: affinity, anti-affinity, soft-affinity or soft-anti-affinity.
    policy: str
    #: anti-affinity: members one host may hold (rules, 2.64+).
    max_per_host: int = 1
    #: Compute hosts of its members, each as often as members it holds.
    members_on: Mapping[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Need:
    """What one server asks of the host it moves to."""

    server_id: str
    resources: Resources
    #: The host it is on (it never moves there).
    host: str
    #: The availability zone it must stay in, if it is pinned to one.
    zone: str | None = None
    group: Group | None = None
    #: Hosts it may go to; None: any candidate (``--host`` names one).
    only: frozenset[str] | None = None
    #: What it needs that Placement does not know (a PCI alias).
    unchecked: tuple[str, ...] = ()

    @property
    def shape(self) -> Shape:
        return frozenset(self.resources.items())


@dataclasses.dataclass(frozen=True)
class Host:
    """A compute host the drain may move servers to, with its capacity."""

    name: str
    zone: str | None
    free: Resources


@dataclasses.dataclass(frozen=True)
class Fit:
    server_id: str
    fits: bool
    #: ``fits (3 hosts)``, or why not.
    text: str
    #: The host the estimate placed it on.
    host: str | None = None


def _size(need: Need) -> tuple[int, ...]:
    return tuple(need.resources.get(rc, 0) for rc in _SIZE_ORDER) + (
        sum(need.resources.values()),
    )


def _shown(resource_class: str, amount: int) -> str:
    if resource_class not in UNITS:
        return f'{resource_class}:{amount}'
    one, several = UNITS[resource_class]
    return f'{amount} {one if amount == 1 else several}'


@dataclasses.dataclass
class _Capacity:
    """The hosts' capacity and the groups' members as placements go."""

    free: dict[str, collections.Counter[str]]
    zones: dict[str, str | None]
    members: dict[str, collections.Counter[str]]

    def fits(self, need: Need, host: str) -> bool:
        free = self.free[host]
        return all(free[rc] >= amount for rc, amount in need.resources.items())

    def take(self, need: Need, host: str) -> None:
        self.free[host].subtract(need.resources)
        if need.group is not None:
            self.members[need.group.id][host] += 1
            self.members[need.group.id][need.host] -= 1


def _group_rule(
    need: Need, capacity: _Capacity
) -> tuple[set[str] | None, str]:
    """The hosts ``need``'s group allows (None: any), and the rule."""
    group = need.group
    if group is None or group.policy.startswith('soft-'):
        return None, ''
    members = capacity.members[group.id]
    if group.policy == 'affinity':
        hosts = {h for h, n in members.items() if n > 0 and h != need.host}
        return hosts, (
            f'affinity group {group.name}: Nova moves a member only to a host '
            f'of its other members, and none is outside {need.host}'
        )
    full = {h for h, n in members.items() if n >= group.max_per_host}
    allowed = set(capacity.free) - full
    return allowed, (
        f'anti-affinity group {group.name}: every other host already holds '
        f'{group.max_per_host} of its members'
    )


def _shortage(
    need: Need, hosts: Iterable[str], capacity: _Capacity
) -> str | None:
    """The resource ``need`` lacks on every host of ``hosts``."""
    hosts = list(hosts)
    order = [rc for rc in _SIZE_ORDER if rc in need.resources] + sorted(
        set(need.resources) - set(_SIZE_ORDER)
    )
    for rc in order:
        amount = need.resources[rc]
        best = max(hosts, key=lambda h: capacity.free[h][rc], default=None)
        most = 0 if best is None else capacity.free[best][rc]
        if most < amount:
            where = f' ({best})' if best is not None and most > 0 else ''
            return (
                f'no room: needs {_shown(rc, amount)}, most free '
                f'{_shown(rc, max(most, 0))}{where}'
            )
    return None


def _hosts_allowed(
    need: Need,
    capacity: _Capacity,
    shapes: Shapes,
) -> tuple[list[str], str]:
    """The hosts ``need`` may go to before capacity, and why if none."""
    hosts = set(shapes.get(need.shape, frozenset()))
    offered = {rc for free in capacity.free.values() for rc in free}
    missing = sorted(set(need.resources) - offered)
    if missing:
        needs = ', '.join(_shown(rc, need.resources[rc]) for rc in missing)
        return [], f'no host it may go to offers {needs}'
    if need.only is not None:
        hosts &= need.only
    hosts.discard(need.host)
    if need.zone is not None:
        hosts = {h for h in hosts if capacity.zones.get(h) == need.zone}
    allowed, rule = _group_rule(need, capacity)
    if allowed is not None:
        within = hosts & allowed
        if hosts and not within:
            return [], rule
        hosts = within
    if not hosts:
        where = f' in availability zone {need.zone}' if need.zone else ''
        fitting = _shortage(need, capacity.free, capacity)
        return [], fitting or f'no enabled host{where} may take it'
    return sorted(hosts), ''


def pack(
    needs: Sequence[Need],
    hosts: Sequence[Host],
    shapes: Shapes,
) -> dict[str, Fit]:
    """Place every need, the largest first; a fit for each server.

    ``shapes`` are the hosts Placement offers for one server of each
    shape (which checks ``max_unit`` and traits as the scheduler would).
    """
    capacity = _Capacity(
        free={h.name: collections.Counter(h.free) for h in hosts},
        zones={h.name: h.zone for h in hosts},
        members=collections.defaultdict(collections.Counter),
    )
    for need in needs:
        if need.group is not None and need.group.id not in capacity.members:
            capacity.members[need.group.id].update(need.group.members_on)
    fits = {}
    for need in sorted(needs, key=_size, reverse=True):
        fits[need.server_id] = _place(need, capacity, shapes)
    return fits


def _place(
    need: Need,
    capacity: _Capacity,
    shapes: Shapes,
) -> Fit:
    hosts, why = _hosts_allowed(need, capacity, shapes)
    if not hosts:
        return Fit(need.server_id, False, why)
    fitting = [h for h in hosts if capacity.fits(need, h)]
    if not fitting:
        return Fit(
            need.server_id,
            False,
            _shortage(need, hosts, capacity) or 'no room',
        )
    # The scheduler's default weighers spread: the most free memory.
    chosen = max(fitting, key=lambda h: (capacity.free[h]['MEMORY_MB'], h))
    capacity.take(need, chosen)
    notes = [f'fits ({len(fitting)} host{"s" if len(fitting) > 1 else ""})']
    if need.group is not None and need.group.policy.startswith('soft-'):
        notes.append(
            f'{need.group.policy} group {need.group.name}: a preference '
            f'the scheduler may not keep'
        )
    notes += [f'not checked: {item}' for item in need.unchecked]
    return Fit(need.server_id, True, '; '.join(notes), chosen)


def summary(needs: Sequence[Need], hosts: Sequence[Host]) -> str:
    """What the drain needs, against what its hosts have free.

    When every server has its destination named (``--host``, a restore),
    the hosts counted are those destinations alone.
    """
    named = [need.only for need in needs]
    if needs and all(only is not None for only in named):
        allowed = frozenset().union(*(only for only in named if only))
        hosts = [host for host in hosts if host.name in allowed]
    needed: collections.Counter[str] = collections.Counter()
    for need in needs:
        needed.update(need.resources)
    free: collections.Counter[str] = collections.Counter()
    for host in hosts:
        free.update(host.free)
    order = [rc for rc in _SIZE_ORDER if rc in needed] + sorted(
        set(needed) - set(_SIZE_ORDER)
    )
    asked = ', '.join(_shown(rc, needed[rc]) for rc in order)
    offered = ', '.join(_shown(rc, max(free[rc], 0)) for rc in order)
    servers = 'server needs' if len(needs) == 1 else 'servers need'
    places = (
        'host it may go to has'
        if len(hosts) == 1
        else 'hosts they may go to have'
    )
    return (
        f'Pre-flight: {len(needs)} {servers} {asked or "nothing"}; the '
        f'{len(hosts)} {places} {offered or "nothing"} free'
    )
