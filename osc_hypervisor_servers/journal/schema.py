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

"""The journal's format, documented in ``doc/source/cli/journal.rst``.

A journal is one JSON document: what a run is about to change on each
server (an attribute's value, or where the server is and how it moves)
and on each compute service, then each server's result. Version 2 holds
marks and moves; version 1 (marks only) is still read. Version 3 is a
journal of ``maintain``: its turns, each naming the journals of its
drains and of their returns.

A journal is a file people copy, edit and truncate: reading one checks
every field of every entry against the format (types, UUIDs, lengths)
and Nova's own rules, and refuses the whole document at the first field
that is wrong (:class:`.reading.JournalError`, naming the field and the
server), before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import typing

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.core import rules
from osc_hypervisor_servers.journal import reading

FORMAT = 'osc-hypervisor-servers-journal'
VERSION = 2
#: The version of a journal of ``maintain``, which adds its turns.
TURNS_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
PENDING = 'pending'
TIME_FORMAT = reading.TIME_FORMAT

Wing = typing.Literal['marks', 'moves']
WINGS: tuple[Wing, ...] = typing.get_args(Wing)
#: How a server moves, by the journal's names (moves.kinds' modes).
MoveKindName = typing.Literal['live', 'cold', 'evacuate']
MOVE_KINDS: tuple[MoveKindName, ...] = typing.get_args(MoveKindName)
SERVICE_STATUSES: tuple[model.ServiceStatus, ...] = typing.get_args(
    model.ServiceStatus
)
Verb = typing.Literal[
    'set', 'unset', 'restore', 'migrate', 'evacuate', 'maintain'
]
VERBS: tuple[Verb, ...] = typing.get_args(Verb)

# Upper bounds of free text, so that a journal cannot carry anything
# Nova would not: names, hosts and projects are at most 255 characters
# there; details are this plugin's own rows.
NAME_MAX_LENGTH = reading.NAME_MAX_LENGTH
STATUS_MAX_LENGTH = 64
DETAILS_MAX_LENGTH = 4096
ENDPOINT_MAX_LENGTH = 2048
PATH_MAX_LENGTH = 4096
#: The most journals one turn of ``maintain`` names (each resume of a
#: killed drain or return adds one).
TURN_JOURNALS_MAX = 100


# Attribute changes (marks).


def _change_to_json(change: attributes.AttributeChange) -> dict[str, object]:
    attribute = change.attribute
    entry: dict[str, object] = {'attribute': attribute.kind}
    if attribute.kind == attributes.PROPERTY:
        entry['key'] = attribute.name
    elif attribute.kind == attributes.TAG:
        entry['tag'] = attribute.name
    entry['before'] = change.before
    entry['after'] = change.after
    return entry


def _text_values(
    fields: reading.Fields, check: Callable[[str], str | None]
) -> tuple[str | None, str | None]:
    values = (
        fields.text_or_none('before', 1 << 16),
        fields.text_or_none('after', 1 << 16),
    )
    for text in values:
        if text is not None:
            reading.check(check(text))
    return values


def _change_from_json(entry: object, where: str) -> attributes.AttributeChange:
    fields = reading.Fields(entry, f'{where}: a change')
    kind = fields.choice(
        'attribute',
        (attributes.DESCRIPTION, attributes.PROPERTY, attributes.TAG),
    )
    if kind == attributes.DESCRIPTION:
        before, after = _text_values(fields, rules.description_problem)
        return attributes.AttributeChange(
            attributes.description(), before, after
        )
    if kind == attributes.PROPERTY:
        key = fields.text('key')
        reading.check(rules.property_key_problem(key))
        reading.check(rules.path_segment_problem('property key', key))
        before, after = _text_values(
            fields, lambda value: rules.property_value_problem(key, value)
        )
        return attributes.AttributeChange(
            attributes.property_(key), before, after
        )
    tag = fields.text('tag')
    reading.check(rules.tag_problem(tag))
    return attributes.AttributeChange(
        attributes.tag(tag), fields.boolean('before'), fields.boolean('after')
    )


# Moves and services.


@dataclasses.dataclass(frozen=True)
class MoveEntry:
    """How a run moves a server, and where it went."""

    kind: MoveKindName
    #: The compute host asked for; None: the scheduler picks.
    target: str | None = None
    #: Where the server went (a compute host), once the run knows it.
    destination: str | None = None
    #: The ID of the move's migration record, once the run knows it.
    migration: int | None = None

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, entry: object, where: str) -> MoveEntry:
        fields = reading.Fields(entry, f'{where}: move')
        return cls(
            kind=fields.choice('kind', MOVE_KINDS),
            target=fields.text_or_none('target'),
            destination=fields.text_or_none('destination'),
            migration=fields.migration_id('migration'),
        )


@dataclasses.dataclass(frozen=True)
class ServiceState:
    status: model.ServiceStatus
    disabled_reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, entry: object, where: str) -> ServiceState:
        fields = reading.Fields(entry, where)
        return cls(
            status=fields.choice('status', SERVICE_STATUSES),
            disabled_reason=fields.text_or_none('disabled_reason'),
        )


@dataclasses.dataclass(frozen=True)
class ServiceEntry:
    """A compute service a run changes: its state before and after."""

    id: str
    host: str
    before: ServiceState
    after: ServiceState

    def to_json(self) -> dict[str, object]:
        return {
            'id': self.id,
            'host': self.host,
            'before': self.before.to_json(),
            'after': self.after.to_json(),
        }

    @classmethod
    def from_json(cls, entry: object) -> ServiceEntry:
        fields = reading.Fields(entry, 'a service')
        host = fields.text('host')
        where = f'the service of {host}'
        fields.where = where
        return cls(
            id=fields.uuid('id'),
            host=host,
            before=ServiceState.from_json(
                fields.entry.get('before'), f'{where}: before'
            ),
            after=ServiceState.from_json(
                fields.entry.get('after'), f'{where}: after'
            ),
        )


# Servers and the document.


@dataclasses.dataclass(frozen=True)
class ServerEntry:
    """One server of a journal: who and where it is, what the run does."""

    id: str
    name: str
    project_id: str
    hypervisor_hostname: str | None
    changes: tuple[attributes.AttributeChange, ...] = ()
    #: Where the server is, and its status, when the run starts (v2).
    compute_host: str | None = None
    status: str = ''
    move: MoveEntry | None = None
    result: str = PENDING
    details: str = ''

    @classmethod
    def of(
        cls,
        server: model.ServerState,
        changes: tuple[attributes.AttributeChange, ...] = (),
        move: MoveEntry | None = None,
    ) -> ServerEntry:
        """The entry of ``server`` as the run found it."""
        return cls(
            id=server.id,
            name=server.name,
            project_id=server.project_id,
            hypervisor_hostname=server.hypervisor_hostname,
            compute_host=server.compute_host,
            status=server.status,
            changes=changes,
            move=move,
        )

    def project_problem(self, now: model.ServerState) -> str | None:
        """Why ``now``, found by this entry's ID, is not to be touched: it
        is in another project than the journal recorded (an edited or
        a foreign journal), or None.
        """
        if now.project_id == self.project_id:
            return None
        return (
            f'not touched: the server is in project {now.project_id}, the '
            f'journal recorded project {self.project_id or "none"}'
        )

    def server(self) -> model.ServerState:
        """The server as the journal knows it (for its row)."""
        return model.ServerState(
            id=self.id,
            name=self.name,
            project_id=self.project_id,
            hypervisor_hostname=self.hypervisor_hostname,
            compute_host=self.compute_host,
            status=self.status,
        )

    def to_json(self) -> dict[str, object]:
        entry: dict[str, object] = {
            'id': self.id,
            'name': self.name,
            'project_id': self.project_id,
            'hypervisor_hostname': self.hypervisor_hostname,
            'compute_host': self.compute_host,
            'status': self.status,
            'changes': [_change_to_json(change) for change in self.changes],
        }
        if self.move is not None:
            entry['move'] = self.move.to_json()
        entry['result'] = self.result
        entry['details'] = self.details
        return entry

    @classmethod
    def from_json(cls, entry: object) -> ServerEntry:
        fields = reading.Fields(entry, 'a server')
        server_id = fields.uuid('id')
        fields.where = f'server {server_id}'
        where = fields.where
        move = fields.entry.get('move')
        return cls(
            id=server_id,
            name=fields.text('name'),
            project_id=fields.text('project_id'),
            hypervisor_hostname=fields.text_or_none('hypervisor_hostname'),
            changes=tuple(
                _change_from_json(change, where)
                for change in fields.objects('changes', required=False)
            ),
            compute_host=fields.text_or_none('compute_host'),
            status=fields.text('status', STATUS_MAX_LENGTH),
            move=None if move is None else MoveEntry.from_json(move, where),
            result=fields.text('result', STATUS_MAX_LENGTH, PENDING),
            details=fields.text('details', DETAILS_MAX_LENGTH),
        )


def _hypervisor_to_json(hypervisor: model.Hypervisor) -> dict[str, object]:
    return {
        'id': hypervisor.id,
        'name': hypervisor.name,
        'host': hypervisor.host,
    }


def _hypervisor_from_json(entry: object) -> model.Hypervisor:
    fields = reading.Fields(entry, 'a hypervisor')
    hypervisor_id = fields.uuid('id')
    fields.where = f'hypervisor {hypervisor_id}'
    return model.Hypervisor(
        id=hypervisor_id,
        name=fields.text('name'),
        host=fields.text_or_none('host'),
    )


#: Where a turn of ``maintain`` stands: not begun, being drained,
#: with the operator's command (or waiting for its hosts to be back),
#: being given back, over; skipped (its drain could not finish, what
#: left was given back), or stopped there (its command failed, or its
#: hosts were not back in time: they stay drained).
Phase = typing.Literal[
    'waiting', 'draining', 'handed over', 'returning', 'done', 'skipped',
    'stopped',
]  # fmt: skip
PHASES: tuple[Phase, ...] = typing.get_args(Phase)


@dataclasses.dataclass(frozen=True)
class Turn:
    """Hypervisors that ``maintain`` takes through the cycle together."""

    hypervisors: tuple[model.Hypervisor, ...]
    phase: Phase = 'waiting'
    #: The journals of its drains, in order (a resumed drain adds one).
    drains: tuple[str, ...] = ()
    #: The journals of its returns: the restores of its drains.
    returns: tuple[str, ...] = ()
    details: str = ''

    def to_json(self) -> dict[str, object]:
        return {
            'hypervisors': [_hypervisor_to_json(h) for h in self.hypervisors],
            'phase': self.phase,
            'drains': list(self.drains),
            'returns': list(self.returns),
            'details': self.details,
        }

    @classmethod
    def from_json(cls, entry: object) -> Turn:
        fields = reading.Fields(entry, 'a turn')
        hypervisors = tuple(
            map(_hypervisor_from_json, fields.objects('hypervisors'))
        )
        if not hypervisors:
            fields.fail('hypervisors', 'is empty')
        fields.where = f'the turn of {hypervisors[0].name}'
        return cls(
            hypervisors=hypervisors,
            phase=fields.choice('phase', PHASES),
            drains=cls._paths(fields, 'drains'),
            returns=cls._paths(fields, 'returns'),
            details=fields.text('details', DETAILS_MAX_LENGTH),
        )

    @staticmethod
    def _paths(fields: reading.Fields, name: str) -> tuple[str, ...]:
        paths = fields.objects(name)
        if len(paths) > TURN_JOURNALS_MAX:
            fields.fail(name, f'names more than {TURN_JOURNALS_MAX} journals')
        for path in paths:
            if not isinstance(path, str) or not 0 < len(path) <= (
                PATH_MAX_LENGTH
            ):
                fields.fail(name, f'{path!r} is not a journal path')
        return tuple(typing.cast(list[str], paths))


@dataclasses.dataclass(frozen=True)
class Document:
    """A whole journal."""

    verb: Verb
    started_at: str
    endpoint: str
    hypervisors: tuple[model.Hypervisor, ...]
    servers: tuple[ServerEntry, ...]
    #: Which wing wrote it, and so which one undoes it.
    wing: Wing = 'marks'
    services: tuple[ServiceEntry, ...] = ()
    #: Nova's time when the run started (its Date header): the migration
    #: records of the run's moves were created after it.
    nova_started_at: str | None = None
    #: The run's options, as given (selection and change).
    options: dict[str, object] = dataclasses.field(default_factory=dict)
    #: For a restore: the journal it restored.
    restores: str | None = None
    finished_at: str | None = None
    interrupted: bool = False
    #: For ``maintain``: its turns, in order.
    turns: tuple[Turn, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            'format': FORMAT,
            'version': TURNS_VERSION if self.turns else VERSION,
            'wing': self.wing,
            'verb': self.verb,
            'started_at': self.started_at,
            'nova_started_at': self.nova_started_at,
            'finished_at': self.finished_at,
            'interrupted': self.interrupted,
            'endpoint': self.endpoint,
            'options': self.options,
            'restores': self.restores,
            'hypervisors': [_hypervisor_to_json(h) for h in self.hypervisors],
            'services': [service.to_json() for service in self.services],
            'servers': [server.to_json() for server in self.servers],
            **(
                {'turns': [turn.to_json() for turn in self.turns]}
                if self.turns
                else {}
            ),
        }

    @classmethod
    def from_json(cls, document: object) -> Document:
        if not isinstance(document, dict) or document.get('format') != FORMAT:
            raise reading.JournalError(f'not a {FORMAT} document')
        version = document.get('version')
        if version not in READABLE_VERSIONS:
            raise reading.JournalError(
                f'version {version!r}; this release reads versions '
                f'{", ".join(map(str, READABLE_VERSIONS))}'
            )
        fields = reading.Fields(document, 'the journal')
        wing = fields.choice('wing', WINGS) if version >= 2 else 'marks'
        verb = fields.choice('verb', VERBS)
        turns = tuple(
            map(Turn.from_json, fields.objects('turns', required=False))
        )
        if verb == 'maintain' and not turns:
            fields.fail('turns', 'are missing: maintain names its turns')
        if verb != 'maintain' and turns:
            fields.fail('turns', f'belong to maintain, not to {verb}')
        return cls(
            verb=verb,
            started_at=str(fields.time('started_at')),
            endpoint=fields.text('endpoint', ENDPOINT_MAX_LENGTH),
            hypervisors=tuple(
                map(_hypervisor_from_json, fields.objects('hypervisors'))
            ),
            servers=tuple(
                map(ServerEntry.from_json, fields.objects('servers'))
            ),
            wing=wing,
            services=tuple(
                map(
                    ServiceEntry.from_json,
                    fields.objects('services', required=False),
                )
            ),
            nova_started_at=fields.time('nova_started_at', optional=True),
            options=fields.object('options'),
            restores=fields.text_or_none('restores', PATH_MAX_LENGTH),
            finished_at=fields.time('finished_at', optional=True),
            interrupted=fields.boolean('interrupted'),
            turns=turns,
        )
