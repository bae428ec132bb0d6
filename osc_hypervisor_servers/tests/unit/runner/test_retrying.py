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


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class TestReachability(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.told: list[str] = []
        self.reach = retrying.Reachability(
            60, self.told.append, clock=self.clock
        )
        self.policy = retrying.RetryPolicy(
            attempts=3,
            initial_delay=1,
            max_delay=10,
            sleep=self.clock.sleep,
            reachability=self.reach,
        )
        self.refused = ksa_exceptions.ConnectFailure('Connection refused')

    def test_an_outage_is_waited_out_to_the_patience_then_given_up(self):
        function = mock.Mock(side_effect=self.refused)
        error = self.assertRaises(
            retrying.NovaUnreachable, self.policy.call, function
        )
        self.assertFalse(error.unsent)
        self.assertEqual(
            'Nova did not answer for 60 s (connection refused or cut)',
            str(error),
        )
        self.assertGreater(function.call_count, 3)
        # Its tries end with the patience, not long after it.
        self.assertLessEqual(self.clock.now, 1000 + 60 + 1)
        self.assertEqual(
            [
                'Nova does not answer (connection refused or cut): trying '
                'again for up to 60 s from its last answer'
            ],
            self.told,
        )
        self.assertIn('Nova did not answer', self.policy.given_up() or '')
        # Once given up, no call is sent at all.
        later = mock.Mock()
        error = self.assertRaises(
            retrying.NovaUnreachable, self.policy.call, later
        )
        self.assertTrue(error.unsent)
        later.assert_not_called()

    def test_a_cloud_that_comes_back(self):
        function = mock.Mock(side_effect=[self.refused] * 6 + ['done'])
        self.assertEqual('done', self.policy.call(function))
        self.assertEqual(
            [
                'Nova does not answer (connection refused or cut): trying '
                'again for up to 60 s from its last answer',
                'Nova answers again',
            ],
            self.told,
        )
        self.assertIsNone(self.policy.given_up())

    def test_a_call_that_fails_while_others_get_answers_fails(self):
        def unavailable_while_others_answer():
            self.reach.answered()
            raise fakes.http_error(503)

        function = mock.Mock(side_effect=unavailable_while_others_answer)
        self.assertRaises(
            sdk_exceptions.HttpException, self.policy.call, function
        )
        self.assertEqual(3, function.call_count)
        self.assertEqual([], self.told)

    def test_faults_within_the_attempts_say_nothing(self):
        function = mock.Mock(side_effect=[self.refused, 'done'])
        self.assertEqual('done', self.policy.call(function))
        self.assertEqual([], self.told)

    def test_an_error_answer_is_an_answer(self):
        self.reach.silent(self.refused)
        other = mock.Mock(side_effect=fakes.http_error(409))
        self.assertRaises(
            sdk_exceptions.ConflictException, self.policy.call, other
        )
        self.assertEqual('Nova answers again', self.told[-1])

    def test_an_api_that_answers_its_probe_is_not_down(self):
        # Every write 503, but the version document answers: the call
        # fails on its own, after its attempts.
        reach = retrying.Reachability(
            60, self.told.append, probe=lambda: 200, clock=self.clock
        )
        policy = retrying.RetryPolicy(
            attempts=3, sleep=self.clock.sleep, reachability=reach
        )
        function = mock.Mock(side_effect=fakes.http_error(503))
        self.assertRaises(sdk_exceptions.HttpException, policy.call, function)
        self.assertEqual(3, function.call_count)
        self.assertEqual([], self.told)

    def test_an_api_whose_probe_fails_too_is_down(self):
        def probe():
            raise ksa_exceptions.ConnectFailure('refused')

        reach = retrying.Reachability(
            60, self.told.append, probe=probe, clock=self.clock
        )
        policy = retrying.RetryPolicy(
            attempts=3, sleep=self.clock.sleep, reachability=reach
        )
        function = mock.Mock(side_effect=[self.refused] * 5 + ['done'])
        self.assertEqual('done', policy.call(function))
        self.assertEqual(2, len(self.told))
