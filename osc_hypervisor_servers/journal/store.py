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

"""Journal files: written ahead of a run, then given its results.

A journal is written whole, and flushed to disk, after planning and
before the first write of the run: every server's values before and
after each change it is about to make. When the run ends it is replaced,
atomically, by the same document with each server's result. A run
killed at any point leaves a journal that undoes it: ``restore``
compares each value with what the server holds now, so it needs no
result.

Journals hold tenants' data (descriptions, property values): their
directory is 0700 and the file 0600.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import datetime
import json
import os
import pathlib
import re
import stat
import threading
import typing

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import reading
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import reporting

APPLICATION = 'osc-hypervisor-servers'
PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
_UNSAFE_IN_NAMES = re.compile(r'[^A-Za-z0-9._-]+')


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
    return moment.strftime(schema.TIME_FORMAT)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


#: Makes the journal entry that holds a server's result.
Recorder = typing.Callable[
    [schema.ServerEntry, reporting.ServerResult], schema.ServerEntry
]


def with_result(
    entry: schema.ServerEntry, result: reporting.ServerResult
) -> schema.ServerEntry:
    return dataclasses.replace(
        entry, result=str(result.status), details=result.details
    )


#: The largest journal read (a journal of 10,000 servers, every value
#: and detail at its longest, is 23 MB): anything larger is refused
#: before it is read, so that no file can fill the memory.
MAX_JOURNAL_BYTES = 128 * 1024 * 1024


def _contents(path: str) -> bytes:
    """The bytes of the regular file at ``path``, at most
    ``MAX_JOURNAL_BYTES`` of them.

    Opened without blocking and checked once open: a FIFO, a device
    (``/dev/zero``) or a directory is refused, never read from.
    """
    descriptor = os.open(
        path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    )
    too_large = (
        f'Journal {path} is larger than {MAX_JOURNAL_BYTES >> 20} MiB, the '
        f'most a journal is read'
    )
    status = os.fstat(descriptor)
    problem = None
    if not stat.S_ISREG(status.st_mode):
        problem = f'Journal {path} is not a regular file'
    elif status.st_size > MAX_JOURNAL_BYTES:
        problem = too_large
    if problem is not None:
        os.close(descriptor)
        errors.refuse(problem)
    with os.fdopen(descriptor, 'rb') as journal_file:
        # At most one byte more than the limit: it may grow meanwhile.
        contents = journal_file.read(MAX_JOURNAL_BYTES + 1)
    if len(contents) > MAX_JOURNAL_BYTES:
        errors.refuse(too_large)
    return contents


def read(path: str) -> schema.Document:
    """The journal at ``path``, checked; a one-line error otherwise."""
    try:
        raw = json.loads(_contents(path).decode('utf-8'))
    except OSError as error:
        errors.refuse(f'Cannot read journal {path}: {error.strerror}')
    except RecursionError:
        errors.refuse(f'Journal {path} is not JSON: nested too deeply')
    except ValueError as error:
        # UnicodeDecodeError included: a journal is UTF-8.
        errors.refuse(f'Journal {path} is not JSON: {error}')
    try:
        return schema.Document.from_json(raw)
    except reading.JournalError as error:
        errors.refuse(f'Journal {path} cannot be used: {error}')
    except RecursionError:
        errors.refuse(f'Journal {path} cannot be used: nested too deeply')


def check_endpoint(
    document: schema.Document, path: str, endpoint: str, any_endpoint: bool
) -> None:
    """Refuse a journal written against another compute endpoint, unless
    ``any_endpoint`` (the same cloud under another URL).
    """
    if not any_endpoint and document.endpoint != endpoint:
        errors.refuse(
            f'Journal {path} was written against {document.endpoint}, not '
            f'this cloud ({endpoint}); give --any-endpoint if they are the '
            f'same cloud'
        )


def _write_private(path: pathlib.Path, text: str, exclusive: bool) -> None:
    """Write ``text`` to a new file at ``path`` (``exclusive``: never over
    an existing one); a write that fails leaves no file behind.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    descriptor = os.open(
        path, flags | (os.O_EXCL if exclusive else 0), PRIVATE_FILE
    )
    try:
        with os.fdopen(descriptor, 'w', encoding='utf-8') as journal_file:
            os.fchmod(journal_file.fileno(), PRIVATE_FILE)
            journal_file.write(text)
            journal_file.flush()
            os.fsync(journal_file.fileno())
    except BaseException:
        # Half a journal is worse than none: it reads as a broken file.
        path.unlink(missing_ok=True)
        raise


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
            # Another first run may create it at the same moment.
            level.mkdir(mode=PRIVATE_DIRECTORY, exist_ok=True)
    for level in (directory, directory.parent):
        # Ours, whatever a umask or an older release made them.
        os.chmod(level, PRIVATE_DIRECTORY)


def _paths_to_try(
    path: str | None, document: schema.Document, now: datetime.datetime
) -> list[pathlib.Path]:
    """Where to write: ``path``, or new names in the default directory."""
    if path is not None:
        return [pathlib.Path(path).absolute()]
    directory = journal_directory()
    try:
        _private_directory(directory)
    except OSError as error:
        errors.refuse(
            f'Cannot write the journal in {directory}: {error.strerror}; '
            f'nothing was changed (choose a file with --journal)'
        )
    name = default_name(
        document.verb, [h.name for h in document.hypervisors], now
    )
    stem = name.removesuffix('.json')
    return [directory / name] + [
        directory / f'{stem}-{number}.json' for number in range(2, 100)
    ]


def _text(document: schema.Document) -> str:
    return json.dumps(document.to_json(), indent=2, ensure_ascii=False)


class Journal:
    """A journal file being written by a run; its tasks may revise it
    side by side.
    """

    def __init__(self, path: pathlib.Path, document: schema.Document) -> None:
        self.path = path
        self.document = document
        self._lock = threading.Lock()

    @classmethod
    def write_ahead(
        cls, path: str | None, document: schema.Document
    ) -> Journal:
        """Write ``document`` before any of its changes is sent.

        ``path`` None: a new file in the default directory. An existing
        file is never overwritten. Refuses with the path when it cannot
        write.
        """
        now = _now()
        document = dataclasses.replace(document, started_at=_timestamp(now))
        paths = _paths_to_try(path, document, now)
        for path_to_try in paths:
            try:
                _write_private(path_to_try, _text(document), exclusive=True)
            except FileExistsError:
                continue
            except OSError as error:
                errors.refuse(
                    f'Cannot write the journal {path_to_try}: '
                    f'{error.strerror}; nothing was changed'
                )
            _sync_directory(path_to_try.parent)
            return cls(path_to_try, document)
        errors.refuse(
            f'Journal {paths[-1]} already exists; nothing was changed '
            f'(a journal is never overwritten)'
        )

    def finish(
        self, report: reporting.Report, record: Recorder = with_result
    ) -> None:
        """Record each server's result (``record`` makes the entry that
        holds it); replaces the file atomically.
        """
        results = {result.server.id: result for result in report.results}
        with self._lock:
            self._replace(
                dataclasses.replace(
                    self.document,
                    finished_at=_timestamp(_now()),
                    interrupted=report.interrupted
                    or report.abandoned is not None,
                    servers=tuple(
                        record(entry, results[entry.id])
                        if entry.id in results
                        else entry
                        for entry in self.document.servers
                    ),
                )
            )

    def revise(self, revised: schema.ServerEntry) -> None:
        """Replace the entry of ``revised``'s server before the run writes
        what it now plans for it: the journal holds what each write
        replaces.
        """
        with self._lock:
            self._replace(
                dataclasses.replace(
                    self.document,
                    servers=tuple(
                        revised if entry.id == revised.id else entry
                        for entry in self.document.servers
                    ),
                )
            )

    def close(self, interrupted: bool) -> None:
        """Record that the run ended (``interrupted``: before its end),
        for a run that records where it stands with :meth:`update`.
        """
        with self._lock:
            self._replace(
                dataclasses.replace(
                    self.document,
                    finished_at=_timestamp(_now()),
                    interrupted=interrupted,
                )
            )

    def update(self, document: schema.Document) -> None:
        """Write ``document`` over the journal, as a run that records
        where it stands does.
        """
        with self._lock:
            self._replace(document)

    def _replace(self, document: schema.Document) -> None:
        """Write ``document`` over the journal, atomically: a failure
        leaves the journal as it was, and no other file.
        """
        partial = self.path.with_name(f'.{self.path.name}.partial')
        _write_private(partial, _text(document), exclusive=False)
        try:
            os.replace(partial, self.path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _sync_directory(self.path.parent)
        self.document = document


def new_document(
    wing: schema.Wing,
    verb: schema.Verb,
    endpoint: str,
    hypervisors: Sequence[model.Hypervisor],
    servers: Sequence[schema.ServerEntry],
    options: dict[str, object],
    restores: str | None = None,
    services: Sequence[schema.ServiceEntry] = (),
) -> schema.Document:
    """A journal's document before its run (its start times are set when
    it is written).
    """
    return schema.Document(
        wing=wing,
        verb=verb,
        started_at='',
        endpoint=endpoint,
        hypervisors=tuple(hypervisors),
        servers=tuple(servers),
        services=tuple(services),
        options=options,
        restores=restores,
    )


class WriteAhead:
    """The run's step that journals it (see :mod:`..runner.execution`).

    Writes the journal before anything else the run does, when the
    document holds any server or service, and records the results after
    the last task (``record`` makes each entry that holds its result).
    ``nova_clock``, when given, says Nova's time at the start.
    """

    def __init__(
        self,
        path: str | None,
        document: schema.Document,
        record: Recorder = with_result,
        nova_clock: typing.Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.requested_path = path
        self.document = document
        self.record = record
        self.nova_clock = nova_clock
        self.journal: Journal | None = None
        #: Why the results could not be recorded, if they could not.
        self.unrecorded: str | None = None

    @property
    def path(self) -> str | None:
        """The journal written, if any."""
        return None if self.journal is None else str(self.journal.path)

    def preview(self) -> str | None:
        return None

    def perform(self) -> None:
        if not (self.document.servers or self.document.services):
            return
        document = self.document
        if self.nova_clock is not None:
            document = dataclasses.replace(
                document, nova_started_at=_timestamp(self.nova_clock())
            )
        self.journal = Journal.write_ahead(self.requested_path, document)

    def revise(self, revised: schema.ServerEntry) -> None:
        """See :meth:`Journal.revise`; raises the OSError that kept it
        from being written.
        """
        if self.journal is not None:
            self.journal.revise(revised)

    def conclude(self, report: reporting.Report) -> None:
        if self.journal is None:
            return
        try:
            self.journal.finish(report, self.record)
        except OSError as error:
            # The journal written before the run still undoes it.
            self.unrecorded = error.strerror or str(error)
