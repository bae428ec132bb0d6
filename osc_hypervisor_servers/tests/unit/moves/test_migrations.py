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

import requests
import testtools

from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.tests.unit import fakes

T0 = fakes.NOVA_NOW


def record(number, status, **kwargs):
    return migrations.Record.from_sdk(
        fakes.sdk_record(number, status, **kwargs)
    )


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

    def test_is_of(self):
        since = T0 - datetime.timedelta(seconds=2)
        self.assertTrue(
            record(1, 'queued').is_of('s1', 'live-migration', since)
        )
        for other in [
            record(2, 'queued', server_id='s2'),
            record(3, 'queued', migration_type='migration'),
            record(4, 'completed', created=T0 - datetime.timedelta(minutes=5)),
        ]:
            self.assertFalse(other.is_of('s1', 'live-migration', since))

    def test_a_record_without_creation_time_is_left_out(self):
        compute = fakes.make_compute(fakes.FakeNova())
        nameless = fakes.sdk_record(1, 'completed')
        nameless.created_at = None
        compute.migrations.return_value = [
            nameless,
            fakes.sdk_record(2, 'completed'),
        ]
        found = migrations.records_of(compute, 's1', fakes.no_wait_retry())
        self.assertEqual([2], [r.id for r in found])

    def test_records_of_never_pages_with_a_limit(self):
        compute = fakes.make_compute(fakes.FakeNova())
        compute.migrations.return_value = [
            fakes.sdk_record(1, 'completed', created=T0),
            fakes.sdk_record(2, 'error', created=T0 + datetime.timedelta(1)),
        ]
        found = migrations.records_of(compute, 's1', fakes.no_wait_retry())
        self.assertEqual([2, 1], [r.id for r in found])
        compute.migrations.assert_called_once_with(server_id='s1')
