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


import errno
import functools
import threading
from unittest import mock

import fixtures
from keystoneauth1 import exceptions as ksa_exceptions

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.marks import apply
from osc_hypervisor_servers.marks import change_request
from osc_hypervisor_servers.marks import planning
from osc_hypervisor_servers.marks import writes
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.tests.unit import fakes


def change(attribute, before, after):
    return attributes.AttributeChange(attribute, before, after)


def update_description(after, before=None):
    return writes.UpdateDescription(
        (change(attributes.description(), before, after),)
    )


def set_properties(**properties):
    return writes.SetProperties(
        tuple(
            change(attributes.property_(key), None, value)
            for key, value in properties.items()
        )
    )


def remove_property(key, before='v'):
    return writes.RemoveProperty(
        (change(attributes.property_(key), before, None),)
    )


def add_tag(tag):
    return writes.AddTag((change(attributes.tag(tag), False, True),))


def remove_tag(tag):
    return writes.RemoveTag((change(attributes.tag(tag), True, False),))


def server_plan(server_id, *planned, **kwargs):
    return planning.ServerPlan(
        fakes.server_state(server_id, **kwargs), tuple(planned)
    )


class TestAttributeTask(fakes.ComputeTestCase):
    def fail_revise(self, plan):
        self.fail(f'journaled {plan.server.id} again')

    def run_plan(self, *planned, **kwargs):
        plan = server_plan('s1', *planned, **kwargs)
        task = apply.AttributeTask(
            plan,
            self.compute,
            self.retry,
            lambda server: plan,
            self.fail_revise,
            60,
        )
        return task.run(threading.Event())

    def read_back(self, **attrs):
        """The server as a re-read finds it."""
        self.nova.add(fakes.nova_server(server_id='s1', **attrs))

    def writes_made(self):
        return [
            call
            for call in self.compute.mock_calls
            if call[0] not in ('get', 'get_endpoint_data')
        ]

    def reads_made(self):
        return [
            call.args[0]
            for call in self.compute.get.call_args_list
            if call.args[0].startswith('/servers/')
        ]

    def test_calls_in_order(self):
        result = self.run_plan(
            update_description('d'),
            set_properties(server='x'),
            remove_property('a b'),
            add_tag('a?b'),
            remove_tag('t#1'),
        )
        self.assertEqual(reporting.CHANGED, result.status)
        self.assertEqual(
            [
                mock.call.update_server('s1', description='d'),
                fakes.metadata_merge(self.compute, 's1', {'server': 'x'}),
                mock.call.delete_server_metadata('s1', ['a%20b']),
                mock.call.add_tag_to_server('s1', 'a%3Fb'),
                mock.call.remove_tag_from_server('s1', 't%231'),
            ],
            self.writes_made(),
        )

    def test_failure_stops_this_server_and_says_why(self):
        self.compute.add_tag_to_server.side_effect = fakes.http_error(
            409, "Cannot 'add tag' instance while it is in vm_state error"
        )
        result = self.run_plan(
            update_description('d'), add_tag('t'), add_tag('u')
        )
        self.assertEqual(reporting.FAILED, result.status)
        self.assertEqual(
            "add tag t: HTTP 409: Cannot 'add tag' instance while it is in "
            "vm_state error; done before: set description 'd'",
            result.details,
        )
        self.compute.add_tag_to_server.assert_called_once_with('s1', 't')
        # A refusal at the first try is final: no re-read.
        self.assertEqual([], self.reads_made())

    def test_retries_are_reported(self):
        self.compute.update_server.side_effect = [
            fakes.http_error(503),
            ksa_exceptions.ConnectFailure('reset'),
            None,
        ]
        result = self.run_plan(update_description('d'))
        self.assertEqual(reporting.CHANGED, result.status)
        self.assertEqual(
            "set description 'd' (after 2 retries)", result.details
        )

    def test_retry_budget_exhausted(self):
        self.compute.update_server.side_effect = fakes.http_error(503, 'busy')
        self.read_back(description='old')
        result = self.run_plan(update_description('d'))
        self.assertEqual(reporting.FAILED, result.status)
        self.assertEqual(
            "set description 'd': HTTP 503: busy (after 2 retries)",
            result.details,
        )
        self.assertEqual(3, self.compute.update_server.call_count)

    def test_delete_whose_first_answer_was_lost(self):
        # The first DELETE landed, its answer was lost; the retry meets
        # "no such tag": the server holds what was asked.
        self.compute.remove_tag_from_server.side_effect = [
            ksa_exceptions.ConnectFailure('connection reset'),
            fakes.http_error(404, "Instance s1 has no tag 't'"),
        ]
        self.compute.delete_server_metadata.side_effect = [
            ksa_exceptions.ConnectFailure('connection reset'),
            fakes.http_error(404, 'Metadata item was not found'),
        ]
        self.read_back(tags=['other'], metadata={'kept': '1'})
        result = self.run_plan(remove_property('k'), remove_tag('t'))
        self.assertEqual(reporting.CHANGED, result.status)
        self.assertEqual(
            'unset property k (was v), remove tag t (after 2 retries)',
            result.details,
        )

    def test_tag_put_at_the_limit_after_a_lost_answer(self):
        self.compute.add_tag_to_server.side_effect = [
            ksa_exceptions.ConnectFailure('connection reset'),
            fakes.http_error(400, 'The number of tags exceeded'),
        ]
        self.read_back(tags=['t'])
        result = self.run_plan(add_tag('t'))
        self.assertEqual(reporting.CHANGED, result.status)

    def test_server_gone_is_a_failure(self):
        self.compute.remove_tag_from_server.side_effect = fakes.http_error(
            404, 'Instance s1 could not be found.'
        )
        result = self.run_plan(remove_tag('t'))
        self.assertEqual(reporting.FAILED, result.status)
        self.assertIn('could not be found', result.details)
        self.assertEqual(['/servers/s1'], self.reads_made())

    def test_lost_answer_of_a_write_that_did_not_land(self):
        self.compute.remove_tag_from_server.side_effect = [
            ksa_exceptions.ConnectFailure('connection reset'),
            fakes.http_error(409, 'vm_state error'),
        ]
        self.read_back(tags=['t'])
        result = self.run_plan(remove_tag('t'))
        self.assertEqual(reporting.FAILED, result.status)
        self.assertIn('HTTP 409', result.details)

    def test_re_read_failing_keeps_the_first_error(self):
        self.compute.remove_tag_from_server.side_effect = fakes.http_error(
            404, "Instance s1 has no tag 't'"
        )
        self.nova.reads['s1'] = [fakes.http_error(500)]
        result = self.run_plan(remove_tag('t'))
        self.assertEqual(reporting.FAILED, result.status)
        self.assertIn("has no tag 't'", result.details)

    def test_programming_errors_surface(self):
        self.compute.update_server.side_effect = TypeError('bug')
        self.assertRaises(TypeError, self.run_plan, update_description('d'))


class TestBatch(fakes.ComputeTestCase):
    def fail_replan(self, server):
        self.fail(f'planned {server.id} again')

    def fail_revise(self, plan):
        self.fail(f'journaled {plan.server.id} again')

    def carry_out(self, plans, dry_run=False, parallel=3):
        return execution.carry_out(
            apply.batch(
                self.compute,
                plans,
                self.retry,
                self.fail_replan,
                self.fail_revise,
                60,
            ),
            invocation.RunOptions(parallel=parallel, dry_run=dry_run),
            invocation.RunContext(self.compute, self.retry),
        )

    def test_unchanged_servers_get_no_call(self):
        report = self.carry_out([server_plan('s1'), server_plan('s2')])
        self.assertEqual(
            [reporting.UNCHANGED, reporting.UNCHANGED],
            [r.status for r in report.results],
        )
        self.assertEqual([], self.compute.mock_calls)

    def test_failure_does_not_stop_others_and_results_are_sorted(self):
        def update(server_id, description):
            if server_id == 'b':
                raise fakes.http_error(409, 'Instance b is locked.')

        self.compute.update_server.side_effect = update
        plans = [
            server_plan(name, update_description('d'), name=name)
            for name in ['d', 'b', 'c', 'a']
        ]
        report = self.carry_out(plans)
        self.assertEqual(
            [
                ('a', reporting.CHANGED),
                ('b', reporting.FAILED),
                ('c', reporting.CHANGED),
                ('d', reporting.CHANGED),
            ],
            [(r.server.id, r.status) for r in report.results],
        )
        self.assertEqual('1 of 4 servers failed', report.summary())
        self.assertIn('is locked', report.results[1].details)

    def test_dry_run(self):
        report = self.carry_out(
            [
                server_plan('s2'),
                server_plan(
                    's1',
                    update_description('new', before='tenant text'),
                    add_tag('t'),
                ),
            ],
            dry_run=True,
        )
        self.assertEqual(
            [
                (
                    's1',
                    reporting.WOULD_CHANGE,
                    "set description 'new' (was 'tenant text'), add tag t",
                ),
                ('s2', reporting.UNCHANGED, ''),
            ],
            [(r.server.id, r.status, r.details) for r in report.results],
        )
        self.assertEqual([], self.compute.mock_calls)


class TestWhatNovaAccepts(fakes.ComputeTestCase):
    def setUp(self):
        super().setUp()
        self.revised = []

    def task(self, plan, replan=None, timeout=60, revise=None):
        return apply.AttributeTask(
            plan,
            self.compute,
            self.retry,
            replan or (lambda now: plan),
            revise or self.revised.append,
            timeout,
        )

    def wait_briefly(self):
        self.useFixture(
            fixtures.MockPatch(
                'osc_hypervisor_servers.marks.apply.TASK_POLL_SECONDS', 0.01
            )
        )

    def test_a_refused_write_is_not_sent_and_the_server_skipped(self):
        plan = planning.plan_change(
            fakes.server_state('s1', status='SHELVED'),
            change_request.to_set(description='d', tags=['t']),
        )
        task = self.task(plan)
        self.assertEqual(
            (
                reporting.SKIPPED,
                "set description 'd'; skipped add tag t: Nova changes tags of "
                'ACTIVE, PAUSED, SUSPENDED or SHUTOFF servers only, this one '
                'is SHELVED',
            ),
            (task.preview().status, task.preview().details),
        )
        result = task.run(threading.Event())
        self.assertEqual(reporting.SKIPPED, result.status)
        self.assertEqual(
            [mock.call.update_server('s1', description='d')],
            [c for c in self.compute.mock_calls if c[0] == 'update_server'],
        )
        self.compute.add_tag_to_server.assert_not_called()

    def test_properties_wait_until_the_task_ends(self):
        request = change_request.to_set(properties={'a': '1'})
        self.useFixture(
            fixtures.MockPatch(
                'osc_hypervisor_servers.marks.apply.TASK_POLL_SECONDS', 0.01
            )
        )
        self.nova.reads['s1'] = [
            fakes.nova_server(server_id='s1', task_state='migrating'),
            fakes.nova_server('compute-2', server_id='s1'),
        ]
        plan = planning.plan_change(
            fakes.server_state('s1', task_state='migrating'), request
        )
        self.assertIn(
            'once task migrating ends', self.task(plan).preview().details
        )
        result = self.task(
            plan, functools.partial(planning.plan_change, request=request)
        ).run(threading.Event())
        self.assertEqual(reporting.CHANGED, result.status, result.details)
        self.assertEqual(
            [fakes.metadata_merge(self.compute, 's1', {'a': '1'})],
            [c for c in self.compute.mock_calls if c[0] == 'set_metadata'],
        )

    def test_the_new_plan_is_journaled_before_its_writes(self):
        # While the task ran, the tenant changed the property: the journal
        # must hold the value the write replaces now.
        request = change_request.to_set(properties={'a': '1'})
        self.wait_briefly()
        self.nova.reads['s1'] = [
            fakes.nova_server(
                server_id='s1', task_state='migrating', metadata={'a': 'x'}
            ),
            fakes.nova_server(
                'compute-2', server_id='s1', metadata={'a': 'y'}
            ),
        ]
        plan = planning.plan_change(
            fakes.server_state(
                's1', task_state='migrating', metadata={'a': 'x'}
            ),
            request,
        )
        order = []
        self.compute.set_metadata.side_effect = lambda *a, **k: order.append(
            'write'
        )
        result = self.task(
            plan,
            functools.partial(planning.plan_change, request=request),
            revise=lambda plan: order.append(plan.changes),
        ).run(threading.Event())
        self.assertEqual(reporting.CHANGED, result.status, result.details)
        self.assertEqual(
            [
                (
                    attributes.AttributeChange(
                        attributes.property_('a'), 'y', '1'
                    ),
                ),
                'write',
            ],
            order,
        )

    def test_a_new_plan_the_journal_cannot_hold_is_not_sent(self):
        request = change_request.to_set(properties={'a': '1'})
        self.wait_briefly()
        self.nova.reads['s1'] = [
            fakes.nova_server(server_id='s1', metadata={'a': 'y'})
        ]
        plan = planning.plan_change(
            fakes.server_state('s1', task_state='migrating'), request
        )

        def full(plan):
            raise OSError(errno.ENOSPC, 'No space left on device')

        result = self.task(
            plan,
            functools.partial(planning.plan_change, request=request),
            revise=full,
        ).run(threading.Event())
        self.assertEqual(reporting.FAILED, result.status)
        self.assertIn('No space left on device', result.details)
        self.compute.set_metadata.assert_not_called()

    def test_ctrl_c_while_a_task_is_under_way(self):
        request = change_request.to_set(properties={'a': '1'})
        plan = planning.plan_change(
            fakes.server_state('s1', task_state='migrating'), request
        )
        stop = threading.Event()
        stop.set()
        result = self.task(plan).run(stop)
        self.assertEqual(
            (
                reporting.NOT_ATTEMPTED,
                'interrupted while task migrating was under way; nothing '
                'written',
            ),
            (result.status, result.details),
        )

    def test_a_task_that_does_not_end_in_time(self):
        self.nova.reads['s1'] = [
            fakes.nova_server(server_id='s1', task_state='migrating')
        ]
        request = change_request.to_set(properties={'a': '1'})
        plan = planning.plan_change(
            fakes.server_state('s1', task_state='migrating'), request
        )
        result = self.task(
            plan,
            functools.partial(planning.plan_change, request=request),
            timeout=0.05,
        ).run(threading.Event())
        self.assertEqual(
            (
                reporting.TIMED_OUT,
                'task migrating still under way after 0.05 s; nothing written',
            ),
            (result.status, result.details),
        )
        self.compute.set_metadata.assert_not_called()
