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

"""Planning the undo of a drain is pure: no HTTP, no mock."""

import datetime

import testtools

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import undo
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.tests.unit import fakes

SERVER_ID = '7d0b8f3c-1e2a-4b5c-8d9e-0f1a2b3c4d5e'
STARTED = fakes.NOVA_NOW


def entry(destination='compute-3', migration=None, status='ACTIVE'):
    return schema.ServerEntry(
        id=SERVER_ID,
        name='web-1',
        project_id='p',
        hypervisor_hostname='compute-7',
        compute_host='compute-7',
        status=status,
        move=schema.MoveEntry('live', None, destination, migration),
    )


def now_on(host, status='ACTIVE', task_state=None):
    return fakes.server_state(
        SERVER_ID, hypervisor=host, status=status, task_state=task_state
    )


def staying(plan):
    assert isinstance(plan, planning.StayPlan), plan
    return plan.status, plan.reason


def moving(plan):
    assert isinstance(plan, planning.MovePlan), plan
    return plan


UP = {'compute-7': fakes.compute_service_state('compute-7')}


class TestPlanBack(testtools.TestCase):
    def test_where_the_drain_put_it_it_goes_back(self):
        plan = undo.plan_back(entry(), now_on('compute-3'), 'compute-3', UP)
        self.assertEqual(
            planning.MovePlan(
                now_on('compute-3'), kinds.LIVE, 'compute-7', back=True
            ),
            plan,
        )

    def test_a_move_back_under_way_is_followed(self):
        # A killed restore's move back, still going on in Nova.
        plan = moving(
            undo.plan_back(
                entry(),
                now_on('compute-3', task_state='migrating'),
                'compute-3',
                UP,
            )
        )
        self.assertEqual(
            (kinds.LIVE, 'compute-7', True, True),
            (plan.kind, plan.target, plan.underway, plan.back),
        )

    def test_a_server_of_another_project_stays(self):
        admins = model.ServerState.from_nova(
            fakes.nova_server(
                'compute-3', server_id=SERVER_ID, project_id='admin'
            )
        )
        self.assertEqual(
            (
                reporting.SKIPPED,
                'not touched: the server is in project admin, the journal '
                'recorded project p',
            ),
            staying(undo.plan_back(entry(), admins, 'compute-3', UP)),
        )

    def test_a_stopped_server_goes_back_cold_and_stays_stopped(self):
        # An evacuation (2.95+) left it stopped.
        plan = moving(
            undo.plan_back(
                entry(), now_on('compute-3', 'SHUTOFF'), 'compute-3', UP
            )
        )
        self.assertEqual(kinds.COLD, plan.kind)
        self.assertEqual('it was ACTIVE before the run', plan.note)

    def test_what_stays(self):
        gone = undo.plan_back(entry(), None, 'compute-3', UP)
        back = undo.plan_back(entry(), now_on('compute-7'), 'compute-3', UP)
        moved = undo.plan_back(entry(), now_on('compute-5'), 'compute-3', UP)
        never = undo.plan_back(entry(None), now_on('compute-5'), None, UP)
        busy = undo.plan_back(
            entry(),
            now_on('compute-3', task_state='image_snapshot'),
            'compute-3',
            UP,
        )
        self.assertEqual(
            [
                (reporting.GONE, 'the server no longer exists'),
                (reporting.UNCHANGED, 'already on compute-7'),
                (verdicts.KEPT, 'kept: now on compute-5, moved since the run'),
                (
                    verdicts.KEPT,
                    'kept: now on compute-5, not moved by the run',
                ),
                (reporting.SKIPPED, 'ACTIVE: task image_snapshot in progress'),
            ],
            [staying(plan) for plan in (gone, back, moved, never, busy)],
        )
        # A row for a server that is gone, from what the journal knows.
        self.assertEqual('web-1', gone.server.name)

    def test_a_host_that_cannot_take_it_back(self):
        for service, reason in [
            (None, 'compute-7 has no single nova-compute service'),
            (
                fakes.compute_service_state('compute-7', state='down'),
                'the compute service of compute-7 is down',
            ),
            (
                fakes.compute_service_state(
                    'compute-7', status='disabled', disabled_reason='disk'
                ),
                'the compute service of compute-7 is disabled (disk): once it '
                'may take servers, openstack compute service set --enable '
                'compute-7 nova-compute',
            ),
        ]:
            plan = undo.plan_back(
                entry(),
                now_on('compute-3'),
                'compute-3',
                {'compute-7': service},
            )
            self.assertEqual(
                (reporting.SKIPPED, f'not moved back: {reason}'),
                staying(plan),
            )


def record(number, status='completed', source='compute-7', **kwargs):
    return migrations.Record.from_sdk(
        fakes.sdk_record(
            number, status, server_id=SERVER_ID, source=source, **kwargs
        )
    )


class TestTheDrainsOwnRecord(testtools.TestCase):
    def test_the_journal_names_it(self):
        found = undo.drain_record(
            entry(migration=2), [record(1), record(2), record(3)], None
        )
        self.assertEqual(2, found and found.id)

    def test_a_killed_run_the_first_since_it_started(self):
        before = STARTED - datetime.timedelta(minutes=5)
        later = STARTED + datetime.timedelta(minutes=5)
        records = [
            record(1, created=before),
            record(3, created=later, source='compute-3'),
            record(2, created=STARTED),
            record(4, created=STARTED, migration_type='migration'),
        ]
        found = undo.drain_record(entry(None), records, STARTED)
        self.assertEqual(2, found and found.id)
        self.assertIsNone(undo.drain_record(entry(None), records[:1], STARTED))

    def test_where_the_drain_put_it(self):
        self.assertEqual('compute-3', undo.destination(entry(), None))
        self.assertEqual('dst-1', undo.destination(entry(None), record(1)))
        self.assertIsNone(undo.destination(entry(None), record(1, 'error')))
        self.assertIsNone(undo.destination(entry(None), None))


class TestServices(testtools.TestCase):
    def service_entry(self):
        return schema.ServiceEntry(
            id=fakes.service_id('compute-7'),
            host='compute-7',
            before=schema.ServiceState('enabled'),
            after=schema.ServiceState('disabled', 'reboot'),
        )

    def test_still_as_the_run_left_it_is_put_back(self):
        disabled = fakes.compute_service_state(
            'compute-7', status='disabled', disabled_reason='reboot'
        )
        undone = undo.ServiceUndo(self.service_entry(), disabled)
        self.assertTrue(undone.holds)
        after = undo.services_after([undone], {'compute-7': disabled})
        self.assertEqual(
            fakes.compute_service_state('compute-7'), after['compute-7']
        )

    def test_changed_since_is_left_alone(self):
        for now in [
            fakes.compute_service_state(
                'compute-7', status='disabled', disabled_reason='disk'
            ),
            fakes.compute_service_state('compute-7'),
            None,
        ]:
            undone = undo.ServiceUndo(self.service_entry(), now)
            self.assertFalse(undone.holds)
            self.assertEqual(
                {'compute-7': now},
                undo.services_after([undone], {'compute-7': now}),
            )
