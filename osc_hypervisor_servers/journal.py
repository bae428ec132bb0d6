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


"""The journal: what a run replaced, on disk before it replaces it.

A journal is one JSON document (see ``doc/source/cli/journal.rst``).
It is written whole, and flushed to disk, after planning and before the
first write of the run: every server's values before and after each
change it is about to make. When the run ends it is replaced, atomically,
by the same document with each server's result. A run killed at any
point leaves a journal that undoes it: ``restore`` compares each value
with what the server holds now, so it needs no result.

Journals hold tenants' data (descriptions, property values): their
directory is 0700 and the file 0600.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
import datetime
import json
import os
import pathlib
import re
import typing

from osc_lib import exceptions

from osc_hypervisor_servers import attributes
from osc_hypervisor_servers import changes as changes_module
from osc_hypervisor_servers import executor
from osc_hypervisor_servers import hypervisors as hypervisors_module
from osc_hypervisor_servers import plan as plan_module

FORMAT = 'osc-hypervisor-servers-journal'
VERSION = 1
PENDING = 'pending'
APPLICATION = 'osc-hypervisor-servers'
PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
_UNSAFE_IN_NAMES = re.compile(r'[^A-Za-z0-9._-]+')


def _fail(message: str) -> typing.NoReturn:
    raise exceptions.CommandError(message)


def state_directory() -> pathlib.Path:
    """``$XDG_STATE_HOME``, else ``~/.local/state`` (XDG base dirs)."""
    configured = os.environ.get('XDG_STATE_HOME')
    if configured and os.path.isabs(configured):
        return pathlib.Path(configured)
    return pathlib.Path.home() / '.local' / 'state'


def journal_directory() -> pathlib.Path:
    return state_directory() / APPLICATION / 'journal'


def _label(hypervisor_names: Sequence[str]) -> str:
    if not hypervisor_names:
        return 'none'
    label = _UNSAFE_IN_NAMES.sub('_', hypervisor_names[0])[:64]
    if len(hypervisor_names) > 1:
        label += f'-and-{len(hypervisor_names) - 1}-more'
    return label


def default_name(
    verb: str, hypervisor_names: Sequence[str], now: datetime.datetime
) -> str:
    return f'{now:%Y%m%dT%H%M%SZ}-{verb}-{_label(hypervisor_names)}.json'


def _timestamp(moment: datetime.datetime) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


# The JSON form of an attribute change.


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


def _text_or_none(value: object, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f'{where}: expected text or null')
    return value


def _change_from_json(entry: object) -> attributes.AttributeChange:
    if not isinstance(entry, dict):
        raise ValueError('a change is not an object')
    kind = entry.get('attribute')
    before, after = entry.get('before'), entry.get('after')
    try:
        if kind == attributes.DESCRIPTION:
            for value in (before, after):
                text = _text_or_none(value, 'description')
                if text is not None:
                    changes_module.validate_description(text)
            return attributes.AttributeChange(
                attributes.description(),
                _text_or_none(before, 'description'),
                _text_or_none(after, 'description'),
            )
        if kind == attributes.PROPERTY:
            key = entry.get('key')
            if not isinstance(key, str):
                raise ValueError('a property change has no key')
            changes_module.validate_property_key(key)
            changes_module.validate_path_safe('property key', key)
            for value in (before, after):
                text = _text_or_none(value, f'property {key}')
                if text is not None:
                    changes_module.validate_property_value(key, text)
            return attributes.AttributeChange(
                attributes.property_(key),
                _text_or_none(before, key),
                _text_or_none(after, key),
            )
        if kind == attributes.TAG:
            tag = entry.get('tag')
            if not isinstance(tag, str):
                raise ValueError('a tag change has no tag')
            changes_module.validate_tag(tag)
            if not isinstance(before, bool) or not isinstance(after, bool):
                raise ValueError(f'tag {tag}: expected true or false')
            return attributes.AttributeChange(
                attributes.tag(tag), before, after
            )
    except exceptions.CommandError as error:
        raise ValueError(str(error)) from error
    raise ValueError(f'unknown attribute {kind!r}')


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
            raise ValueError('a server entry has no id')
        changes = entry.get('changes')
        if not isinstance(changes, list):
            raise ValueError(f'server {entry["id"]}: no list of changes')
        return cls(
            id=entry['id'],
            name=str(entry.get('name') or ''),
            project_id=str(entry.get('project_id') or ''),
            hypervisor_hostname=entry.get('hypervisor_hostname'),
            changes=tuple(_change_from_json(change) for change in changes),
            result=str(entry.get('result') or PENDING),
            details=str(entry.get('details') or ''),
        )


@dataclasses.dataclass(frozen=True)
class Document:
    """A whole journal."""

    verb: str
    started_at: str
    endpoint: str
    hypervisors: tuple[hypervisors_module.Hypervisor, ...]
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
            raise ValueError(f'not a {FORMAT} document')
        if document.get('version') != VERSION:
            raise ValueError(
                f'version {document.get("version")!r}; this release reads '
                f'version {VERSION}'
            )
        hypervisors = document.get('hypervisors') or []
        servers = document.get('servers')
        if not isinstance(hypervisors, list) or not isinstance(servers, list):
            raise ValueError('no list of hypervisors or servers')
        return cls(
            verb=str(document.get('verb')),
            started_at=str(document.get('started_at')),
            endpoint=str(document.get('endpoint') or ''),
            hypervisors=tuple(
                hypervisors_module.Hypervisor(
                    id=str(h['id']), name=str(h['name']), host=h.get('host')
                )
                for h in hypervisors
            ),
            servers=tuple(ServerEntry.from_json(s) for s in servers),
            options=dict(document.get('options') or {}),
            restores=document.get('restores'),
            finished_at=document.get('finished_at'),
            interrupted=bool(document.get('interrupted')),
        )


def read(path: str) -> Document:
    """The journal at ``path``, checked; a one-line error otherwise."""
    try:
        with open(path, encoding='utf-8') as journal_file:
            raw = json.load(journal_file)
    except OSError as error:
        _fail(f'Cannot read journal {path}: {error.strerror}')
    except ValueError as error:
        _fail(f'Journal {path} is not JSON: {error}')
    try:
        return Document.from_json(raw)
    except (ValueError, KeyError, TypeError) as error:
        _fail(f'Journal {path} cannot be used: {error}')


def _entries(
    plans: Iterable[plan_module.ServerPlan],
) -> tuple[ServerEntry, ...]:
    return tuple(
        ServerEntry(
            id=plan.server.id,
            name=plan.server.name,
            project_id=plan.server.project_id,
            hypervisor_hostname=plan.server.hypervisor_hostname,
            changes=plan.changes,
        )
        for plan in plans
        if plan.calls
    )


def _write_private(path: pathlib.Path, text: str, exclusive: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else 0)
    descriptor = os.open(path, flags | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, 'w', encoding='utf-8') as journal_file:
        os.fchmod(journal_file.fileno(), PRIVATE_FILE)
        journal_file.write(text)
        journal_file.flush()
        os.fsync(journal_file.fileno())


def _sync_directory(directory: pathlib.Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _private_directory(directory: pathlib.Path) -> None:
    """Create the default journal directory, readable by its owner only."""
    for level in reversed([directory, *directory.parents]):
        if not level.exists():
            level.mkdir(mode=PRIVATE_DIRECTORY)
    for level in (directory, directory.parent):
        # Ours, whatever a umask or an older release made them.
        os.chmod(level, PRIVATE_DIRECTORY)


class Journal:
    """A journal file being written by a run."""

    def __init__(self, path: pathlib.Path, document: Document) -> None:
        self.path = path
        self.document = document

    @classmethod
    def write_ahead(
        cls,
        path: str | None,
        verb: str,
        endpoint: str,
        hypervisors: Sequence[hypervisors_module.Hypervisor],
        plans: Sequence[plan_module.ServerPlan],
        options: dict[str, object],
        restores: str | None = None,
    ) -> Journal:
        """Write what ``plans`` will replace, before any of it is sent.

        ``path`` None: a new file in the default directory. An existing
        file is never overwritten. Refuses with the path when it cannot
        write.
        """
        now = _now()
        document = Document(
            verb=verb,
            started_at=_timestamp(now),
            endpoint=endpoint,
            hypervisors=tuple(hypervisors),
            servers=_entries(plans),
            options=options,
            restores=restores,
        )
        text = json.dumps(document.to_json(), indent=2, ensure_ascii=False)
        if path is not None:
            target = pathlib.Path(path).absolute()
            candidates = [target]
        else:
            directory = journal_directory()
            try:
                _private_directory(directory)
            except OSError as error:
                _fail(
                    f'Cannot write the journal in {directory}: '
                    f'{error.strerror}; nothing was changed (choose a '
                    f'file with --journal)'
                )
            name = default_name(verb, [h.name for h in hypervisors], now)
            stem = name.removesuffix('.json')
            candidates = [directory / name] + [
                directory / f'{stem}-{number}.json' for number in range(2, 100)
            ]
        for candidate in candidates:
            try:
                _write_private(candidate, text, exclusive=True)
            except FileExistsError:
                continue
            except OSError as error:
                _fail(
                    f'Cannot write the journal {candidate}: '
                    f'{error.strerror}; nothing was changed'
                )
            _sync_directory(candidate.parent)
            return cls(candidate, document)
        _fail(
            f'Journal {candidates[-1]} already exists; nothing was changed '
            f'(a journal is never overwritten)'
        )

    def finish(self, report: executor.Report) -> None:
        """Record each server's result; replaces the file atomically."""
        results = {result.server.id: result for result in report.results}
        document = dataclasses.replace(
            self.document,
            finished_at=_timestamp(_now()),
            interrupted=report.interrupted,
            servers=tuple(
                dataclasses.replace(
                    entry,
                    result=str(results[entry.id].status),
                    details=results[entry.id].details,
                )
                if entry.id in results
                else entry
                for entry in self.document.servers
            ),
        )
        text = json.dumps(document.to_json(), indent=2, ensure_ascii=False)
        partial = self.path.with_name(f'.{self.path.name}.partial')
        _write_private(partial, text, exclusive=False)
        os.replace(partial, self.path)
        _sync_directory(self.path.parent)
        self.document = document
