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

from keystoneauth1 import exceptions as ksa_exceptions
import testtools

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.tests.unit import fakes


@dataclasses.dataclass(frozen=True)
class Task:
    server: model.ServerState
    log: list[str]

    def preview(self):
        return reporting.ServerResult(self.server, reporting.WOULD_CHANGE)

    def run(self, stop):
        self.log.append(f'task {self.server.id}')
        return reporting.ServerResult(self.server, reporting.CHANGED)


class Step:
    def __init__(self, name, log, says=None):
        self.name = name
        self.log = log
        self.says = says

    def preview(self):
        return self.says

    def perform(self):
        self.log.append(f'perform {self.name}')

    def conclude(self, report):
        self.log.append(f'conclude {self.name} ({len(report.results)})')


class TestCarryOut(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.log: list[str] = []
        self.notices: list[str] = []
        self.context = invocation.RunContext(
            fakes.make_compute(fakes.FakeNova()),
            fakes.no_wait_retry(),
            notify=self.notices.append,
        )
        self.batch = execution.Batch(
            tasks=[Task(fakes.server_state('s2'), self.log)],
            rows_without_task=[
                reporting.ServerResult(
                    fakes.server_state('s1'), reporting.UNCHANGED
                )
            ],
            steps=[
                Step('journal', self.log),
                Step('service', self.log, says='Would disable it'),
            ],
        )

    def test_dry_run_says_what_it_would_do_and_does_nothing(self):
        report = execution.carry_out(
            self.batch,
            invocation.RunOptions(parallel=1, dry_run=True),
            self.context,
        )
        self.assertEqual([], self.log)
        self.assertEqual(['Would disable it'], self.notices)
        self.assertEqual(
            [('s1', 'unchanged'), ('s2', 'would change')],
            [(r.server.id, str(r.status)) for r in report.results],
        )

    def test_steps_before_the_tasks_and_conclusions_after(self):
        report = execution.carry_out(
            self.batch, invocation.RunOptions(parallel=1), self.context
        )
        self.assertEqual(
            [
                'perform journal',
                'perform service',
                'task s2',
                'conclude journal (2)',
                'conclude service (2)',
            ],
            self.log,
        )
        self.assertEqual([], self.notices)
        self.assertTrue(report.succeeded)

    def test_a_step_that_finds_nova_unreachable_starts_no_task(self):
        class Unanswered(Step):
            def perform(self):
                raise retrying.NovaUnreachable('Nova did not answer for 5 s')

        batch = dataclasses.replace(
            self.batch,
            steps=[Step('journal', self.log), Unanswered('service', [])],
        )
        report = execution.carry_out(
            batch, invocation.RunOptions(parallel=1), self.context
        )
        # The journal records the rows; no task ran.
        self.assertEqual(['perform journal', 'conclude journal (2)'], self.log)
        self.assertEqual('Nova did not answer for 5 s', report.abandoned)
        self.assertEqual(
            [
                ('s1', 'unchanged', ''),
                (
                    's2',
                    'not attempted',
                    'not started: Nova did not answer for 5 s',
                ),
            ],
            [(r.server.id, str(r.status), r.details) for r in report.results],
        )

    def test_a_run_that_gave_up_on_nova_says_so(self):
        reach = retrying.Reachability(0, self.notices.append)
        reach.give_up(ksa_exceptions.ConnectFailure('refused'))
        context = dataclasses.replace(
            self.context,
            retry=dataclasses.replace(self.context.retry, reachability=reach),
        )
        report = execution.carry_out(
            self.batch, invocation.RunOptions(parallel=1), context
        )
        self.assertEqual(
            'Nova did not answer for 0 s (connection refused or cut)',
            report.abandoned,
        )
        self.assertIn('conclude journal (2)', self.log)
