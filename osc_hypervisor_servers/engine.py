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

"""What each verb does, from checked input to its report.

Every verb runs the same steps: check the input and the microversions,
select the servers (:mod:`selection`), plan each one without I/O, then
preview the plans or run them (:mod:`executor`). Every check comes
before the first write.
"""

from __future__ import annotations

import dataclasses

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers import apply
from osc_hypervisor_servers import changes as changes_module
from osc_hypervisor_servers import connections
from osc_hypervisor_servers import executor
from osc_hypervisor_servers import hypervisors as hypervisors_module
from osc_hypervisor_servers import plan
from osc_hypervisor_servers import retry as retry_module
from osc_hypervisor_servers import selection as selection_module
from osc_hypervisor_servers import version


@dataclasses.dataclass(frozen=True)
class Outcome:
    hypervisors: list[hypervisors_module.Hypervisor]
    report: executor.Report


def change_servers(
    compute: _proxy.Proxy,
    selection: selection_module.Selection,
    change: changes_module.Change,
    retry: retry_module.RetryPolicy,
    *,
    dry_run: bool = False,
    parallel: int = 1,
    progress: executor.Progress | None = None,
) -> Outcome:
    """``hypervisor servers set`` and ``unset``."""
    selection.check()
    version.require(
        compute,
        change.required_microversions()
        + selection_module.REQUIRED_MICROVERSIONS,
    )
    connections.fit_pool(compute, parallel)
    selected = selection_module.select(compute, selection, retry, parallel)
    plans = plan.plan_servers(selected.servers, change)
    if dry_run:
        report = apply.preview(plans)
    else:
        report = apply.execute(
            compute, plans, retry, parallel, progress=progress
        )
    return Outcome(selected.hypervisors, report)
