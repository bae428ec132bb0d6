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

Shared by every verb that selects. Hypervisors are looked up, then
listed, several at a time (bounded): a run over twenty hypervisors costs
about the round trips of one, and its result and order are those of a
serial run.
"""

from __future__ import annotations

import dataclasses

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import listings
from osc_hypervisor_servers.selection import lookup
from osc_hypervisor_servers.selection import read_cost

REQUIRED_MICROVERSIONS = [
    (version.HYPERVISOR_LOOKUP, 'to look up hypervisors')
]


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
            errors.refuse(
                'Give at least one hypervisor, or --matching <substring>'
            )

    def to_json(self) -> dict[str, object]:
        """The selection as given, for a journal."""
        return {
            'hypervisors': list(self.hypervisors),
            'matching': list(self.matching),
            'status': self.status,
            'project_id': self.project_id,
        }


@dataclasses.dataclass(frozen=True)
class Selected:
    hypervisors: list[model.Hypervisor]
    servers: list[model.ServerState]


def select(
    compute: _proxy.Proxy,
    selection: Selection,
    retry: retrying.RetryPolicy,
    workers: int,
) -> Selected:
    reads = read_cost.plan_reads(
        compute, retry, len(selection.hypervisors) + len(selection.matching)
    )
    found = lookup.resolve(
        compute,
        selection.hypervisors,
        selection.matching,
        retry,
        workers=workers,
        everyone=reads.everyone,
    )
    return Selected(
        found,
        listings.list_servers(
            compute,
            found,
            retry,
            status=selection.status,
            project_id=selection.project_id,
            workers=workers,
            one_listing=reads.one_listing(found),
        ),
    )
