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

from keystoneauth1 import exceptions as ksa_exceptions
import testtools

from osc_hypervisor_servers import execute
from osc_hypervisor_servers import plan
from osc_hypervisor_servers.tests.unit import fakes


def server_plan(server_id, *calls, **kwargs):
    return plan.ServerPlan(
        fakes.server_state(server_id, **kwargs), tuple(calls)
    )


class TestApplyPlan(fakes.ComputeTestCase):
    def test_calls_in_order(self):
        result = execute.apply_plan(
            self.compute,
            server_plan(
                's1',
                plan.UpdateDescription('d'),
                plan.SetProperties({'server': 'x'}),
                plan.RemoveProperty('a b'),
                plan.AddTag('a?b'),
                plan.RemoveTag('t#1'),
            ),
            self.retry,
        )
        self.assertEqual(execute.CHANGED, result.result)
        self.assertEqual(
            [
                mock.call.update_server('s1', description='d'),
                mock.call.post(
                    'servers/s1/metadata', json={'metadata': {'server': 'x'}}
                ),
                mock.call.delete_server_metadata('s1', ['a%20b']),
                mock.call.add_tag_to_server('s1', 'a%3Fb'),
                mock.call.remove_tag_from_server('s1', 't%231'),
            ],
            self.compute.mock_calls,
        )

    def test_failure_stops_this_server_and_says_why(self):
        self.compute.add_tag_to_server.side_effect = fakes.http_error(
            409, "Cannot 'add tag' instance while it is in vm_state error"
        )
        result = execute.apply_plan(
            self.compute,
            server_plan(
                's1',
                plan.UpdateDescription('d'),
                plan.AddTag('t'),
                plan.AddTag('u'),
            ),
            self.retry,
        )
        self.assertEqual(execute.FAILED, result.result)
        self.assertEqual(
            "add tag t: HTTP 409: Cannot 'add tag' instance while it is in "
            "vm_state error; done before: set description 'd'",
            result.details,
        )
        self.compute.add_tag_to_server.assert_called_once_with('s1', 't')

    def test_retries_are_reported(self):
        self.compute.update_server.side_effect = [
            fakes.http_error(503),
            ksa_exceptions.ConnectFailure('reset'),
            None,
        ]
        result = execute.apply_plan(
            self.compute,
            server_plan('s1', plan.UpdateDescription('d')),
            self.retry,
        )
        self.assertEqual(execute.CHANGED, result.result)
        self.assertEqual(
            "set description 'd' (after 2 retries)", result.details
        )

    def test_retry_budget_exhausted(self):
        self.compute.update_server.side_effect = fakes.http_error(503, 'busy')
        result = execute.apply_plan(
            self.compute,
            server_plan('s1', plan.UpdateDescription('d')),
            self.retry,
        )
        self.assertEqual(execute.FAILED, result.result)
        self.assertEqual(
            "set description 'd': HTTP 503: busy (after 2 retries)",
            result.details,
        )
        self.assertEqual(3, self.compute.update_server.call_count)

    def test_programming_errors_surface(self):
        self.compute.update_server.side_effect = TypeError('bug')
        self.assertRaises(
            TypeError,
            execute.apply_plan,
            self.compute,
            server_plan('s1', plan.UpdateDescription('d')),
            self.retry,
        )


class TestExecute(fakes.ComputeTestCase):
    def test_unchanged_servers_get_no_call(self):
        report = execute.execute(
            self.compute, [server_plan('s1'), server_plan('s2')], 4, self.retry
        )
        self.assertEqual(
            [execute.UNCHANGED, execute.UNCHANGED],
            [r.result for r in report.results],
        )
        self.assertEqual([], self.compute.mock_calls)

    def test_failure_does_not_stop_others_and_results_are_sorted(self):
        def update(server_id, description):
            if server_id == 'b':
                raise fakes.http_error(404, 'Instance b could not be found.')

        self.compute.update_server.side_effect = update
        plans = [
            server_plan(name, plan.UpdateDescription('d'), name=name)
            for name in ['d', 'b', 'c', 'a']
        ]
        report = execute.execute(self.compute, plans, 3, self.retry)
        self.assertEqual(
            [
                ('a', execute.CHANGED),
                ('b', execute.FAILED),
                ('c', execute.CHANGED),
                ('d', execute.CHANGED),
            ],
            [(r.server.id, r.result) for r in report.results],
        )
        self.assertEqual('1 of 4 servers failed', report.summary())
        self.assertIn('could not be found', report.results[1].details)

    def test_parallel_is_a_bound(self):
        in_flight = []
        peak = []
        lock = threading.Lock()
        release = threading.Event()

        def update(server_id, description):
            with lock:
                in_flight.append(server_id)
                peak.append(len(in_flight))
                if len(in_flight) == 3:
                    release.set()
            release.wait(5)
            with lock:
                in_flight.remove(server_id)

        self.compute.update_server.side_effect = update
        plans = [
            server_plan(f's{i}', plan.UpdateDescription('d'))
            for i in range(12)
        ]
        report = execute.execute(self.compute, plans, 3, self.retry)
        self.assertEqual(3, max(peak))
        self.assertEqual(0, report.failed)

    def test_progress_is_told_each_server(self):
        self.compute.update_server.side_effect = [None, fakes.http_error(409)]
        seen = []
        execute.execute(
            self.compute,
            [
                server_plan('s1', plan.UpdateDescription('d')),
                server_plan('s2', plan.UpdateDescription('d')),
                server_plan('s3'),
            ],
            1,
            self.retry,
            progress=lambda *args: seen.append(args),
        )
        self.assertEqual([(1, 2, 0), (2, 2, 1)], seen)

    def test_ctrl_c_finishes_in_flight_and_skips_the_rest(self):
        plans = [
            server_plan(f's{i}', plan.UpdateDescription('d')) for i in range(6)
        ]

        def interrupt_after_first(done, total, failed):
            raise KeyboardInterrupt

        report = execute.execute(
            self.compute, plans, 1, self.retry, progress=interrupt_after_first
        )
        self.assertTrue(report.interrupted)
        outcomes = [r.result for r in report.results]
        self.assertEqual(execute.CHANGED, outcomes[0])
        self.assertIn(execute.NOT_ATTEMPTED, outcomes)
        self.assertEqual(
            self.compute.update_server.call_count,
            outcomes.count(execute.CHANGED),
        )
        self.assertLess(self.compute.update_server.call_count, 6)
        skipped = outcomes.count(execute.NOT_ATTEMPTED)
        self.assertEqual(
            f'0 of 6 servers failed, {skipped} not attempted',
            report.summary(),
        )


class TestPreview(testtools.TestCase):
    def test_preview(self):
        report = execute.preview(
            [server_plan('s2'), server_plan('s1', plan.AddTag('t'))]
        )
        self.assertEqual(
            [('s1', 'would change', 'add tag t'), ('s2', 'unchanged', '')],
            [(r.server.id, r.result, r.details) for r in report.results],
        )
