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


import dataclasses
import threading
import typing

import testtools

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.tests.unit import fakes


@dataclasses.dataclass(frozen=True)
class FakeTask:
    """Returns ``status`` after calling ``action`` (if any)."""

    server: model.ServerState
    status: reporting.Status = reporting.CHANGED
    action: typing.Callable[..., object] | None = None

    def preview(self):
        return reporting.ServerResult(self.server, reporting.WOULD_CHANGE)

    def run(self, stop):
        if self.action is not None:
            self.action(self, stop)
        return reporting.ServerResult(self.server, self.status, 'did it')


def tasks(count, lane_of=lambda number: 'compute-1', **kwargs):
    return [
        FakeTask(
            fakes.server_state(f's{number:02d}', hypervisor=lane_of(number)),
            **kwargs,
        )
        for number in range(count)
    ]


class PeakCounter:
    """Counts tasks in flight per lane; each waits until ``release``."""

    def __init__(self, release_at):
        self.lock = threading.Lock()
        self.in_flight = {}
        self.peak = {}
        self.release = threading.Event()
        self.release_at = release_at

    def __call__(self, task, stop):
        lane = task.server.hypervisor_hostname
        with self.lock:
            self.in_flight[lane] = self.in_flight.get(lane, 0) + 1
            self.peak[lane] = max(self.peak.get(lane, 0), self.in_flight[lane])
            if sum(self.in_flight.values()) >= self.release_at:
                self.release.set()
        self.release.wait(5)
        with self.lock:
            self.in_flight[lane] -= 1


class TestRunTasks(testtools.TestCase):
    def test_every_task_once_and_rows_sorted(self):
        settled = reporting.ServerResult(
            fakes.server_state('s99'), reporting.UNCHANGED
        )
        report = pool.run_tasks(
            list(reversed(tasks(5))), 3, rows_without_task=[settled]
        )
        self.assertEqual(
            ['s00', 's01', 's02', 's03', 's04', 's99'],
            [result.server.id for result in report.results],
        )
        self.assertTrue(report.succeeded)
        self.assertFalse(report.interrupted)

    def test_parallel_is_a_bound(self):
        counter = PeakCounter(release_at=3)
        pool.run_tasks(tasks(12, action=counter), 3)
        self.assertEqual({'compute-1': 3}, counter.peak)

    def test_parallel_is_per_lane(self):
        counter = PeakCounter(release_at=4)
        pool.run_tasks(
            tasks(
                12,
                lane_of=lambda n: f'compute-{n % 2}',
                action=counter,
            ),
            2,
            lane=lambda task: task.server.hypervisor_hostname or '',
        )
        self.assertEqual({'compute-0': 2, 'compute-1': 2}, counter.peak)

    def test_progress_is_told_each_server(self):
        seen: list[pool.Tally] = []
        pool.run_tasks(
            tasks(2, status=reporting.FAILED),
            1,
            progress=seen.append,
        )
        self.assertEqual(
            [(1, 2, 1), (2, 2, 2)],
            [(tally.done, tally.total, tally.failed) for tally in seen],
        )
        self.assertEqual(0, seen[-1].in_flight)

    def test_progress_counts_moves_in_flight_and_ticks_while_waiting(self):
        seen: list[pool.Tally] = []
        release = threading.Event()

        def wait_for_release(task, stop):
            release.wait(5)

        def watch(tally):
            seen.append(tally)
            if tally.elapsed >= 1:
                release.set()

        pool.run_tasks(tasks(3, action=wait_for_release), 2, progress=watch)
        # Told every second while both tasks of the first round wait.
        first = seen[0]
        self.assertEqual((0, 3, 2), (first.done, first.total, first.in_flight))
        self.assertGreaterEqual(first.elapsed, 1)
        self.assertEqual(3, seen[-1].done)

    def test_ctrl_c_tells_tasks_in_flight_and_skips_the_rest(self):
        waiting = threading.Event()
        stopped = []

        def wait_for_stop(task, stop):
            waiting.set()
            stopped.append(stop.wait(5))

        def interrupt(tally):
            raise KeyboardInterrupt

        first, *rest = tasks(6, action=wait_for_stop)
        report = pool.run_tasks(
            [
                dataclasses.replace(
                    first, action=lambda task, stop: waiting.wait(5)
                ),
                *rest,
            ],
            2,
            progress=interrupt,
        )
        self.assertTrue(report.interrupted)
        statuses = [result.status for result in report.results]
        self.assertEqual(reporting.CHANGED, statuses[0])
        # Tasks in flight were told to stop (and did, at once); the
        # others never started.
        self.assertTrue(stopped)
        self.assertEqual([True] * len(stopped), stopped)
        not_attempted = statuses.count(reporting.NOT_ATTEMPTED)
        self.assertEqual(5, len(stopped) + not_attempted)
        self.assertEqual(
            f'0 of 6 servers failed, {not_attempted} not attempted',
            report.summary(),
        )

    def test_a_bug_in_a_task_surfaces(self):
        def crash(task, stop):
            raise TypeError('bug')

        self.assertRaises(TypeError, pool.run_tasks, tasks(3, action=crash), 2)


class TestReport(testtools.TestCase):
    def test_counts(self):
        def result(status):
            return reporting.ServerResult(fakes.server_state(), status)

        report = reporting.Report(
            [
                result(reporting.CHANGED),
                result(reporting.FAILED),
                result(reporting.NOT_ATTEMPTED),
            ]
        )
        self.assertEqual(1, report.failed)
        self.assertFalse(report.succeeded)
        self.assertEqual(
            '1 of 3 servers failed, 1 not attempted', report.summary()
        )

    def test_error_text(self):
        self.assertEqual(
            'HTTP 409: locked',
            errors.error_text(fakes.http_error(409, 'locked')),
        )

    def test_error_text_is_one_line(self):
        self.assertEqual(
            'HTTP 500: Unexpected API Error. '
            "<class 'nova.exception.UnexpectedTaskStateError'>",
            errors.error_text(
                fakes.http_error(
                    500,
                    'Unexpected API Error.\n'
                    "<class 'nova.exception.UnexpectedTaskStateError'>\n",
                )
            ),
        )
