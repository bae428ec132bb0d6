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

import dataclasses

from openstack.compute.v2 import _proxy
from osc_lib import exceptions

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


REQUIRED_MICROVERSIONS = [
    (version.HYPERVISOR_LOOKUP, 'to look up hypervisors')
]


def select(
    compute: _proxy.Proxy,
    selection: Selection,
    retry: retry_module.RetryPolicy,
    workers: int,
) -> Selected:
    found = hypervisors_module.resolve(
        compute,
        selection.hypervisors,
        selection.matching,
        retry,
        workers=workers,
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
        ),
    )
