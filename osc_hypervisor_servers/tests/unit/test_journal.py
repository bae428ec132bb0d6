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
import json
import os
import stat

import fixtures
from osc_lib import exceptions
import testtools

from osc_hypervisor_servers import attributes
from osc_hypervisor_servers import changes
from osc_hypervisor_servers import executor
from osc_hypervisor_servers import hypervisors
from osc_hypervisor_servers import journal
from osc_hypervisor_servers import plan
from osc_hypervisor_servers.tests.unit import fakes

COMPUTE_7 = hypervisors.Hypervisor('id-7', 'compute-7', 'compute-7')


def plans():
    change = changes.change_to_set(
        properties={'maintenance': 'yes'},
        description='compute-7 down',
        tags=['maintenance'],
    )
    return [
        plan.plan_server(
            fakes.server_state(
                's1',
                hypervisor='compute-7',
                description='web frontend',
                metadata={'maintenance': 'tenant-value'},
                tags=['maintenance', 'web'],
            ),
            change,
        ),
        plan.plan_server(
            fakes.server_state(
                's2',
                hypervisor='compute-7',
                description='compute-7 down',
                metadata={'maintenance': 'yes'},
                tags=['maintenance'],
            ),
            change,
        ),
    ]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class TestWriteAhead(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.state_home = self.useFixture(fakes.PrivateStateHome()).path

    def write(self, path=None, server_plans=None):
        return journal.Journal.write_ahead(
            path,
            'set',
            fakes.ENDPOINT,
            [COMPUTE_7],
            plans() if server_plans is None else server_plans,
            {'hypervisors': ['compute-7']},
        )

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
        self.assertEqual(1, document['version'])
        self.assertEqual('set', document['verb'])
        self.assertEqual(fakes.ENDPOINT, document['endpoint'])
        self.assertIsNone(document['finished_at'])
        self.assertEqual(
            [{'id': 'id-7', 'name': 'compute-7', 'host': 'compute-7'}],
            document['hypervisors'],
        )
        # Only servers the run changes; s2 already holds every value.
        (server,) = document['servers']
        self.assertEqual('s1', server['id'])
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
        server = plans()[0].server
        written.finish(
            executor.Report(
                [executor.ServerResult(server, executor.CHANGED, 'did it')]
            )
        )
        document = journal.read(str(written.path))
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
            str(journal.journal_directory()),
        )

    def test_default_name(self):
        now = datetime.datetime(2026, 12, 1, 8, 0, 5)
        self.assertEqual(
            '20261201T080005Z-unset-compute_7_x-and-2-more.json',
            journal.default_name('unset', ['compute/7 x', 'b', 'c'], now),
        )


class TestRead(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path

    def write_json(self, document):
        path = os.path.join(self.directory, 'j.json')
        with open(path, 'w') as journal_file:
            json.dump(document, journal_file)
        return path

    def document(self, **changes_by_server):
        return {
            'format': 'osc-hypervisor-servers-journal',
            'version': 1,
            'verb': 'set',
            'started_at': '2026-12-01T08:00:00Z',
            'endpoint': fakes.ENDPOINT,
            'hypervisors': [],
            'servers': [
                {'id': server_id, 'changes': server_changes}
                for server_id, server_changes in changes_by_server.items()
            ],
        }

    def test_round_trip(self):
        self.useFixture(fakes.PrivateStateHome())
        written = journal.Journal.write_ahead(
            None, 'set', fakes.ENDPOINT, [COMPUTE_7], plans(), {}
        )
        document = journal.read(str(written.path))
        self.assertEqual(
            (
                attributes.AttributeChange(
                    attributes.description(), 'web frontend', 'compute-7 down'
                ),
                attributes.AttributeChange(
                    attributes.property_('maintenance'), 'tenant-value', 'yes'
                ),
            ),
            document.servers[0].changes,
        )
        self.assertEqual((COMPUTE_7,), document.hypervisors)

    def test_refused_with_a_reason(self):
        for content, reason in [
            (None, 'No such file'),
            ('not json', 'not JSON'),
            ({'format': 'other'}, 'not a osc-hypervisor-servers-journal'),
            (dict(self.document(), version=2), 'version 2'),
            (
                self.document(s1=[{'attribute': 'colour'}]),
                "unknown attribute 'colour'",
            ),
            (
                self.document(
                    s1=[
                        {
                            'attribute': 'tag',
                            'tag': 'a/b',
                            'before': False,
                            'after': True,
                        }
                    ]
                ),
                "Invalid tag 'a/b'",
            ),
            (
                self.document(
                    s1=[
                        {
                            'attribute': 'property',
                            'key': 'k',
                            'before': 1,
                            'after': None,
                        }
                    ]
                ),
                'expected text or null',
            ),
        ]:
            if content is None:
                path = os.path.join(self.directory, 'absent.json')
            elif isinstance(content, str):
                path = os.path.join(self.directory, 'text.json')
                with open(path, 'w') as journal_file:
                    journal_file.write(content)
            else:
                path = self.write_json(content)
            error = self.assertRaises(
                exceptions.CommandError, journal.read, path
            )
            self.assertIn(path, str(error))
            self.assertIn(reason, str(error))
            self.assertNotIn('\n', str(error))
