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
import threading
import time

import fixtures
import testtools

from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.tests.unit import fakes

T0 = fakes.NOVA_NOW


class TestWatcher(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.compute = fakes.make_compute(fakes.FakeNova())
        self.watcher = self.new_watcher()
        self.since = T0 - datetime.timedelta(seconds=2)

    def new_watcher(self):
        watcher = watching.Watcher(
            self.compute, fakes.no_wait_retry(), interval=0.01
        )
        self.addCleanup(watcher.close)
        return watcher

    def wait(self, until=kinds.LIVE.done_statuses, stop=None, seconds=5):
        return self.watcher.wait(
            watching.MoveKey('src-7', 's1', 'live-migration', self.since),
            until,
            stop or threading.Event(),
            time.monotonic() + seconds,
        )

    def test_waits_until_the_record_says_done(self):
        updated = T0 + datetime.timedelta(seconds=1)
        self.compute.migrations.side_effect = [
            [],
            [fakes.sdk_record(1, 'queued', updated=updated)],
            [fakes.sdk_record(1, 'running', updated=updated)],
            [
                fakes.sdk_record(1, 'completed', updated=updated),
                # Another server's record, and an older one of this server.
                fakes.sdk_record(
                    2, 'completed', server_id='s2', updated=updated
                ),
                fakes.sdk_record(
                    3,
                    'error',
                    created=T0 - datetime.timedelta(hours=1),
                    updated=updated,
                ),
            ],
        ]
        done = self.wait()
        self.assertEqual((1, 'completed'), (done.id, done.status))
        # One list per poll of the source host, filtered there.
        self.assertEqual(4, self.compute.migrations.call_count)
        for call in self.compute.migrations.call_args_list:
            self.assertEqual('src-7', call.kwargs['source_compute'])
            self.assertNotIn('limit', call.kwargs)

    def test_a_failure_ends_the_wait(self):
        self.compute.migrations.return_value = [fakes.sdk_record(1, 'error')]
        self.assertEqual('error', self.wait().status)

    def test_any_record_when_until_is_none(self):
        self.compute.migrations.return_value = [
            fakes.sdk_record(1, 'accepted')
        ]
        self.assertEqual('accepted', self.wait(until=None).status)

    def test_stop_and_deadline_return_what_is_known(self):
        self.compute.migrations.return_value = [fakes.sdk_record(1, 'running')]
        stop = threading.Event()
        threading.Timer(0.1, stop.set).start()
        self.assertEqual('running', self.wait(stop=stop).status)
        self.assertEqual('running', self.wait(seconds=0.1).status)
        self.compute.migrations.return_value = []
        self.watcher = self.new_watcher()
        self.assertIsNone(self.wait(seconds=0.05))

    def test_cursor_follows_the_newest_change_with_an_overlap(self):
        updated = T0 + datetime.timedelta(minutes=10)
        self.compute.migrations.side_effect = [
            [fakes.sdk_record(1, 'running', updated=updated)],
            [fakes.sdk_record(1, 'completed', updated=updated)],
        ]
        self.wait()
        first, second = self.compute.migrations.call_args_list
        self.assertEqual(
            (self.since - watching.OVERLAP).isoformat(),
            first.kwargs['changes_since'],
        )
        self.assertEqual(
            (updated - watching.OVERLAP).isoformat(),
            second.kwargs['changes_since'],
        )

    def test_a_bug_in_the_watcher_reaches_the_waiters(self):
        self.compute.migrations.side_effect = TypeError('bug')
        error = self.assertRaises(RuntimeError, self.wait)
        self.assertIsInstance(error.__cause__, TypeError)

    def test_a_failed_poll_is_tried_again(self):
        self.compute.migrations.side_effect = [
            fakes.http_error(500),
            [fakes.sdk_record(1, 'completed')],
        ]
        self.assertEqual('completed', self.wait().status)

    def test_moves_of_another_request_known_before_the_first_wait(self):
        self.compute.migrations.return_value = [
            fakes.sdk_record(4, 'completed', source='src-7'),
            fakes.sdk_record(5, 'completed', server_id='s2', source='src-7'),
        ]
        record = self.watcher.moved_from('s1', 'src-7', T0)
        self.assertEqual(4, record.id)
        # The first asks Nova, from OVERLAP before; the next know.
        self.assertIsNone(self.watcher.moved_from('s3', 'src-7', T0))
        (poll,) = self.compute.migrations.mock_calls
        self.assertEqual(
            (T0 - watching.OVERLAP).isoformat(), poll.kwargs['changes_since']
        )

    def test_a_run_that_gave_up_on_nova_ends_every_wait(self):
        self.compute.migrations.side_effect = retrying.NovaUnreachable(
            'Nova did not answer for 300 s'
        )
        self.assertRaises(retrying.NovaUnreachable, self.wait)

    def test_a_failed_poll_is_logged_once_while_it_fails_alike(self):
        logger = self.useFixture(fixtures.FakeLogger())
        self.compute.migrations.side_effect = [fakes.http_error(500)] * 5 + [
            [fakes.sdk_record(1, 'completed')]
        ]
        self.assertEqual('completed', self.wait().status)
        self.assertEqual(
            1, logger.output.count('Could not list the migrations')
        )
