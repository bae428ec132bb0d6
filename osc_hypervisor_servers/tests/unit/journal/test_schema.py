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

"""The journal's format, read back: what is refused, and why."""

import json
import os

import fixtures
from osc_lib import exceptions
import testtools

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.tests.unit import fakes


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
        changes = (
            attributes.AttributeChange(
                attributes.description(), 'web frontend', 'compute-7 down'
            ),
            attributes.AttributeChange(
                attributes.property_('maintenance'), 'tenant-value', None
            ),
            attributes.AttributeChange(attributes.tag('t'), False, True),
        )
        hypervisor = model.Hypervisor('id-7', 'compute-7', 'compute-7')
        written = schema.Document(
            verb='set',
            started_at='2026-12-01T08:00:00Z',
            endpoint=fakes.ENDPOINT,
            hypervisors=(hypervisor,),
            servers=(
                schema.ServerEntry('s1', 'web', 'p', 'compute-7', changes),
            ),
        )
        read = store.read(self.write_json(written.to_json()))
        self.assertEqual(written, read)

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
                exceptions.CommandError, store.read, path
            )
            self.assertIn(path, str(error))
            self.assertIn(reason, str(error))
            self.assertNotIn('\n', str(error))
