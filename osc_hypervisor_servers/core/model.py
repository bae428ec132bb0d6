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

"""Servers and hypervisors, as plain snapshots of what Nova showed.

Snapshots are immutable and hold only what the plugin uses, so worker
threads never share an openstacksdk resource (the SDK changes those in
place). A server has one mapping from Nova's JSON, :meth:`ServerState.
from_nova`, whichever call returned it.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
import typing
from typing import Any

#: A compute service's status: whether the scheduler may pick its host.
ServiceStatus = typing.Literal['enabled', 'disabled']


@dataclasses.dataclass(frozen=True)
class ServerState:
    id: str
    name: str = ''
    project_id: str = ''
    #: The hypervisor (compute node) the server is on, as Nova reports
    #: it in OS-EXT-SRV-ATTR:hypervisor_hostname.
    hypervisor_hostname: str | None = None
    #: The server's compute service host (OS-EXT-SRV-ATTR:host).
    compute_host: str | None = None
    status: str = ''
    #: OS-EXT-STS:vm_state (``active``, ``stopped``, ``shelved``...),
    #: which Nova checks; ``status`` also shows a task (MIGRATING).
    vm_state: str | None = None
    #: OS-EXT-STS:task_state: None unless an action is under way.
    task_state: str | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    description: str | None = None
    #: The availability zone its moves must stay in (2.96+), if any.
    pinned_zone: str | None = None
    #: Its flavor's extra specs (2.47+), e.g. a PCI alias.
    extra_specs: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_nova(cls, server: Mapping[str, Any]) -> ServerState:
        """A server as ``GET /servers/detail`` or ``/servers/{id}`` shows
        it to an admin.
        """
        return cls(
            id=server['id'],
            name=server.get('name') or '',
            project_id=server.get('tenant_id') or '',
            hypervisor_hostname=server.get(
                'OS-EXT-SRV-ATTR:hypervisor_hostname'
            ),
            compute_host=server.get('OS-EXT-SRV-ATTR:host'),
            status=server.get('status') or '',
            vm_state=server.get('OS-EXT-STS:vm_state'),
            task_state=server.get('OS-EXT-STS:task_state'),
            metadata=dict(server.get('metadata') or {}),
            tags=frozenset(server.get('tags') or ()),
            description=server.get('description'),
            pinned_zone=server.get('pinned_availability_zone'),
            extra_specs=dict(
                (server.get('flavor') or {}).get('extra_specs') or {}
            ),
        )


@dataclasses.dataclass(frozen=True)
class Hypervisor:
    id: str
    #: The hypervisor hostname (the compute node), what users type.
    name: str
    #: The compute service host, which the server listing filters on;
    #: None when Nova reports no service for the node.
    host: str | None
    #: How many servers Nova counts on it (an estimate, to plan reads).
    running_vms: int | None = None
    #: Its compute service's: 'enabled' or 'disabled', 'up' or 'down'.
    status: str = ''
    state: str = ''
