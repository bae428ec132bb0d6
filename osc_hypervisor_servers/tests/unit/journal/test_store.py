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


import dataclasses
import datetime
import errno
import json
import os
import stat
import uuid

import fixtures
import testtools

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.tests.unit import fakes

HYPERVISOR_ID = '0c6a4b2e-7d31-4f7e-9b1c-2a5d8e6f7a90'
SERVER_ID = '7d0b8f3c-1e2a-4b5c-8d9e-0f1a2b3c4d5e'
COMPUTE_7 = model.Hypervisor(HYPERVISOR_ID, 'compute-7', 'compute-7')
CHANGES = (
    attributes.AttributeChange(
        attributes.description(), 'web frontend', 'compute-7 down'
    ),
    attributes.AttributeChange(
        attributes.property_('maintenance'), 'tenant-value', 'yes'
    ),
)


def entries():
    return [
        schema.ServerEntry(
            id=SERVER_ID,
            name='web-1',
            project_id='p',
            hypervisor_hostname='compute-7',
            changes=CHANGES,
        )
    ]


def set_document(servers=None):
    return store.new_document(
        'marks',
        'set',
        fakes.ENDPOINT,
        [COMPUTE_7],
        entries() if servers is None else servers,
        {'hypervisors': ['compute-7']},
    )


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class TestWriteAhead(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.state_home = self.useFixture(fakes.PrivateStateHome()).path

    def write(self, path=None):
        return store.Journal.write_ahead(path, set_document())

    def test_default_place_and_modes(self):
        written = self.write()
        directory = os.path.join(
            self.state_home, 'osc-hypervisor-servers', 'journal'
        )
        self.assertEqual(directory, str(written.path.parent))
        self.assertRegex(
            written.path.name, r'^\d{8}T\d{6}Z-set-compute-7\.json$'
        )
        self.assertEqual(0o700, mode(directory))
        self.assertEqual(0o700, mode(os.path.dirname(directory)))
        self.assertEqual(0o600, mode(written.path))

    def test_what_it_holds_before_the_run(self):
        written = self.write()
        with open(written.path) as journal_file:
            document = json.load(journal_file)
        self.assertEqual('osc-hypervisor-servers-journal', document['format'])
        self.assertEqual(2, document['version'])
        self.assertEqual('marks', document['wing'])
        self.assertEqual('set', document['verb'])
        self.assertEqual(fakes.ENDPOINT, document['endpoint'])
        self.assertIsNone(document['finished_at'])
        self.assertEqual(
            [{'id': HYPERVISOR_ID, 'name': 'compute-7', 'host': 'compute-7'}],
            document['hypervisors'],
        )
        (server,) = document['servers']
        self.assertEqual(SERVER_ID, server['id'])
        self.assertEqual('pending', server['result'])
        self.assertEqual(
            [
                {
                    'attribute': 'description',
                    'before': 'web frontend',
                    'after': 'compute-7 down',
                },
                {
                    'attribute': 'property',
                    'key': 'maintenance',
                    'before': 'tenant-value',
                    'after': 'yes',
                },
            ],
            server['changes'],
        )

    def test_finish_records_results(self):
        written = self.write()
        server = fakes.server_state(SERVER_ID)
        written.finish(
            reporting.Report(
                [reporting.ServerResult(server, reporting.CHANGED, 'did it')]
            )
        )
        document = store.read(str(written.path))
        self.assertEqual('changed', document.servers[0].result)
        self.assertEqual('did it', document.servers[0].details)
        self.assertIsNotNone(document.finished_at)
        self.assertEqual(0o600, mode(written.path))
        self.assertEqual([written.path.name], os.listdir(written.path.parent))

    def test_never_overwrites(self):
        path = os.path.join(self.state_home, 'mine.json')
        first = self.write(path)
        self.assertEqual(path, str(first.path))
        error = self.assertRaises(errors.Refused, self.write, path)
        self.assertIn(path, str(error))
        self.assertIn('already exists', str(error))

    def test_same_second_gets_another_name(self):
        first, second = self.write(), self.write()
        self.assertNotEqual(first.path, second.path)

    def test_unwritable_place_is_refused_with_its_path(self):
        path = os.path.join(self.state_home, 'no', 'such', 'dir', 'j.json')
        error = self.assertRaises(errors.Refused, self.write, path)
        self.assertIn(path, str(error))
        self.assertIn('nothing was changed', str(error))
        self.assertNotIn('\n', str(error))

    def test_unwritable_default_directory_is_refused(self):
        blocker = os.path.join(self.state_home, 'osc-hypervisor-servers')
        with open(blocker, 'w'):
            pass
        error = self.assertRaises(errors.Refused, self.write)
        self.assertIn(blocker, str(error))
        self.assertIn('--journal', str(error))

    def test_state_home_default(self):
        self.useFixture(
            fixtures.EnvironmentVariable('XDG_STATE_HOME', 'relative')
        )
        self.assertEqual(
            os.path.expanduser(
                '~/.local/state/osc-hypervisor-servers/journal'
            ),
            str(store.journal_directory()),
        )

    def test_default_name(self):
        now = datetime.datetime(2026, 12, 1, 8, 0, 5)
        self.assertEqual(
            '20261201T080005Z-unset-compute_7_x-and-2-more.json',
            store.default_name('unset', ['compute/7 x', 'b', 'c'], now),
        )


class TestWriteAheadStep(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.state_home = self.useFixture(fakes.PrivateStateHome()).path
        self.logger = self.useFixture(fixtures.FakeLogger())

    def report(self):
        return reporting.Report(
            [
                reporting.ServerResult(
                    fakes.server_state(SERVER_ID), reporting.CHANGED
                )
            ]
        )

    def test_nothing_to_journal_writes_nothing(self):
        step = store.WriteAhead(None, set_document(servers=[]))
        step.perform()
        step.conclude(self.report())
        self.assertIsNone(step.path)
        self.assertFalse(os.path.exists(store.journal_directory()))

    def test_results_that_cannot_be_recorded_leave_the_journal_whole(self):
        step = store.WriteAhead(None, set_document())
        step.perform()
        self.useFixture(
            fixtures.MockPatch(
                'os.replace',
                side_effect=OSError(errno.ENOSPC, 'No space left on device'),
            )
        )
        step.conclude(self.report())
        self.assertEqual('No space left on device', step.unrecorded)
        # The journal written before the run is still there, whole, and
        # nothing else.
        self.assertEqual(
            'pending', store.read(str(step.path)).servers[0].result
        )
        self.assertEqual(
            [os.path.basename(str(step.path))],
            os.listdir(os.path.dirname(str(step.path))),
        )

    def test_recorded_results(self):
        step = store.WriteAhead(None, set_document())
        step.perform()
        step.conclude(self.report())
        self.assertIsNone(step.unrecorded)
        self.assertEqual(
            'changed', store.read(str(step.path)).servers[0].result
        )


class TestFailedWrites(testtools.TestCase):
    """A write that fails leaves no half-written file behind."""

    def setUp(self):
        super().setUp()
        self.state_home = self.useFixture(fakes.PrivateStateHome()).path

    def fail_writes(self):
        self.useFixture(
            fixtures.MockPatch(
                'os.fsync',
                side_effect=OSError(errno.ENOSPC, 'No space left on device'),
            )
        )

    def test_a_refused_write_ahead_leaves_no_file(self):
        path = os.path.join(self.state_home, 'mine.json')
        self.fail_writes()
        error = self.assertRaises(
            errors.Refused,
            store.Journal.write_ahead,
            path,
            set_document(),
        )
        self.assertIn(
            'No space left on device; nothing was changed', str(error)
        )
        self.assertEqual([], os.listdir(self.state_home))

    def test_a_failed_rewrite_leaves_the_journal_and_no_partial(self):
        written = store.Journal.write_ahead(None, set_document())
        before = written.path.read_text()
        self.fail_writes()
        self.assertRaises(
            OSError,
            written.revise,
            dataclasses.replace(entries()[0], changes=()),
        )
        self.assertEqual(before, written.path.read_text())
        self.assertEqual([written.path.name], os.listdir(written.path.parent))


class TestRevise(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.state_home = self.useFixture(fakes.PrivateStateHome()).path

    def test_the_entry_of_one_server_is_replaced(self):
        other = dataclasses.replace(
            entries()[0], id='5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b'
        )
        written = store.Journal.write_ahead(
            None, set_document(servers=[entries()[0], other])
        )
        revised = dataclasses.replace(entries()[0], changes=CHANGES[1:])
        written.revise(revised)
        document = store.read(str(written.path))
        self.assertEqual((revised, other), document.servers)


class TestRead(testtools.TestCase):
    """A journal is untrusted input: bounded, and a regular file."""

    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path

    def refused(self, path):
        error = self.assertRaises(errors.Refused, store.read, path)
        self.assertNotIn('\n', str(error))
        self.assertIn(path, str(error))
        return str(error)

    def write(self, contents, name='journal.json'):
        path = os.path.join(self.directory, name)
        with open(path, 'wb') as journal_file:
            journal_file.write(contents)
        return path

    def test_a_device_is_never_read(self):
        self.assertIn('not a regular file', self.refused('/dev/zero'))

    def test_a_fifo_is_never_opened_for_a_writer(self):
        path = os.path.join(self.directory, 'fifo')
        os.mkfifo(path)
        self.assertIn('not a regular file', self.refused(path))

    def test_a_directory(self):
        self.assertIn('not a regular file', self.refused(self.directory))

    def test_too_large(self):
        self.useFixture(
            fixtures.MockPatchObject(store, 'MAX_JOURNAL_BYTES', 100)
        )
        path = self.write(b' ' * 101)
        self.assertIn('larger than', self.refused(path))

    def test_too_large_is_refused_before_it_is_read(self):
        path = self.write(b'')
        os.truncate(path, store.MAX_JOURNAL_BYTES + 1)
        self.useFixture(
            fixtures.MockPatch('os.fdopen', side_effect=AssertionError('read'))
        )
        self.assertIn('larger than 128 MiB', self.refused(path))

    def test_nested_too_deeply(self):
        path = self.write(b'[' * 100_000 + b']' * 100_000)
        self.assertIn('nested too deeply', self.refused(path))

    def test_not_utf_8(self):
        path = self.write(b'{"format": "\xff"}')
        self.assertIn('is not JSON', self.refused(path))

    def test_ten_thousand_servers_are_read_far_below_the_limit(self):
        # Names at their longest, and a row's details as long as a set
        # of every attribute at its longest makes them.
        servers = [
            dataclasses.replace(
                entries()[0],
                id=str(uuid.UUID(int=number)),
                name='n' * 255,
                details='d' * 1100,
            )
            for number in range(10_000)
        ]
        path = os.path.join(self.directory, 'large.json')
        store.Journal.write_ahead(path, set_document(servers=servers))
        self.assertLess(os.path.getsize(path) * 2, store.MAX_JOURNAL_BYTES)
        self.assertEqual(10_000, len(store.read(path).servers))


class TestDirectory(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.state_home = self.useFixture(fakes.PrivateStateHome()).path

    def test_created_by_another_run_meanwhile(self):
        # Both runs saw no directory; the other one created it first.
        real_exists = os.path.exists
        directory = store.journal_directory()
        self.useFixture(
            fixtures.MockPatch(
                'pathlib.Path.exists',
                lambda level: (
                    False
                    if str(level).startswith(str(directory.parent))
                    else real_exists(level)
                ),
            )
        )
        os.makedirs(directory)
        written = store.Journal.write_ahead(None, set_document())
        self.assertEqual(directory, written.path.parent)
