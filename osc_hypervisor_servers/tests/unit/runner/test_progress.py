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

import io

import testtools

from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class TestProgress(testtools.TestCase):
    def test_only_on_a_terminal(self):
        with progress.progress_line(io.StringIO()) as line:
            self.assertIsNone(line)
        with progress.progress_line(FakeTerminal()) as line:
            self.assertIsNotNone(line)

    def test_nothing_when_no_task_runs(self):
        # A dry run runs no task: the line is never shown, nor cleared.
        stream = FakeTerminal()
        with progress.progress_line(stream):
            pass
        self.assertEqual('', stream.getvalue())

    def test_one_line_rewritten_then_cleared(self):
        stream = FakeTerminal()
        with progress.progress_line(stream) as line:
            assert line is not None
            line(pool.Tally(1, 120, 0, in_flight=3, elapsed=1.0))
            line(pool.Tally(2, 120, 1, in_flight=3, elapsed=2.0))
        self.assertEqual(
            '\r1 of 120 servers done, 0 failed\033[K'
            '\r2 of 120 servers done, 1 failed\033[K'
            '\r\033[K',
            stream.getvalue(),
        )

    def test_close_without_progress_writes_nothing(self):
        stream = FakeTerminal()
        with progress.progress_line(stream):
            pass
        self.assertEqual('', stream.getvalue())

    def test_moves_say_how_many_are_in_flight_and_the_time_left(self):
        self.assertEqual(
            '31 of 120 moved, 3 in flight, 0 failed, 12 min elapsed, '
            'about 34 min left',
            progress.moves_line(
                pool.Tally(31, 120, 0, in_flight=3, elapsed=720)
            ),
        )
        self.assertEqual(
            '0 of 4 moved, 3 in flight, 0 failed, 5 s elapsed',
            progress.moves_line(pool.Tally(0, 4, 0, in_flight=3, elapsed=5)),
        )
        self.assertEqual(
            '1 of 3 moved, 0 in flight, 1 failed, 2 h 05 min elapsed, '
            'about 1 h 02 min left',
            progress.moves_line(
                pool.Tally(2, 3, 1, in_flight=0, elapsed=7500)
            ),
        )
