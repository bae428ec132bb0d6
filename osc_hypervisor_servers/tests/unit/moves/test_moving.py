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


import threading
from unittest import mock

import fixtures
from keystoneauth1 import exceptions as ksa_exceptions
from openstack.compute.v2 import server_action as sdk_server_action
import testtools

from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import moving
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import tracking
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.tests.unit import fakes

T0 = fakes.NOVA_NOW


class FakeWatcher:
    """Answers each wait with the next record of ``records``."""

    def __init__(self, *records, moved_from=None):
        self.records = list(records)
        self.waits = []
        self.learnt = []
        #: Called as the last record is answered.
        self.last = lambda: None
        #: What the watcher saw of a move from the server's host.
        self.seen = moved_from
        self.answered = None

    def moved_from(self, server_id, host, since):
        return self.seen

    def latest(self, key):
        return self.answered

    def wait(self, key, until, stop, deadline):
        self.waits.append((key.host, key.migration_type, until))
        if stop.is_set() or not self.records:
            return None
        if len(self.records) == 1:
            self.last()
        self.answered = self.records.pop(0)
        return self.answered

    def learn(self, records):
        self.learnt.extend(records)


def live(number, status, **kwargs):
    return migrations.Record.from_sdk(
        fakes.sdk_record(number, status, **kwargs)
    )


def cold(number, status):
    return live(number, status, migration_type='migration')


class MoveTaskTestCase(fakes.ComputeTestCase):
    def setUp(self):
        super().setUp()
        self.where(self.server_on('src-7', 'ACTIVE'))
        self.clock = migrations.NovaClock()

    def server_on(self, host, status, task_state=None):
        return fakes.nova_server(
            host, server_id='s1', status=status, task_state=task_state
        )

    def where(self, *answers):
        """What successive reads of the server find."""
        self.nova.reads['s1'] = list(answers)

    def run_task(
        self, kind, watcher, status='ACTIVE', stop=None, target=None, **waiting
    ):
        task = moving.MoveTask(
            planning.MovePlan(
                fakes.server_state('s1', hypervisor='src-7', status=status),
                kind,
                target,
                note='it was PAUSED before the run',
            ),
            move_options.Waiting(**{"timeout": 60, **waiting}),
            tracking.Tracking(
                self.compute, self.retry, watcher, self.clock, '2.100'
            ),
        )
        return task.run(stop or threading.Event())

    def posts(self):
        return [call.kwargs['json'] for call in self.compute.post.mock_calls]


class TestMoveTask(MoveTaskTestCase):
    def test_live_migration_that_completed(self):
        self.where(self.server_on('dst-1', 'ACTIVE'))
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'completed')))
        self.assertEqual(verdicts.MIGRATED, result.status)
        self.assertEqual(
            {
                'Action': 'live migration',
                'Destination': 'dst-1',
                'Migration': '5',
            },
            dict(result.columns()),
        )
        self.assertEqual(
            [{'os-migrateLive': {'host': None, 'block_migration': 'auto'}}],
            self.posts(),
        )
        self.compute.post.assert_called_once_with(
            '/servers/s1/action', json=mock.ANY, microversion='2.100'
        )

    def test_rolled_back_is_failed_with_novas_reason(self):
        self.compute.server_actions.return_value = [
            sdk_server_action.ServerAction.existing(
                action='live-migration',
                request_id='req-1',
                start_time='2026-12-01T08:00:00',
            )
        ]
        self.compute.get_server_action.return_value = (
            sdk_server_action.ServerAction.existing(
                action='live-migration',
                request_id='req-1',
                message='Error',
                events=[
                    {
                        'event': 'conductor_live_migrate_instance',
                        'result': 'Error',
                        'details': 'No valid host was found. ',
                    }
                ],
            )
        )
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'error')))
        self.assertEqual(reporting.FAILED, result.status)
        self.assertEqual(
            'migration 5 error: conductor_live_migrate_instance: No valid '
            'host was found.; still on src-7',
            result.details,
        )
        self.compute.get_server_action.assert_called_once_with('req-1', 's1')

    def test_record_completed_but_server_still_there_is_failed(self):
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'completed')))
        self.assertEqual(reporting.FAILED, result.status)
        self.assertIn('still on src-7', result.details)

    def test_a_named_target_must_be_where_it_ends(self):
        self.where(self.server_on('dst-2', 'ACTIVE'))
        result = self.run_task(
            kinds.LIVE, FakeWatcher(live(5, 'completed')), target='dst-1'
        )
        self.assertEqual(
            (
                reporting.FAILED,
                'migration 5 completed, but the server is on dst-2, not on '
                'dst-1',
            ),
            (result.status, result.details),
        )
        self.where(self.server_on('dst-1', 'ACTIVE'))
        result = self.run_task(
            kinds.LIVE, FakeWatcher(live(5, 'completed')), target='dst-1'
        )
        self.assertEqual(verdicts.MIGRATED, result.status)
        self.assertIn('; it was PAUSED before the run', result.details)
        self.assertEqual('dst-1', result.destination_host)

    def test_power_state_must_be_kept(self):
        self.where(self.server_on('dst-1', 'ERROR'))
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'completed')))
        self.assertEqual(reporting.FAILED, result.status)
        self.assertIn(
            'the server is ERROR on dst-1, it was ACTIVE', result.details
        )

    def test_cold_migration_is_confirmed(self):
        self.where(
            self.server_on('dst-1', 'VERIFY_RESIZE'),
            self.server_on('dst-1', 'SHUTOFF'),
        )
        result = self.run_task(
            kinds.COLD,
            FakeWatcher(cold(6, 'finished'), cold(6, 'confirmed')),
            status='SHUTOFF',
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual(
            [{'migrate': None}, {'confirmResize': None}], self.posts()
        )

    def test_lost_answer_of_a_confirmation_that_landed(self):
        self.compute.post.side_effect = [
            fakes.action_response(),
            ksa_exceptions.ConnectFailure('connection reset'),
        ]
        self.where(
            self.server_on('dst-1', 'VERIFY_RESIZE'),
            # Read after the lost answer: no longer waiting to be
            # confirmed, so it is not confirmed twice.
            self.server_on('dst-1', 'SHUTOFF', task_state='resize_confirming'),
            self.server_on('dst-1', 'SHUTOFF'),
        )
        result = self.run_task(
            kinds.COLD,
            FakeWatcher(cold(6, 'finished'), cold(6, 'confirmed')),
            status='SHUTOFF',
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual(
            [{'migrate': None}, {'confirmResize': None}], self.posts()
        )

    def test_no_confirm_leaves_verify_resize(self):
        self.where(self.server_on('dst-1', 'VERIFY_RESIZE'))
        watcher = FakeWatcher(cold(6, 'finished'))
        result = self.run_task(
            kinds.COLD, watcher, status='SHUTOFF', confirm=False
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertIn('not confirmed (--no-confirm)', result.details)
        self.assertEqual([{'migrate': None}], self.posts())

    def test_judged_once_the_server_shows_the_confirmation(self):
        self.useFixture(
            fixtures.MockPatchObject(tracking, '_READ_PAUSE_SECONDS', 0)
        )
        # Nova saves the record's "confirmed" before the server's state.
        lagging = self.server_on('dst-1', 'VERIFY_RESIZE')
        self.where(
            lagging, lagging, lagging, self.server_on('dst-1', 'SHUTOFF')
        )
        result = self.run_task(
            kinds.COLD,
            FakeWatcher(cold(6, 'finished'), cold(6, 'confirmed')),
            status='SHUTOFF',
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual(1, len(self.nova.reads['s1']))

    def test_judged_once_the_server_awaits_the_confirmation(self):
        self.useFixture(
            fixtures.MockPatchObject(tracking, '_READ_PAUSE_SECONDS', 0)
        )
        self.where(
            self.server_on('dst-1', 'SHUTOFF', task_state='resize_finish'),
            self.server_on('dst-1', 'VERIFY_RESIZE'),
        )
        result = self.run_task(
            kinds.COLD,
            FakeWatcher(cold(6, 'finished')),
            status='SHUTOFF',
            confirm=False,
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertIn('not confirmed (--no-confirm)', result.details)

    def test_a_server_that_never_shows_the_end_is_failed(self):
        self.useFixture(
            fixtures.MockPatchObject(tracking, 'CATCH_UP_SECONDS', 0)
        )
        self.where(self.server_on('dst-1', 'VERIFY_RESIZE'))
        result = self.run_task(
            kinds.COLD,
            FakeWatcher(cold(6, 'finished'), cold(6, 'confirmed')),
            status='SHUTOFF',
        )
        self.assertEqual(
            (
                reporting.FAILED,
                'migration 6 confirmed: the server is VERIFY_RESIZE on '
                'dst-1, it was SHUTOFF',
            ),
            (result.status, result.details),
        )

    def test_ctrl_c_before_the_server_shows_the_end(self):
        stop = threading.Event()
        watcher = FakeWatcher(cold(6, 'finished'), cold(6, 'confirmed'))
        # Ctrl-C as the record of the confirmation arrives.
        watcher.last = lambda: stop.set()
        self.where(self.server_on('dst-1', 'VERIFY_RESIZE'))
        result = self.run_task(
            kinds.COLD, watcher, status='SHUTOFF', stop=stop
        )
        self.assertEqual(
            (
                verdicts.IN_PROGRESS,
                'interrupted while Nova moves it (migration 6 confirmed); '
                'Nova goes on',
            ),
            (result.status, result.details),
        )

    def test_evacuation_to_a_target(self):
        self.where(self.server_on('dst-2', 'SHUTOFF'))
        result = self.run_task(
            kinds.EVACUATE,
            FakeWatcher(live(7, 'done', migration_type='evacuation')),
        )
        self.assertEqual(verdicts.EVACUATED, result.status, result.details)
        self.assertIn('SHUTOFF on dst-2', result.details)

    def test_lost_answer_of_a_move_that_landed_is_not_sent_again(self):
        self.compute.post.side_effect = [
            ksa_exceptions.ConnectFailure('connection reset'),
        ]
        self.where(
            self.server_on('src-7', 'MIGRATING', task_state='migrating'),
            self.server_on('dst-1', 'ACTIVE'),
        )
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'completed')))
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual(1, self.compute.post.call_count)

    def test_lost_answer_of_a_move_that_ended_fast(self):
        # No task state, still on the source: only its record tells.
        self.compute.post.side_effect = [
            ksa_exceptions.ConnectFailure('connection reset'),
        ]
        self.compute.migrations.return_value = [
            fakes.sdk_record(5, 'error', created=T0)
        ]
        self.clock = mock.Mock(now=mock.Mock(return_value=T0))
        self.compute.server_actions.return_value = []
        watcher = FakeWatcher(live(5, 'error'))
        result = self.run_task(kinds.LIVE, watcher)
        self.assertEqual(reporting.FAILED, result.status)
        self.assertEqual(1, self.compute.post.call_count)
        self.assertEqual([5], [record.id for record in watcher.learnt])

    def test_lost_answer_of_a_move_that_did_not_land_is_sent_again(self):
        self.compute.post.side_effect = [
            fakes.http_error(503),
            fakes.action_response(),
        ]
        self.compute.migrations.return_value = []
        self.where(
            self.server_on('src-7', 'ACTIVE'),
            self.server_on('dst-1', 'ACTIVE'),
        )
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'completed')))
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual(2, self.compute.post.call_count)

    def test_refusal_after_a_lost_answer_that_landed(self):
        self.compute.post.side_effect = [
            ksa_exceptions.ConnectFailure('connection reset'),
            fakes.http_error(
                409, "Cannot 'os-migrateLive' while in task_state migrating"
            ),
        ]
        # Not yet moving at the first look, moving at the second.
        self.compute.migrations.return_value = []
        self.where(
            self.server_on('src-7', 'ACTIVE'),
            self.server_on('src-7', 'MIGRATING', task_state='migrating'),
            self.server_on('dst-1', 'ACTIVE'),
        )
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'completed')))
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)

    def test_refused_at_once(self):
        self.compute.post.return_value = fakes.action_response(409)
        result = self.run_task(kinds.LIVE, FakeWatcher())
        self.assertEqual(reporting.FAILED, result.status)
        self.assertTrue(result.details.startswith('live migration: HTTP 409'))

    def test_no_wait_reports_the_migration(self):
        watcher = FakeWatcher(live(5, 'accepted'))
        result = self.run_task(kinds.LIVE, watcher, wait=False)
        self.assertEqual(verdicts.SUBMITTED, result.status)
        self.assertEqual('5', result.columns()['Migration'])
        self.assertEqual([('src-7', 'live-migration', None)], watcher.waits)

    def test_ctrl_c_while_nova_moves_it(self):
        stop = threading.Event()
        stop.set()
        result = self.run_task(kinds.LIVE, FakeWatcher(), stop=stop)
        self.assertEqual(verdicts.IN_PROGRESS, result.status)
        self.assertIn('Nova goes on', result.details)

    def test_timed_out(self):
        result = self.run_task(
            kinds.LIVE, FakeWatcher(live(5, 'running')), timeout=1
        )
        self.assertEqual(reporting.TIMED_OUT, result.status)
        self.assertEqual(
            'not done after 1 s (migration 5 running)', result.details
        )
        self.assertEqual('5', result.columns()['Migration'])

    def test_server_gone(self):
        self.compute.post.return_value = fakes.action_response(404)
        self.nova.reads.clear()
        result = self.run_task(kinds.LIVE, FakeWatcher())
        self.assertEqual(
            (reporting.GONE, 'the server no longer exists'),
            (result.status, result.details),
        )

    def test_server_gone_while_it_moves(self):
        self.nova.reads.clear()
        result = self.run_task(kinds.LIVE, FakeWatcher(live(5, 'completed')))
        self.assertEqual(
            (reporting.GONE, 'the server no longer exists'),
            (result.status, result.details),
        )


class TestRows(testtools.TestCase):
    def test_rows(self):
        server = fakes.server_state()
        moving = verdicts.preview(
            planning.MovePlan(server, kinds.COLD, target='dst-2')
        )
        self.assertEqual(verdicts.WOULD_MIGRATE, moving.status)
        self.assertEqual('cold migration to dst-2', moving.details)
        staying = verdicts.staying(planning.StayPlan(server, 'ERROR: no'))
        self.assertEqual(reporting.SKIPPED, staying.status)
        self.assertFalse(staying.status.ok)
        evacuating = verdicts.preview(
            planning.MovePlan(server, kinds.EVACUATE)
        )
        self.assertEqual(verdicts.WOULD_EVACUATE, evacuating.status)
        self.assertEqual(
            'evacuation to a host the scheduler picks', evacuating.details
        )


class TestAnotherRequest(MoveTaskTestCase):
    """A server another request moves: followed, never moved again."""

    def run_plan(self, watcher, **plan):
        task = moving.MoveTask(
            planning.MovePlan(
                fakes.server_state('s1', hypervisor='src-7'),
                plan.pop('kind', kinds.LIVE),
                **plan,
            ),
            move_options.Waiting(timeout=60),
            tracking.Tracking(
                self.compute, self.retry, watcher, self.clock, '2.100'
            ),
        )
        return task.run(threading.Event())

    def records(self, *records):
        self.compute.migrations.return_value = list(records)

    def test_refused_for_its_task_state_then_followed(self):
        self.compute.post.return_value = fakes.json_response(
            {'conflictingRequest': {'message': 'task_state migrating'}}, 409
        )
        self.where(
            self.server_on('src-7', 'MIGRATING', task_state='migrating'),
            self.server_on('dst-1', 'ACTIVE'),
        )
        self.records(fakes.sdk_record(8, 'running', server_id='s1'))
        watcher = FakeWatcher(live(8, 'completed', server_id='s1'))
        result = self.run_plan(watcher)
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual(
            'live migration by another request (migration 8 completed), '
            'to dst-1',
            result.details,
        )
        self.assertEqual(
            ('dst-1', '8'),
            (result.columns()['Destination'], result.columns()['Migration']),
        )
        # One move sent, Nova's refusal; none again.
        self.assertEqual(1, len(self.posts()))

    def test_a_race_answered_500_is_followed_too(self):
        self.compute.post.return_value = fakes.json_response(
            {'computeFault': {'message': 'UnexpectedTaskStateError'}}, 500
        )
        self.where(
            self.server_on('src-7', 'MIGRATING', task_state='migrating'),
            self.server_on('dst-1', 'ACTIVE'),
        )
        self.records(fakes.sdk_record(8, 'running', server_id='s1'))
        result = self.run_plan(
            FakeWatcher(live(8, 'completed', server_id='s1'))
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)

    def test_a_refusal_of_a_server_that_is_not_busy_is_failed(self):
        self.compute.post.return_value = fakes.json_response(
            {'conflictingRequest': {'message': 'locked'}}, 409
        )
        result = self.run_plan(FakeWatcher())
        self.assertEqual(reporting.FAILED, result.status)
        self.assertIn('HTTP 409', result.details)

    def test_moved_since_the_listing_is_not_moved_again(self):
        moved = fakes.sdk_record(9, 'completed', server_id='s1', dest='dst-2')
        self.where(self.server_on('dst-2', 'ACTIVE'))
        self.records(moved)
        watcher = FakeWatcher(moved_from=migrations.Record.from_sdk(moved))
        result = self.run_plan(watcher)
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertIn('by another request (migration 9', result.details)
        self.assertEqual([], self.posts())

    def test_an_old_record_of_a_server_still_there_lets_the_run_move_it(self):
        old = live(3, 'completed', server_id='s1')
        self.where(
            self.server_on('src-7', 'ACTIVE'),
            self.server_on('dst-1', 'ACTIVE'),
        )
        result = self.run_plan(
            FakeWatcher(live(5, 'completed'), moved_from=old)
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual(1, len(self.posts()))

    def test_a_move_under_way_when_planned_is_followed(self):
        self.where(
            self.server_on('src-7', 'MIGRATING', task_state='migrating'),
            self.server_on('dst-1', 'ACTIVE'),
        )
        self.records(fakes.sdk_record(8, 'queued', server_id='s1'))
        result = self.run_plan(
            FakeWatcher(live(8, 'completed', server_id='s1')), underway=True
        )
        self.assertEqual(verdicts.MIGRATED, result.status, result.details)
        self.assertEqual([], self.posts())

    def test_another_move_that_failed_is_said_to_be_anothers(self):
        self.compute.server_actions.return_value = []
        self.where(
            self.server_on('src-7', 'MIGRATING', task_state='migrating'),
            self.server_on('src-7', 'ACTIVE'),
        )
        self.records(fakes.sdk_record(8, 'running', server_id='s1'))
        result = self.run_plan(
            FakeWatcher(live(8, 'error', server_id='s1')), underway=True
        )
        self.assertEqual(
            (
                reporting.FAILED,
                'live migration by another request: migration 8 error: '
                'Nova recorded no reason; still on src-7',
            ),
            (result.status, result.details),
        )
        self.assertEqual([], self.posts())

    def test_a_restore_whose_server_another_request_took_elsewhere(self):
        self.where(
            self.server_on('src-7', 'MIGRATING', task_state='migrating'),
            self.server_on('dst-3', 'ACTIVE'),
        )
        self.records(fakes.sdk_record(8, 'running', server_id='s1'))
        result = self.run_plan(
            FakeWatcher(live(8, 'completed', server_id='s1')),
            underway=True,
            target='dst-1',
            back=True,
        )
        self.assertEqual(verdicts.KEPT, result.status, result.details)
        self.assertIn(
            'kept: moved to dst-3 by another request', result.details
        )

    def test_another_task_is_not_a_move(self):
        self.where(
            self.server_on('src-7', 'ACTIVE', task_state='image_snapshot')
        )
        self.compute.post.return_value = fakes.json_response({}, 409)
        result = self.run_plan(FakeWatcher())
        self.assertEqual(
            (reporting.SKIPPED, 'ACTIVE: task image_snapshot in progress'),
            (result.status, result.details),
        )


class TestNovaUnreachable(MoveTaskTestCase):
    def test_not_started_when_the_run_gave_up_before(self):
        self.compute.post.side_effect = retrying.NovaUnreachable(
            'Nova did not answer for 300 s', unsent=True
        )
        result = self.run_task(kinds.LIVE, FakeWatcher())
        self.assertEqual(
            (
                reporting.NOT_ATTEMPTED,
                'not started: Nova did not answer for 300 s',
            ),
            (result.status, result.details),
        )

    def test_in_progress_when_it_gave_up_while_following(self):
        class GivingUp(FakeWatcher):
            def wait(self, key, until, stop, deadline):
                self.answered = live(5, 'running')
                raise retrying.NovaUnreachable('Nova did not answer for 300 s')

        result = self.run_task(kinds.LIVE, GivingUp())
        self.assertEqual(
            (
                verdicts.IN_PROGRESS,
                'Nova did not answer for 300 s; Nova goes on with the move '
                '(migration 5 running)',
            ),
            (result.status, result.details),
        )
