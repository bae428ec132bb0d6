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

A journal is one JSON document: what a run is about to replace on each
server, then each server's result. Reading one checks every field
against the format and Nova's own rules, and refuses the whole document
at the first field that is wrong (:class:`JournalError`, naming it).
"""

from __future__ import annotations

import dataclasses

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.core import rules

FORMAT = 'osc-hypervisor-servers-journal'
VERSION = 1
PENDING = 'pending'


class JournalError(ValueError):
    """A field of a journal that breaks the format."""


def _check(problem: str | None) -> None:
    if problem is not None:
        raise JournalError(problem)


def _text_or_none(value: object, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise JournalError(f'{where}: expected text or null')
    return value


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


def _description_change(
    before: object, after: object
) -> attributes.AttributeChange:
    values = [_text_or_none(value, 'description') for value in (before, after)]
    for text in values:
        if text is not None:
            _check(rules.description_problem(text))
    return attributes.AttributeChange(attributes.description(), *values)


def _property_change(
    key: object, before: object, after: object
) -> attributes.AttributeChange:
    if not isinstance(key, str):
        raise JournalError('a property change has no key')
    _check(rules.property_key_problem(key))
    _check(rules.path_segment_problem('property key', key))
    values = [
        _text_or_none(value, f'property {key}') for value in (before, after)
    ]
    for text in values:
        if text is not None:
            _check(rules.property_value_problem(key, text))
    return attributes.AttributeChange(attributes.property_(key), *values)


def _tag_change(
    tag: object, before: object, after: object
) -> attributes.AttributeChange:
    if not isinstance(tag, str):
        raise JournalError('a tag change has no tag')
    _check(rules.tag_problem(tag))
    if not isinstance(before, bool) or not isinstance(after, bool):
        raise JournalError(f'tag {tag}: expected true or false')
    return attributes.AttributeChange(attributes.tag(tag), before, after)


def _change_from_json(entry: object) -> attributes.AttributeChange:
    if not isinstance(entry, dict):
        raise JournalError('a change is not an object')
    kind = entry.get('attribute')
    before, after = entry.get('before'), entry.get('after')
    if kind == attributes.DESCRIPTION:
        return _description_change(before, after)
    if kind == attributes.PROPERTY:
        return _property_change(entry.get('key'), before, after)
    if kind == attributes.TAG:
        return _tag_change(entry.get('tag'), before, after)
    raise JournalError(f'unknown attribute {kind!r}')


@dataclasses.dataclass(frozen=True)
class ServerEntry:
    """One server of a journal: who it is and what the run changed."""

    id: str
    name: str
    project_id: str
    hypervisor_hostname: str | None
    changes: tuple[attributes.AttributeChange, ...]
    result: str = PENDING
    details: str = ''

    def server(self) -> model.ServerState:
        """The server as the journal knows it (for its row)."""
        return model.ServerState(
            id=self.id,
            name=self.name,
            project_id=self.project_id,
            hypervisor_hostname=self.hypervisor_hostname,
        )

    def to_json(self) -> dict[str, object]:
        return {
            'id': self.id,
            'name': self.name,
            'project_id': self.project_id,
            'hypervisor_hostname': self.hypervisor_hostname,
            'changes': [_change_to_json(change) for change in self.changes],
            'result': self.result,
            'details': self.details,
        }

    @classmethod
    def from_json(cls, entry: object) -> ServerEntry:
        if not isinstance(entry, dict) or not isinstance(entry.get('id'), str):
            raise JournalError('a server entry has no id')
        changes = entry.get('changes')
        if not isinstance(changes, list):
            raise JournalError(f'server {entry["id"]}: no list of changes')
        return cls(
            id=entry['id'],
            name=str(entry.get('name') or ''),
            project_id=str(entry.get('project_id') or ''),
            hypervisor_hostname=entry.get('hypervisor_hostname'),
            changes=tuple(_change_from_json(change) for change in changes),
            result=str(entry.get('result') or PENDING),
            details=str(entry.get('details') or ''),
        )


def _hypervisor_from_json(entry: object) -> model.Hypervisor:
    if not isinstance(entry, dict):
        raise JournalError('a hypervisor is not an object')
    try:
        return model.Hypervisor(
            id=str(entry['id']),
            name=str(entry['name']),
            host=entry.get('host'),
        )
    except KeyError as error:
        raise JournalError(f'a hypervisor has no {error}') from error


@dataclasses.dataclass(frozen=True)
class Document:
    """A whole journal."""

    verb: str
    started_at: str
    endpoint: str
    hypervisors: tuple[model.Hypervisor, ...]
    servers: tuple[ServerEntry, ...]
    #: The run's options, as given (selection and change).
    options: dict[str, object] = dataclasses.field(default_factory=dict)
    #: For a restore: the journal it restored.
    restores: str | None = None
    finished_at: str | None = None
    interrupted: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            'format': FORMAT,
            'version': VERSION,
            'verb': self.verb,
            'started_at': self.started_at,
            'finished_at': self.finished_at,
            'interrupted': self.interrupted,
            'endpoint': self.endpoint,
            'options': self.options,
            'restores': self.restores,
            'hypervisors': [
                {'id': h.id, 'name': h.name, 'host': h.host}
                for h in self.hypervisors
            ],
            'servers': [server.to_json() for server in self.servers],
        }

    @classmethod
    def from_json(cls, document: object) -> Document:
        if not isinstance(document, dict) or document.get('format') != FORMAT:
            raise JournalError(f'not a {FORMAT} document')
        if document.get('version') != VERSION:
            raise JournalError(
                f'version {document.get("version")!r}; this release reads '
                f'version {VERSION}'
            )
        hypervisors = document.get('hypervisors') or []
        servers = document.get('servers')
        if not isinstance(hypervisors, list) or not isinstance(servers, list):
            raise JournalError('no list of hypervisors or servers')
        return cls(
            verb=str(document.get('verb')),
            started_at=str(document.get('started_at')),
            endpoint=str(document.get('endpoint') or ''),
            hypervisors=tuple(map(_hypervisor_from_json, hypervisors)),
            servers=tuple(map(ServerEntry.from_json, servers)),
            options=dict(document.get('options') or {}),
            restores=document.get('restores'),
            finished_at=document.get('finished_at'),
            interrupted=bool(document.get('interrupted')),
        )
