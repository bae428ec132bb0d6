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


import datetime
import errno
import json
import os
import stat

import fixtures
from osc_lib import exceptions
import testtools

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
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
        error = self.assertRaises(exceptions.CommandError, self.write, path)
        self.assertIn(path, str(error))
        self.assertIn('already exists', str(error))

    def test_same_second_gets_another_name(self):
        first, second = self.write(), self.write()
        self.assertNotEqual(first.path, second.path)

    def test_unwritable_place_is_refused_with_its_path(self):
        path = os.path.join(self.state_home, 'no', 'such', 'dir', 'j.json')
        error = self.assertRaises(exceptions.CommandError, self.write, path)
        self.assertIn(path, str(error))
        self.assertIn('nothing was changed', str(error))
        self.assertNotIn('\n', str(error))

    def test_unwritable_default_directory_is_refused(self):
        blocker = os.path.join(self.state_home, 'osc-hypervisor-servers')
        with open(blocker, 'w'):
            pass
        error = self.assertRaises(exceptions.CommandError, self.write)
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

    def test_results_that_cannot_be_recorded_are_a_warning(self):
        step = store.WriteAhead(None, set_document())
        step.perform()
        self.useFixture(
            fixtures.MockPatch(
                'os.replace',
                side_effect=OSError(errno.ENOSPC, 'No space left on device'),
            )
        )
        step.conclude(self.report())
        self.assertIn(
            f'Could not record the results in journal {step.path}: '
            'No space left on device',
            self.logger.output,
        )
        # The journal written before the run is still there, whole.
        self.assertEqual(
            'pending', store.read(str(step.path)).servers[0].result
        )
