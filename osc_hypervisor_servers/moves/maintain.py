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

"""``hypervisor servers maintain``: hosts through the whole cycle, one
turn after another.

A turn (one host, or ``--hosts-at-once`` of them) is drained
(:mod:`.turns`), handed to the operator's command once Nova shows it
empty and disabled, waited for until it is back (:mod:`.handover`), and
given back: its service enabled, its servers home. A turn whose drain
cannot finish is never handed over: what left it goes back, and the run
goes on with the next. A command that fails, or a host not back in
time, stops the run there, the host drained.

The run's journal names each turn's phase and the journals of its drains
and returns, each written before what it records starts: ``restore`` of
it undoes what is left, ``maintain --resume`` goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses
import pathlib
import shlex

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import cycle
from osc_hypervisor_servers.moves import drain
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import runs
from osc_hypervisor_servers.moves import turns
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import lookup

REQUIRED_MICROVERSIONS = drain.REQUIRED_MICROVERSIONS
#: How ``maintain`` may move servers (no evacuation: its hosts are up).
_MODES: tuple[kinds.Mode, ...] = ('auto', 'live', 'cold')
#: The phases in which a turn has hosts drained by the run.
_UNFINISHED: tuple[schema.Phase, ...] = (
    'draining', 'handed over', 'stopped', 'returning',
)  # fmt: skip


def _resolve(
    context: invocation.RunContext, references: Sequence[str]
) -> list[model.Hypervisor]:
    found = [
        lookup.find_hypervisor(context.compute, reference, context.retry)
        for reference in references
    ]
    seen: set[str] = set()
    for reference, hypervisor in zip(references, found, strict=True):
        if hypervisor.id in seen:
            errors.refuse(
                f'{reference}: hypervisor {hypervisor.name} is named twice'
            )
        if hypervisor.host is None:
            errors.refuse(
                f'{reference}: hypervisor {hypervisor.name} has no compute '
                f'service to maintain'
            )
        seen.add(hypervisor.id)
    return found


def _recorded_options(
    options: move_options.MaintainOptions,
) -> dict[str, object]:
    return {
        'hypervisors': list(options.hypervisors),
        'exec': options.command,
        'check': options.check,
        'hosts_at_once': options.hosts_at_once,
        'no_return': options.no_return,
        'stop_on_failure': options.stop_on_failure,
        'mode': options.mode,
    }


def _new_document(
    context: invocation.RunContext,
    options: move_options.MaintainOptions,
) -> schema.Document:
    if not options.hypervisors:
        errors.refuse('Give the hypervisors to maintain, in order')
    hypervisors = _resolve(context, options.hypervisors)
    at_once = options.hosts_at_once
    return dataclasses.replace(
        store.new_document(
            'moves',
            'maintain',
            context.endpoint,
            hypervisors,
            (),
            _recorded_options(options),
        ),
        turns=tuple(
            schema.Turn(tuple(hypervisors[start : start + at_once]))
            for start in range(0, len(hypervisors), at_once)
        ),
    )


def _resumed(
    context: invocation.RunContext,
    options: move_options.MaintainOptions,
    path: str,
) -> tuple[schema.Document, move_options.MaintainOptions]:
    """The journal of the run to go on with, and its options: those it
    recorded, but the commands, which are run only as given now (a
    command is never taken from a file).
    """
    document = store.read(path)
    if document.verb != 'maintain':
        errors.refuse(
            f'--resume {path}: the journal of {document.verb}, not of maintain'
        )
    store.check_endpoint(document, path, context.endpoint, False)
    recorded = document.options
    for option, given in (('exec', options.command), ('check', options.check)):
        if recorded.get(option) != given:
            errors.refuse(
                f'--{option} {given!r} is not the command the journal '
                f'recorded ({recorded.get(option)!r}): give the same one to '
                f'go on with the run'
            )
    if options.hypervisors and list(options.hypervisors) != recorded.get(
        'hypervisors'
    ):
        names = ', '.join(h.name for h in document.hypervisors)
        errors.refuse(
            f'--resume {path}: the journal maintains {names}; give no '
            f'hypervisor, or the same ones'
        )
    mode = options.mode
    for choice in _MODES:
        if recorded.get('mode') == choice:
            mode = choice
    return document, dataclasses.replace(
        options,
        no_return=recorded.get('no_return') is True,
        stop_on_failure=recorded.get('stop_on_failure') is True,
        mode=mode,
    )


def _preview(
    context: invocation.RunContext,
    options: move_options.MaintainOptions,
    document: schema.Document,
) -> reporting.Outcome:
    """A dry run: each turn's drain as it would be now, and its verdict."""
    rows: list[reporting.ServerResult] = []
    skipped = []
    for index, turn in enumerate(document.turns):
        if turn.phase in ('done', 'skipped'):
            continue
        stage = f'host {index + 1} of {len(document.turns)}'
        try:
            drained = turns.drain_turn(context, options, turn, None, stage)
        except errors.Refused as refusal:
            verdict: str | None = str(refusal)
        else:
            rows += drained.rows
            staying = [row for row in drained.rows if not row.status.ok]
            verdict = (
                f'{len(staying)} of {len(drained.rows)} servers would stay'
                if staying
                else None
            )
        if verdict is not None:
            skipped.append(f'{cycle.names(turn)} would be skipped: {verdict}')
        context.notify(
            f'{cycle.names(turn)}: '
            + (
                f'would be skipped: {verdict}'
                if verdict
                else 'would be maintained'
            )
        )
    return reporting.Outcome(
        reporting.Report(rows, previewed=True),
        wide=True,
        columns=_columns(),
        problem='; '.join(skipped) or None,
    )


def _columns() -> tuple[str, ...]:
    return (turns.PHASE_COLUMN, *runs.columns(move_options.Preflight()))


def _summary(run: cycle.RunJournal, notify: Callable[[str], None]) -> None:
    """The turns, one line each, as the journal has them."""
    width = max(len(cycle.names(turn)) for turn in run.turns)
    notify('Hosts:')
    for turn in run.turns:
        details = f'  {turn.details}' if turn.details else ''
        notify(f'  {cycle.names(turn):<{width}}  {turn.phase}{details}')


def maintain(
    context: invocation.RunContext, options: move_options.MaintainOptions
) -> reporting.Outcome:
    """``hypervisor servers maintain``."""
    errors.refuse_if(version.missing(context.compute, REQUIRED_MICROVERSIONS))
    resume = options.resume
    if resume is not None:
        document, options = _resumed(context, options, resume)
    else:
        document = _new_document(context, options)
    if options.run.dry_run:
        return _preview(context, options, document)
    if resume is not None:
        journal = store.Journal(pathlib.Path(resume), document)
    else:
        journal = store.Journal.write_ahead(options.run.journal, document)
    run = cycle.Cycle(context, options, cycle.RunJournal(journal))
    interrupted = False
    abandoned = None
    stop = None
    for index, turn in enumerate(run.run.turns):
        if turn.phase in ('done', 'skipped'):
            continue
        try:
            stop = run.take_turn(index)
        except KeyboardInterrupt:
            interrupted = True
        except retrying.NovaUnreachable as error:
            abandoned = str(error)
        if interrupted or abandoned or stop:
            break
    try:
        journal.close(interrupted or abandoned is not None)
    except OSError as error:
        context.notify(f'Could not record the end in {journal.path}: {error}')
    _summary(run.run, context.notify)
    return reporting.Outcome(
        reporting.Report(
            run.rows, interrupted=interrupted, abandoned=abandoned
        ),
        wide=True,
        columns=_columns(),
        journal=run.run.path,
        problem=_problem(run, stop, interrupted or abandoned is not None),
    )


def _problem(
    run_cycle: cycle.Cycle, stop: str | None, cut_short: bool
) -> str | None:
    skipped = [turn for turn in run_cycle.run.turns if turn.phase == 'skipped']
    if stop is None and not cut_short:
        if not skipped:
            return None
        return f'{" and ".join(map(cycle.names, skipped))} skipped (see Hosts)'
    resume = (
        f'openstack hypervisor servers maintain --resume '
        f'{shlex.quote(run_cycle.run.path)} '
        f'--exec {shlex.quote(run_cycle.options.command)}'
    )
    if run_cycle.options.check is not None:
        resume += f' --check {shlex.quote(run_cycle.options.check)}'
    return f'{stop or "stopped"}; to go on: {resume}'


def restore_run(
    context: invocation.RunContext,
    options: move_options.RestoreOptions,
    document: schema.Document,
) -> reporting.Outcome:
    """``restore`` of a journal of ``maintain``: the turns it left
    drained are given back, the last one first.
    """
    left = [turn for turn in document.turns if turn.phase in _UNFINISHED]
    rows: list[reporting.ServerResult] = []
    outcome = None
    problems = []
    for turn in reversed(left):
        given = turns.give_back(
            context,
            turn,
            turns.GiveBack(
                options.journal,
                options.waiting,
                options.run
                if len(left) == 1
                else dataclasses.replace(options.run, journal=None),
                'return',
            ),
            f'{cycle.names(turn)}: returning',
        )
        if given is None:
            continue
        outcome = given.outcome
        rows += given.rows
        if outcome.journal is not None and len(left) > 1:
            context.notify(
                f'{cycle.names(turn)}: its return: {outcome.journal}'
            )
        if not outcome.succeeded:
            problems.append(f'{cycle.names(turn)}: {outcome.summary}')
        if given.stopped:
            break
    if outcome is None:
        context.notify('Nothing to undo: no host of the run is left drained')
    return reporting.Outcome(
        reporting.Report(
            rows,
            interrupted=outcome is not None and outcome.report.interrupted,
            abandoned=None if outcome is None else outcome.report.abandoned,
        ),
        wide=True,
        columns=_columns(),
        journal=outcome.journal
        if outcome is not None and len(left) == 1
        else None,
        problem='; '.join(problems) or None,
    )
