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


import testtools

from osc_hypervisor_servers import attributes
from osc_hypervisor_servers import journal
from osc_hypervisor_servers import plan
from osc_hypervisor_servers import restore
from osc_hypervisor_servers.tests.unit import fakes

change = attributes.AttributeChange
DESCRIPTION = attributes.description()
MAINTENANCE = attributes.property_('maintenance')
OWNER = attributes.property_('owner')
TAG = attributes.tag('maintenance')


def entry(*changes):
    return journal.ServerEntry(
        id='s1',
        name='web-1',
        project_id='p',
        hypervisor_hostname='compute-7',
        changes=changes,
    )


SET_RUN = entry(
    change(DESCRIPTION, 'web frontend', 'compute-7 down'),
    change(MAINTENANCE, None, 'yes'),
    change(OWNER, 'tenant', 'ops'),
    change(TAG, False, True),
)


class TestPlanRestore(testtools.TestCase):
    def test_undoes_what_still_holds(self):
        now = fakes.server_state(
            description='compute-7 down',
            metadata={'maintenance': 'yes', 'owner': 'ops', 'other': '1'},
            tags=['maintenance', 'web'],
        )
        server_plan = restore.plan_server(SET_RUN, now)
        self.assertEqual(
            "set description 'web frontend' (was 'compute-7 down'), "
            'set property owner=tenant (was ops), '
            'unset property maintenance (was yes), remove tag maintenance',
            plan.describe(server_plan.calls),
        )
        self.assertEqual((), server_plan.notes)

    def test_keeps_what_changed_since(self):
        now = fakes.server_state(
            description='tenant rewrote it',
            metadata={'owner': 'ops', 'maintenance': 'tenant-new'},
            tags=['maintenance'],
        )
        server_plan = restore.plan_server(SET_RUN, now)
        self.assertEqual(
            'set property owner=tenant (was ops), remove tag maintenance',
            plan.describe(server_plan.calls),
        )
        self.assertEqual(
            (
                "kept description 'tenant rewrote it': changed since the run",
                'kept property maintenance=tenant-new: changed since the run',
            ),
            server_plan.notes,
        )

    def test_nothing_when_already_as_before(self):
        # The run never reached this server, or it was restored already.
        now = fakes.server_state(
            description='web frontend', metadata={'owner': 'tenant'}
        )
        self.assertEqual((), restore.plan_server(SET_RUN, now).calls)

    def test_undoes_an_unset(self):
        unset_run = entry(
            change(DESCRIPTION, 'web frontend', None),
            change(MAINTENANCE, 'tenant-value', None),
            change(TAG, True, False),
        )
        server_plan = restore.plan_server(unset_run, fakes.server_state())
        self.assertEqual(
            "set description 'web frontend', "
            'set property maintenance=tenant-value, add tag maintenance',
            plan.describe(server_plan.calls),
        )

    def test_a_tag_the_server_had_before_stays(self):
        # set --tag maintenance on a server that had it: not journaled.
        run = entry(change(MAINTENANCE, None, 'yes'))
        now = fakes.server_state(
            metadata={'maintenance': 'yes'}, tags=['maintenance']
        )
        self.assertEqual(
            'unset property maintenance (was yes)',
            plan.describe(restore.plan_server(run, now).calls),
        )

    def test_gone(self):
        result = restore.gone(SET_RUN)
        self.assertEqual(restore.GONE, result.status)
        self.assertTrue(result.status.ok)
        self.assertEqual(
            ('s1', 'web-1'), (result.server.id, result.server.name)
        )
