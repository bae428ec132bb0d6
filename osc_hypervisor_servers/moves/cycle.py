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

"""The turns of one ``maintain`` run, each from its phase to its end,
and the run's journal, rewritten at each phase (see :mod:`.maintain`).
"""

from __future__ import annotations

import dataclasses
import pathlib

from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import handover
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import turns
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting


def names(turn: schema.Turn) -> str:
    return ' and '.join(hypervisor.name for hypervisor in turn.hypervisors)


class RunJournal:
    """A run's journal, rewritten as its turns go through their phases."""

    def __init__(self, journal: store.Journal) -> None:
        self.journal = journal

    @property
    def path(self) -> str:
        return str(self.journal.path)

    @property
    def turns(self) -> tuple[schema.Turn, ...]:
        return self.journal.document.turns

    def record(
        self,
        index: int,
        *,
        phase: schema.Phase | None = None,
        drains: tuple[str, ...] | None = None,
        returns: tuple[str, ...] | None = None,
        details: str | None = None,
    ) -> schema.Turn:
        """Write turn ``index`` with what changed, before going on."""
        document = self.journal.document
        turn = document.turns[index]
        turn = schema.Turn(
            turn.hypervisors,
            phase=turn.phase if phase is None else phase,
            drains=turn.drains if drains is None else drains,
            returns=turn.returns if returns is None else returns,
            details=turn.details if details is None else details,
        )
        self.journal.update(
            dataclasses.replace(
                document,
                turns=tuple(
                    turn if number == index else other
                    for number, other in enumerate(document.turns)
                ),
            )
        )
        return turn

    def next_journal(self, index: int, part: str) -> str:
        """The path of the next journal of ``part`` (drain, return) of
        turn ``index``, beside the run's.
        """
        turn = self.turns[index]
        count = len(turn.drains if part == 'drain' else turn.returns) + 1
        stem = self.journal.path.with_suffix('')
        return str(
            pathlib.Path(f'{stem}.turn-{index + 1}.{part}-{count}.json')
        )


@dataclasses.dataclass
class Cycle:
    """A run of turns: what it does, and what it said so far."""

    context: invocation.RunContext
    options: move_options.MaintainOptions
    run: RunJournal
    rows: list[reporting.ServerResult] = dataclasses.field(
        default_factory=list
    )

    def stage(self, index: int, phase: str) -> str:
        turn = self.run.turns[index]
        count = len(self.run.turns)
        return f'host {index + 1} of {count} ({names(turn)}): {phase}'

    def take_turn(self, index: int) -> str | None:
        """Take turn ``index`` from its phase to its end; why the run
        stops there, or None.
        """
        turn = self.run.turns[index]
        if turn.phase in ('waiting', 'draining'):
            stop = self._drain(index)
            if stop is not None or self.run.turns[index].phase == 'skipped':
                return stop
            turn = self.run.turns[index]
        if turn.phase in ('handed over', 'stopped'):
            stop = self._hand_over(index)
            if stop is not None:
                return stop
        return self._return(index)

    def _drain(self, index: int) -> str | None:
        run = self.run
        turn = run.turns[index]
        turn = run.record(
            index,
            phase='draining',
            drains=(*turn.drains, run.next_journal(index, 'drain')),
        )
        try:
            drained = turns.drain_turn(
                self.context,
                self.options,
                turn,
                turn.drains[-1],
                self.stage(index, 'draining'),
            )
        except errors.Refused as refusal:
            return self._skip(index, str(refusal))
        self.rows += drained.rows
        if drained.stopped:
            return f'the drain of {names(turn)} did not end'
        problem = turns.not_ready(self.context, self.options, turn)
        if problem is not None:
            return self._skip(index, problem)
        run.record(index, phase='handed over', details='')
        return None

    def _skip(self, index: int, reason: str) -> str | None:
        """Give back what left turn ``index``; mark it skipped."""
        run = self.run
        turn = run.turns[index]
        given = self._give_back(index, 'give back', 'giving back')
        stranded = None
        if given is not None and not given.outcome.succeeded:
            stranded = given.outcome.summary
        details = reason
        if stranded is not None:
            details += f'; what left it did not all go back: {stranded}'
        run.record(index, phase='skipped', details=details)
        self.context.notify(f'{names(turn)}: skipped: {details}')
        if stranded is not None:
            return f'{names(turn)} was skipped, and {stranded}'
        if self.options.stop_on_failure:
            return f'{names(turn)} was skipped (--stop-on-failure)'
        return None

    def _hand_over(self, index: int) -> str | None:
        run = self.run
        turn = run.turns[index]
        command = handover.Command(self.options.command, run.path)
        for hypervisor in turn.hypervisors:
            self.context.notify(
                f'{hypervisor.name}: drained; running: {command.line}'
            )
            status = command.run(hypervisor, self.context.notify)
            if status != 0:
                return self._stopped(
                    index, f'the command exited {status} on {hypervisor.name}'
                )
        since = handover.nova_now(self.context)
        check = self.options.check
        problem = handover.wait_until_back(
            self.context,
            turn.hypervisors,
            since,
            handover.Waiting(
                self.options.waiting.timeout,
                None if check is None else handover.Command(check, run.path),
            ),
        )
        if problem is not None:
            return self._stopped(
                index, f'{names(turn)} is not back: {problem}'
            )
        run.record(index, phase='returning', details='')
        return None

    def _stopped(self, index: int, why: str) -> str:
        turn = self.run.record(index, phase='stopped', details=why)
        return (
            f'{why}: {names(turn)} stays drained, its compute service disabled'
        )

    def _return(self, index: int) -> str | None:
        run = self.run
        turn = run.turns[index]
        returned = self._give_back(
            index, 'return', 'returning', servers=not self.options.no_return
        )
        if returned is not None and not returned.outcome.succeeded:
            summary = returned.outcome.summary
            run.record(index, details=summary)
            return f'{names(turn)} is back, but {summary}'
        run.record(index, phase='done', details='')
        return None

    def _give_back(
        self, index: int, phase: str, doing: str, servers: bool = True
    ) -> turns.Ran | None:
        """Restore the drains of turn ``index``, journaled in a file the
        run's journal names first; its rows are the run's.
        """
        run = self.run
        turn = run.turns[index]
        turn = run.record(
            index, returns=(*turn.returns, run.next_journal(index, 'return'))
        )
        given = turns.give_back(
            self.context,
            turn,
            turns.GiveBack(
                run.path,
                self.options.waiting,
                dataclasses.replace(
                    self.options.run, journal=turn.returns[-1]
                ),
                phase,
                servers,
            ),
            self.stage(index, doing),
        )
        if given is not None:
            self.rows += given.rows
        return given
