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

"""One engine behind ``hypervisor servers set`` and ``unset``.

Check, resolve, list, plan, then execute (or preview) the plan. Every
input check and every microversion gate comes before the first write.
"""

import dataclasses

from openstack import utils as sdk_utils
from osc_lib import exceptions

from osc_hypervisor_servers import execute
from osc_hypervisor_servers import hypervisors as hypervisors_module
from osc_hypervisor_servers import plan
from osc_hypervisor_servers import servers as servers_module


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which servers to act on.

    ``hypervisors`` are IDs or exact hostnames; ``matching`` are
    substrings, an explicit opt-in to ``nova host-meta``'s behaviour.
    """

    hypervisors: tuple = ()
    matching: tuple = ()
    status: str | None = None
    project_id: str | None = None


def check_microversions(compute, change):
    needed = [
        *change.required_microversions(),
        (hypervisors_module.LOOKUP_MICROVERSION, 'to look up hypervisors'),
    ]
    for microversion, purpose in needed:
        if not sdk_utils.supports_microversion(compute, microversion):
            raise exceptions.CommandError(
                f'--os-compute-api-version {microversion} or greater is '
                f'required {purpose}'
            )


@dataclasses.dataclass(frozen=True)
class Outcome:
    hypervisors: list
    report: execute.Report


def run(
    compute,
    selection,
    change,
    retry,
    *,
    dry_run=False,
    parallel=1,
    progress=None,
):
    if not (selection.hypervisors or selection.matching):
        raise exceptions.CommandError(
            'Give at least one hypervisor, or --matching <substring>'
        )
    check_microversions(compute, change)
    found = hypervisors_module.resolve(
        compute, selection.hypervisors, selection.matching, retry
    )
    servers = servers_module.list_servers(
        compute,
        found,
        retry,
        status=selection.status,
        project_id=selection.project_id,
    )
    plans = plan.plan_servers(servers, change)
    if dry_run:
        report = execute.preview(plans)
    else:
        report = execute.execute(
            compute, plans, parallel, retry, progress=progress
        )
    return Outcome(found, report)
