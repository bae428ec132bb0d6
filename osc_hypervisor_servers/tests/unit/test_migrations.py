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

from openstack.compute.v2 import migration as sdk_migration
import requests
import testtools

from osc_hypervisor_servers import migrations
from osc_hypervisor_servers.tests.unit import fakes

T0 = datetime.datetime(2026, 12, 1, 8, 0, 0)


def sdk_record(
    number,
    status,
    server_id='s1',
    migration_type='live-migration',
    created=T0,
    updated=None,
    source='src-7',
    dest='dst-1',
):
    return sdk_migration.Migration.existing(
        id=number,
        uuid=f'uuid-{number}',
        instance_uuid=server_id,
        migration_type=migration_type,
        status=status,
        source_compute=source,
        dest_compute=dest,
        created_at=created.isoformat(),
        updated_at=updated.isoformat() if updated else None,
    )


def record(number, status, **kwargs):
    return migrations._record(sdk_record(number, status, **kwargs))


class TestClockAndRecords(testtools.TestCase):
    def test_clock_follows_nova(self):
        clock = migrations.NovaClock()
        response = requests.Response()
        response.headers['Date'] = 'Tue, 01 Dec 2026 08:00:00 GMT'
        clock.learn(response)
        self.assertLess(abs((clock.now() - T0).total_seconds()), 5)

    def test_bad_date_is_ignored(self):
        clock = migrations.NovaClock()
        response = requests.Response()
        response.headers['Date'] = 'yesterday'
        clock.learn(response)
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        self.assertLess(abs((clock.now() - now).total_seconds()), 5)

    def test_record(self):
        parsed = record(7, 'completed', updated=T0)
        self.assertEqual(7, parsed.id)
        self.assertEqual('uuid-7', parsed.uuid)
        self.assertEqual(T0, parsed.created_at)
        self.assertEqual('migration 7 completed', parsed.describe())

    def test_is_ours(self):
        since = T0 - datetime.timedelta(seconds=2)
        self.assertTrue(
            migrations.is_ours(
                record(1, 'queued'), 's1', 'live-migration', since
            )
        )
        for other in [
            record(2, 'queued', server_id='s2'),
            record(3, 'queued', migration_type='migration'),
            record(4, 'completed', created=T0 - datetime.timedelta(minutes=5)),
        ]:
            self.assertFalse(
                migrations.is_ours(other, 's1', 'live-migration', since)
            )

    def test_records_of_never_pages_with_a_limit(self):
        compute = fakes.make_compute()
        compute.migrations.return_value = [
            sdk_record(1, 'completed', created=T0),
            sdk_record(2, 'error', created=T0 + datetime.timedelta(1)),
        ]
        found = migrations.records_of(compute, 's1', fakes.no_wait_retry())
        self.assertEqual([2, 1], [r.id for r in found])
        compute.migrations.assert_called_once_with(server_id='s1')


class TestWatcher(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.compute = fakes.make_compute()
        self.watcher = migrations.Watcher(
            self.compute, fakes.no_wait_retry(), interval=0.01
        )
        self.addCleanup(self.watcher.close)
        self.since = T0 - datetime.timedelta(seconds=2)

    def wait(self, until=migrations.LIVE_DONE, stop=None, seconds=5):
        return self.watcher.wait(
            'src-7',
            's1',
            'live-migration',
            self.since,
            until,
            stop or threading.Event(),
            time.monotonic() + seconds,
        )

    def test_waits_until_the_record_says_done(self):
        updated = T0 + datetime.timedelta(seconds=1)
        self.compute.migrations.side_effect = [
            [],
            [sdk_record(1, 'queued', updated=updated)],
            [sdk_record(1, 'running', updated=updated)],
            [
                sdk_record(1, 'completed', updated=updated),
                # Another server's record, and an older one of this server.
                sdk_record(2, 'completed', server_id='s2', updated=updated),
                sdk_record(
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
        self.assertEqual(4, self.watcher.polls)

    def test_a_failure_ends_the_wait(self):
        self.compute.migrations.return_value = [sdk_record(1, 'error')]
        self.assertEqual('error', self.wait().status)

    def test_any_record_when_until_is_none(self):
        self.compute.migrations.return_value = [sdk_record(1, 'accepted')]
        self.assertEqual('accepted', self.wait(until=None).status)

    def test_stop_and_deadline_return_what_is_known(self):
        self.compute.migrations.return_value = [sdk_record(1, 'running')]
        stop = threading.Event()
        threading.Timer(0.1, stop.set).start()
        self.assertEqual('running', self.wait(stop=stop).status)
        self.assertEqual('running', self.wait(seconds=0.1).status)
        self.compute.migrations.return_value = []
        self.watcher._records.clear()
        self.assertIsNone(self.wait(seconds=0.05))

    def test_cursor_follows_the_newest_change_with_an_overlap(self):
        updated = T0 + datetime.timedelta(minutes=10)
        self.compute.migrations.side_effect = [
            [sdk_record(1, 'running', updated=updated)],
            [sdk_record(1, 'completed', updated=updated)],
        ]
        self.wait()
        first, second = self.compute.migrations.call_args_list
        self.assertEqual(
            (self.since - migrations._OVERLAP).isoformat(),
            first.kwargs['changes_since'],
        )
        self.assertEqual(
            (updated - migrations._OVERLAP).isoformat(),
            second.kwargs['changes_since'],
        )

    def test_a_bug_in_the_watcher_reaches_the_waiters(self):
        self.compute.migrations.side_effect = TypeError('bug')
        error = self.assertRaises(RuntimeError, self.wait)
        self.assertIsInstance(error.__cause__, TypeError)

    def test_a_failed_poll_is_tried_again(self):
        self.compute.migrations.side_effect = [
            fakes.http_error(500),
            [sdk_record(1, 'completed')],
        ]
        self.assertEqual('completed', self.wait().status)
