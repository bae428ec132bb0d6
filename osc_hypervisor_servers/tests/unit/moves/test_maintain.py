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

"""The pieces of ``maintain``: the command, waiting for a host to be back,
a turn's drains as one journal, and the turns in the journal format.
"""

import datetime
import json
import typing
from unittest import mock

import fixtures
import testtools

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import reading
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.moves import handover
from osc_hypervisor_servers.moves import turns
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.selection import lookup
from osc_hypervisor_servers.tests.unit import fakes

HYPERVISOR = model.Hypervisor('0c6a4b2e-7d31-4f7e-9b1c-2a5d8e6f7a90',
                              'node-7', 'compute-7')  # fmt: skip
ENDED = datetime.datetime(2026, 12, 1, 8, 0, 0)
SERVER_ID = '7d0b8f3c-1e2a-4b5c-8d9e-0f1a2b3c4d5e'


class TestCommand(testtools.TestCase):
    def test_environment_output_and_status(self):
        lines: list[str] = []
        command = handover.Command(
            'echo "$HYPERVISOR_NAME $COMPUTE_HOST"'
            ' "$HYPERVISOR_SERVERS_JOURNAL"; echo oops >&2; exit 4',
            '/tmp/j.json',
        )
        self.assertEqual(4, command.run(HYPERVISOR, lines.append))
        self.assertEqual(
            ['[node-7] node-7 compute-7 /tmp/j.json', '[node-7] oops'],
            sorted(lines),
        )


class TestWaitUntilBack(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.compute = mock.Mock()
        self.notices: list[str] = []
        self.context = invocation.RunContext(
            self.compute, fakes.no_wait_retry(), notify=self.notices.append
        )
        self.hypervisor_state = 'up'
        patcher = mock.patch.object(
            lookup,
            'find_hypervisor',
            lambda compute, reference, retry: model.Hypervisor(
                HYPERVISOR.id, 'node-7', 'compute-7',
                state=self.hypervisor_state,
            ),
        )  # fmt: skip
        patcher.start()
        self.addCleanup(patcher.stop)
        self.now = 0.0

    def heartbeats(self, *moments, state='up'):
        self.compute.services.side_effect = [
            [fakes.compute_service('compute-7', state=state, updated_at=at)]
            for at in moments
        ]

    def wait(self, timeout=60, check=None):
        def sleep(seconds):
            self.now += seconds

        return handover.wait_until_back(
            self.context,
            [HYPERVISOR],
            ENDED,
            handover.Waiting(timeout, check),
            sleep=sleep,
            clock=lambda: self.now,
        )

    def test_a_heartbeat_from_before_the_end_is_no_sign(self):
        # Up, as Nova shows a host that rebooted a moment ago.
        self.heartbeats(
            '2026-12-01T07:59:58.000000',
            '2026-12-01T08:00:00.500000',
            '2026-12-01T08:00:02.000000',
        )
        self.assertIsNone(self.wait())
        self.assertEqual(
            [
                'node-7: waiting: the compute service of compute-7 has not '
                'reported since the command ended'
            ],
            self.notices,
        )
        self.assertEqual(2.0, self.now)

    def test_not_back_in_time(self):
        self.heartbeats(*['2026-12-01T07:59:58'] * 6)
        problem = self.wait(timeout=5)
        self.assertEqual(
            'the compute service of compute-7 has not reported since the '
            'command ended after 5 s (--timeout)',
            problem,
        )

    def test_down_service_and_hypervisor(self):
        self.heartbeats(*['2026-12-01T08:00:05'] * 2, state='down')
        self.assertIn('is down', self.wait(timeout=1))
        self.heartbeats(*['2026-12-01T08:00:05'] * 2)
        self.hypervisor_state = 'down'
        self.assertEqual(
            'hypervisor node-7 is down after 1 s (--timeout)',
            self.wait(timeout=1),
        )

    def test_the_check_is_run_until_it_passes(self):
        self.heartbeats(*['2026-12-01T08:00:05'] * 3)
        marker = self.useFixture(fixtures.TempDir()).path + '/n'
        # Fails the first time, passes the second.
        check = handover.Command(
            f'test -e {marker} || {{ touch {marker}; exit 1; }}', 'j'
        )
        self.assertIsNone(self.wait(check=check))
        self.assertIn('node-7: waiting: --check exited 1', self.notices)


def drain_document(servers, services=(), started='2026-12-01T08:00:01Z'):
    return schema.Document(
        verb='migrate',
        started_at='2026-12-01T08:00:00Z',
        endpoint=fakes.ENDPOINT,
        hypervisors=(HYPERVISOR,),
        servers=tuple(servers),
        wing='moves',
        services=tuple(services),
        nova_started_at=started,
    )


def moved(destination):
    return schema.ServerEntry(
        SERVER_ID, 'web-1', 'p', 'node-7', compute_host='compute-7',
        status='ACTIVE', move=schema.MoveEntry('live', None, destination),
    )  # fmt: skip


class TestCombined(testtools.TestCase):
    def test_each_server_once_where_a_drain_says_it_went(self):
        service = schema.ServiceEntry(
            fakes.service_id('compute-7'),
            'compute-7',
            schema.ServiceState('enabled'),
            schema.ServiceState('disabled', turns.DISABLED_REASON),
        )
        killed = drain_document([moved('compute-3')], [service])
        resumed = drain_document([moved(None)], (), '2026-12-01T08:05:00Z')
        combined = turns.combined([killed, resumed])
        self.assertEqual((moved('compute-3'),), combined.servers)
        self.assertEqual((service,), combined.services)
        self.assertEqual('2026-12-01T08:00:01Z', combined.nova_started_at)
        self.assertEqual(
            (moved('compute-3'),),
            turns.combined([resumed, killed]).servers,
        )
        self.assertEqual((), turns.combined([killed], servers=False).servers)


class TestTurnsInTheJournal(testtools.TestCase):
    def document(self, **changes):
        turn = schema.Turn(
            (HYPERVISOR,), 'draining', ('/j/a.turn-1.drain-1.json',), ()
        )
        return schema.Document(
            verb='maintain', started_at='2026-12-01T08:00:00Z',
            endpoint=fakes.ENDPOINT, hypervisors=(HYPERVISOR,), servers=(),
            wing='moves', turns=(turn,), options={'exec': 'true'},
        )  # fmt: skip

    def test_round_trip_as_version_3(self):
        written = self.document().to_json()
        self.assertEqual(3, written['version'])
        self.assertEqual(
            self.document(), schema.Document.from_json(json.loads(
                json.dumps(written)))
        )  # fmt: skip

    def test_broken_turns_are_refused(self):
        good: dict[str, typing.Any] = self.document().to_json()
        changes: list[tuple[dict[str, typing.Any], str]] = [
            ({'turns': []}, 'turns are missing: maintain names its turns'),
            ({'verb': 'migrate'}, 'turns belong to maintain, not to migrate'),
        ]
        for change, reason in changes:
            error = self.assertRaises(
                reading.JournalError,
                schema.Document.from_json,
                {**good, **change},
            )
            self.assertIn(reason, str(error))
        for field, value, reason in [
            ('phase', 'rebooting', "'rebooting' is not one of waiting"),
            ('drains', [7], '7 is not a journal path'),
            ('drains', ['x'] * 101, 'names more than 100 journals'),
            ('hypervisors', [], 'hypervisors is empty'),
        ]:
            turn = {**good['turns'][0], field: value}
            error = self.assertRaises(
                reading.JournalError,
                schema.Document.from_json,
                dict(good, turns=[turn]),
            )
            self.assertIn(reason, str(error))
