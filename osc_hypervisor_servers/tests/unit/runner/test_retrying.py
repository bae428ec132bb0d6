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

from unittest import mock

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions
import testtools

from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.tests.unit import fakes


class TestRetryPolicy(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.sleeps: list[float] = []
        self.policy = retrying.RetryPolicy(
            attempts=4,
            initial_delay=0.5,
            max_delay=8,
            sleep=self.sleeps.append,
        )

    def test_transient_faults_are_retried(self):
        for error in [
            fakes.http_error(429),
            fakes.http_error(502),
            fakes.http_error(503),
            fakes.http_error(504),
            ksa_exceptions.ConnectFailure('reset'),
            ksa_exceptions.UnknownConnectionError(
                'incomplete read', ConnectionResetError()
            ),
        ]:
            function = mock.Mock(side_effect=[error, 'done'])
            retried: list[BaseException] = []
            self.assertEqual(
                'done', self.policy.call(function, retried.append)
            )
            self.assertEqual([error], retried)

    def test_other_errors_are_not_retried(self):
        for error in [
            fakes.http_error(400),
            fakes.http_error(403),
            fakes.http_error(404),
            fakes.http_error(409),
            fakes.http_error(500),
            ksa_exceptions.SSLError('bad certificate'),
        ]:
            function = mock.Mock(side_effect=error)
            self.assertRaises(type(error), self.policy.call, function)
            function.assert_called_once_with()
        self.assertEqual([], self.sleeps)

    def test_gives_up_after_attempts(self):
        function = mock.Mock(side_effect=fakes.http_error(503))
        self.assertRaises(
            sdk_exceptions.HttpException, self.policy.call, function
        )
        self.assertEqual(4, function.call_count)
        self.assertEqual(3, len(self.sleeps))

    def test_backoff_is_jittered_capped_exponential(self):
        function = mock.Mock(side_effect=fakes.http_error(503))
        policy = retrying.RetryPolicy(
            attempts=8,
            initial_delay=0.5,
            max_delay=3,
            sleep=self.sleeps.append,
        )
        with mock.patch('random.uniform', side_effect=lambda low, high: high):
            self.assertRaises(
                sdk_exceptions.HttpException, policy.call, function
            )
        self.assertEqual([0.5, 1, 2, 3, 3, 3, 3], self.sleeps)

    def test_retry_after_is_honoured_and_capped(self):
        function = mock.Mock(
            side_effect=[
                fakes.http_error(503, headers={'Retry-After': '5'}),
                fakes.http_error(429, headers={'Retry-After': '3600'}),
                'done',
            ]
        )
        with mock.patch('random.uniform', return_value=0):
            self.assertEqual('done', self.policy.call(function))
        self.assertEqual([5, 8], self.sleeps)

    def test_retry_after_as_http_date(self):
        error = fakes.http_error(
            503, headers={'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT'}
        )
        self.assertEqual(0, retrying.retry_after_seconds(error))
        self.assertIsNone(retrying.retry_after_seconds(fakes.http_error(503)))
        self.assertIsNone(
            retrying.retry_after_seconds(ksa_exceptions.ConnectFailure('x'))
        )
