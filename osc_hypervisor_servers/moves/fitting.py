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

"""The pre-flight applied to a run's plans: what fits, and what not.

:mod:`.preflight` reads the facts and :mod:`.packing` places the
servers; here each plan gets the estimate (its Pre-flight column), a
server that would not fit stays, and a run with one is refused before
its first move unless it may move only what fits (``--allow-partial``).
The refusal is a step of the run, so that a dry run shows it instead.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import packing
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import preflight
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting

#: Servers a refusal names; the others are counted.
NAMED = 5


class RefuseMisfits:
    """The step that refuses a run with servers that would not fit,
    before anything is sent (see :mod:`..runner.execution`).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def preview(self) -> str | None:
        return f'A run would be refused: {self.reason}'

    def perform(self) -> None:
        errors.refuse(self.reason)

    def conclude(self, report: reporting.Report) -> None:
        """Nothing to record: the run never started."""


@dataclasses.dataclass(frozen=True)
class Fitted:
    plans: planning.Plans
    #: The refusal of the run, when a server would not fit.
    checks: Sequence[execution.Step] = ()


def _refusal(
    misfits: Sequence[planning.MovePlan],
    fits: dict[str, packing.Fit],
    moving: int,
    check: move_options.Preflight,
) -> RefuseMisfits:
    named = '; '.join(
        f'{plan.server.name or plan.server.id}: {fits[plan.server.id].text}'
        for plan in misfits[:NAMED]
    )
    more = f' and {len(misfits) - NAMED} more' if len(misfits) > NAMED else ''
    return RefuseMisfits(
        f'{len(misfits)} of {moving} servers would not fit ({named}{more}); '
        f'nothing was moved'
        + (
            ': give --allow-partial to move the others, or --skip-preflight '
            'to let the scheduler try'
            if check.may_relax
            else ''
        )
    )


def _with_fit(
    plan: planning.MovePlan | planning.StayPlan, fit: packing.Fit | None
) -> planning.MovePlan | planning.StayPlan:
    if fit is None or isinstance(plan, planning.StayPlan):
        return plan
    if fit.fits:
        return dataclasses.replace(plan, fit=fit.text)
    return planning.StayPlan(
        plan.server, f'would not fit: {fit.text}', fit=fit.text
    )


def fit(
    context: invocation.RunContext,
    check: move_options.Preflight,
    run: invocation.RunOptions,
    plans: planning.Plans,
    may_take: Callable[[model.Hypervisor], bool],
    skip_disabled: bool = True,
) -> Fitted:
    """``plans`` with the pre-flight's estimate, on the hypervisors that
    ``may_take`` servers (``skip_disabled``: the disabled ones are left
    out in Placement already).
    """
    moving = [plan for plan in plans if isinstance(plan, planning.MovePlan)]
    if not (check.check and moving):
        return Fitted(plans)
    facts = preflight.gather(
        context, moving, may_take, run.reads, skip_disabled
    )
    fits = packing.pack(facts.needs, facts.hosts, facts.shapes)
    context.notify(packing.summary(facts.needs, facts.hosts))
    misfits = [plan for plan in moving if not fits[plan.server.id].fits]
    return Fitted(
        [_with_fit(plan, fits.get(plan.server.id)) for plan in plans],
        [_refusal(misfits, fits, len(moving), check)]
        if misfits and not check.allow_partial
        else [],
    )
