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
import testtools

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.tests.unit import fakes

SERVER_ID = '7d0b8f3c-1e2a-4b5c-8d9e-0f1a2b3c4d5e'
HYPERVISOR_ID = '0c6a4b2e-7d31-4f7e-9b1c-2a5d8e6f7a90'
SERVICE_ID = '573dc113-7f79-4afd-ab05-0eb86e2edde4'
TAG_CHANGE = {'attribute': 'tag', 'tag': 't', 'before': False, 'after': True}


def version_1(**server):
    """A journal of ``set``, as release 1 wrote it."""
    return {
        'format': 'osc-hypervisor-servers-journal',
        'version': 1,
        'verb': 'set',
        'started_at': '2026-12-01T08:00:00Z',
        'finished_at': None,
        'interrupted': False,
        'endpoint': fakes.ENDPOINT,
        'options': {},
        'restores': None,
        'hypervisors': [
            {'id': HYPERVISOR_ID, 'name': 'compute-7', 'host': 'compute-7'}
        ],
        'servers': [
            dict(
                {
                    'id': SERVER_ID,
                    'name': 'web-1',
                    'project_id': 'p',
                    'hypervisor_hostname': 'compute-7',
                    'changes': [TAG_CHANGE],
                    'result': 'pending',
                    'details': '',
                },
                **server,
            )
        ],
    }


def version_2(**server):
    """A journal of ``migrate``."""
    moved = {
        'compute_host': 'compute-7',
        'status': 'ACTIVE',
        'changes': [],
        'move': {
            'kind': 'live',
            'target': None,
            'destination': 'compute-3',
            'migration': 12,
        },
    }
    return dict(
        version_1(**dict(moved, **server)),
        version=2,
        wing='moves',
        verb='migrate',
        nova_started_at='2026-12-01T08:00:01Z',
        services=[
            {
                'id': SERVICE_ID,
                'host': 'compute-7',
                'before': {'status': 'enabled', 'disabled_reason': None},
                'after': {'status': 'disabled', 'disabled_reason': 'reboot'},
            }
        ],
    )


class TestRead(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.directory = self.useFixture(fixtures.TempDir()).path

    def write(self, content):
        path = os.path.join(self.directory, 'j.json')
        with open(path, 'w') as journal_file:
            if isinstance(content, str):
                journal_file.write(content)
            else:
                json.dump(content, journal_file)
        return path

    def assertRefused(self, content, reason):
        path = self.write(content)
        error = self.assertRaises(errors.Refused, store.read, path)
        self.assertIn(path, str(error))
        self.assertIn(reason, str(error))
        self.assertNotIn('\n', str(error))

    def test_version_1_is_read(self):
        document = store.read(self.write(version_1()))
        self.assertEqual('marks', document.wing)
        (server,) = document.servers
        self.assertEqual(
            (attributes.AttributeChange(attributes.tag('t'), False, True),),
            server.changes,
        )
        self.assertIsNone(server.move)
        self.assertEqual((), document.services)

    def test_version_2_is_read(self):
        document = store.read(self.write(version_2()))
        self.assertEqual(('moves', 'migrate'), (document.wing, document.verb))
        (server,) = document.servers
        self.assertEqual(
            schema.MoveEntry('live', None, 'compute-3', 12), server.move
        )
        self.assertEqual(
            ('compute-7', 'ACTIVE'), (server.compute_host, server.status)
        )
        (service,) = document.services
        self.assertEqual(
            schema.ServiceState('disabled', 'reboot'), service.after
        )

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
        hypervisor = model.Hypervisor(HYPERVISOR_ID, 'compute-7', 'compute-7')
        for written in (
            schema.Document(
                verb='set',
                started_at='2026-12-01T08:00:00Z',
                endpoint=fakes.ENDPOINT,
                hypervisors=(hypervisor,),
                servers=(
                    schema.ServerEntry(
                        SERVER_ID, 'web', 'p', 'compute-7', changes
                    ),
                ),
            ),
            store.read(self.write(version_2())),
        ):
            self.assertEqual(
                written, store.read(self.write(written.to_json()))
            )

    def test_files_that_are_no_journal(self):
        for content, reason in [
            ('', 'is not JSON'),
            (json.dumps(version_2())[:200], 'is not JSON'),
            ('not json', 'is not JSON'),
            ('[]', 'not a osc-hypervisor-servers-journal'),
            ({'format': 'other'}, 'not a osc-hypervisor-servers-journal'),
            (dict(version_2(), version=4), 'version 4; this release reads'),
            (dict(version_2(), version='2'), "version '2'"),
        ]:
            self.assertRefused(content, reason)
        path = os.path.join(self.directory, 'absent.json')
        error = self.assertRaises(errors.Refused, store.read, path)
        self.assertIn('No such file', str(error))

    def test_server_ids_are_uuids(self):
        for journal in (version_1, version_2):
            for server_id, shown in [
                ('../../os-services', "'../../os-services' is not a UUID"),
                ('', "'' is not a UUID"),
                (7, '7 is not a UUID'),
                (None, 'None is not a UUID'),
            ]:
                self.assertRefused(
                    journal(id=server_id), f'a server: id {shown}'
                )
            document = journal()
            del document['servers'][0]['id']
            self.assertRefused(document, 'a server: id None is not a UUID')

    def test_every_field_has_its_type_and_limits(self):
        where = f'server {SERVER_ID}'
        for content, reason in [
            (version_1(name=['web']), f'{where}: name is not text'),
            (version_1(name='n' * 256), f'{where}: name is longer than 255'),
            (version_1(changes={}), f'{where}: changes is not a list'),
            (
                version_1(changes=[{'attribute': 'colour'}]),
                "attribute 'colour' is not one of description, property, tag",
            ),
            (
                version_1(changes=[dict(TAG_CHANGE, tag='a/b')]),
                "Invalid tag 'a/b'",
            ),
            (
                version_1(changes=[dict(TAG_CHANGE, before='no')]),
                'before is not true or false',
            ),
            (
                version_1(
                    changes=[
                        {
                            'attribute': 'property',
                            'key': 'k',
                            'before': 1,
                            'after': None,
                        }
                    ]
                ),
                'before is not text',
            ),
            (
                dict(version_1(), started_at='yesterday'),
                "started_at 'yesterday' is not a time",
            ),
            (dict(version_1(), verb='drop'), "verb 'drop' is not one of"),
            (dict(version_1(), hypervisors={}), 'hypervisors is not a list'),
            (
                dict(version_2(), wing='both'),
                "wing 'both' is not one of marks, moves",
            ),
            (
                version_2(move={'kind': 'teleport'}),
                "move: kind 'teleport' is not one of live, cold, evacuate",
            ),
            (
                version_2(move={'kind': 'live', 'migration': '12'}),
                "migration '12' is not a migration ID",
            ),
            (
                version_2(move={'kind': 'cold', 'destination': 5}),
                'destination is not text',
            ),
            (
                dict(
                    version_2(),
                    services=[dict(version_2()['services'][0], id='x')],
                ),
                "the service of compute-7: id 'x' is not a UUID",
            ),
            (
                dict(
                    version_2(),
                    services=[
                        dict(
                            version_2()['services'][0],
                            after={'status': 'off'},
                        )
                    ],
                ),
                "after: status 'off' is not one of enabled, disabled",
            ),
        ]:
            self.assertRefused(content, reason)
