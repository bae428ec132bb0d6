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

"""The end line of a drain and of a restore is Nova's last word."""

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import endings
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.selection import selector
from osc_hypervisor_servers.tests.unit import fakes

COMPUTE_7 = model.Hypervisor('id-7', 'compute-7', 'compute-7')


def row(server_id, status, hypervisor='compute-7'):
    return reporting.ServerResult(
        fakes.server_state(server_id, hypervisor=hypervisor), status
    )


class TestDrainCensus(fakes.ComputeTestCase):
    def census(self, *rows):
        return endings.drain_census(
            invocation.RunContext(self.compute, self.retry),
            selector.Selection(('compute-7',)),
            [COMPUTE_7],
            reporting.Report(list(rows)),
            2,
            '',
        )

    def test_empty_is_success_whoever_moved_them(self):
        ended = self.census(
            row('s1', verdicts.MIGRATED), row('s2', verdicts.MIGRATED)
        )
        self.assertIsNone(ended.problem)

    def test_the_count_is_novas_not_the_rows(self):
        # Our row said failed for s1 (its state changed), but it left;
        # s2 is still there, whatever its row said.
        self.nova.add(fakes.nova_server('compute-7', server_id='s2'))
        ended = self.census(
            row('s1', reporting.FAILED), row('s2', verdicts.MIGRATED)
        )
        self.assertEqual(
            '1 of 2 servers are still on compute-7', ended.problem
        )
        results = {r.server.id: r for r in ended.report.results}
        self.assertEqual(reporting.FAILED, results['s2'].status)
        self.assertIn('but on compute-7 again', results['s2'].details)

    def test_empty_but_a_row_failed(self):
        ended = self.census(
            row('s1', reporting.FAILED), row('s2', verdicts.MIGRATED)
        )
        self.assertEqual(
            'compute-7 is empty, but 1 of 2 servers failed', ended.problem
        )


class TestRestoreCensus(fakes.ComputeTestCase):
    def plan(self, server_id, target='compute-7'):
        return planning.MovePlan(
            fakes.server_state(server_id, hypervisor='compute-3'),
            kinds.LIVE,
            target,
            back=True,
        )

    def census(self, plans, *rows):
        return endings.restore_census(
            invocation.RunContext(self.compute, self.retry),
            plans,
            reporting.Report(list(rows)),
            2,
        )

    def test_home_is_success_whoever_moved_them(self):
        self.nova.add(
            fakes.nova_server('compute-7', server_id='s1'),
            fakes.nova_server('compute-7', server_id='s2'),
        )
        self.assertIsNone(
            self.census(
                [self.plan('s1'), self.plan('s2')],
                row('s1', verdicts.MIGRATED, 'compute-3'),
                row('s2', verdicts.MIGRATED, 'compute-3'),
            )
        )

    def test_not_back_by_novas_listing(self):
        self.nova.add(
            fakes.nova_server('compute-7', server_id='s1'),
            fakes.nova_server('compute-3', server_id='s2'),
            fakes.nova_server('compute-5', server_id='s3'),
        )
        self.assertEqual(
            '1 of 3 servers are not back where they were',
            self.census(
                [self.plan('s1'), self.plan('s2'), self.plan('s3')],
                row('s1', reporting.TIMED_OUT, 'compute-3'),
                row('s2', verdicts.MIGRATED, 'compute-3'),
                # Someone else took it elsewhere meanwhile.
                row('s3', verdicts.KEPT, 'compute-3'),
            ),
        )


class TestFromRows(fakes.ComputeTestCase):
    def test_a_dry_run(self):
        self.assertEqual(
            '1 of 2 servers would stay on compute-7',
            endings.from_rows(
                reporting.Report(
                    [
                        row('s1', reporting.SKIPPED),
                        row('s2', verdicts.WOULD_MIGRATE),
                    ],
                    previewed=True,
                ),
                back=False,
            ),
        )

    def test_a_run_that_gave_up_on_nova(self):
        self.assertEqual(
            'Nova did not answer for 300 s (Connection refused): gave up, '
            'with 1 move in progress (Nova goes on with them) and 1 not '
            'started; once Nova answers, run this command again to finish, '
            'or undo the run with the restore above',
            endings.from_rows(
                reporting.Report(
                    [
                        row('s1', verdicts.IN_PROGRESS),
                        row('s2', reporting.NOT_ATTEMPTED),
                        row('s3', verdicts.MIGRATED),
                    ],
                    abandoned='Nova did not answer for 300 s (Connection '
                    'refused)',
                ),
                back=False,
            ),
        )
