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

"""``hypervisor servers maintain`` against the real Nova: the operator's
command sees each host empty and disabled, and at the end every server
is home, every service enabled, as Nova shows them.

Each test leaves the maintain cloud as it found it: every server on its
host of before, every service enabled.
"""

import calendar
import json
import os
import shlex
import signal
import sys
import time

from osc_hypervisor_servers.tests.functional import base
from osc_hypervisor_servers.tests.sandbox import protocol

HOSTS = tuple(host.name for host in base.MAINTAIN_HOSTS)


class TestMaintain(base.DrainTestCase):
    cloud = 'maintain'

    def setUp(self):
        super().setUp()
        self.log = os.path.join(self.state_home, 'commands.log')
        self.homes = {
            server_id: self.where(server_id)
            for host in HOSTS
            for server_id in self.servers_on(host)
        }
        self.records_before = {
            record['id']
            for server_id in self.homes
            for record in self.records(server_id)
        }
        self.addCleanup(self.assertEverythingHome)

    def assertEverythingHome(self):
        for server_id, home in self.homes.items():
            self.assertEqual(home, self.where(server_id), server_id)
        for host in HOSTS:
            self.assertEqual('enabled', self.service(host)['status'], host)

    def homes_on(self, *hosts):
        """The servers whose host of before is one of ``hosts``."""
        return [s for s, (host, _) in self.homes.items() if host in hosts]

    def new_records(self, server_id):
        """The migration records of ``server_id`` made during the test."""
        return [
            record
            for record in self.records(server_id)
            if record['id'] not in self.records_before
        ]

    def moves_of(self, server_id):
        return len(self.new_records(server_id))

    def logging_command(self, then='true'):
        """A command that logs, for its host, when it ran and what Nova
        showed of the host meanwhile (through the operator's openstack).
        """
        log = shlex.quote(self.log)
        return (
            f'echo "$COMPUTE_HOST start $(date +%s.%N)" >> {log}; '
            f'echo "$COMPUTE_HOST servers $(openstack server list '
            f'--all-projects --host "$COMPUTE_HOST" -f value -c ID | wc -l) '
            f'service $(openstack compute service list --service '
            f'nova-compute --host "$COMPUTE_HOST" -f value -c Status)" '
            f'>> {log}; echo "output of $HYPERVISOR_NAME"; {then}; '
            f'echo "$COMPUTE_HOST end $(date +%s.%N)" >> {log}'
        )

    def logged(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as log:
            return [line.split() for line in log]

    def maintain(self, *args):
        return self.hypervisor_servers('maintain', *args)

    def journal(self, path):
        with open(path) as journal:
            return json.load(journal)

    def test_three_hosts_of_four_in_order(self):
        exit_code, rows, stderr = self.maintain(
            'mt-1', 'mt-2', 'mt-3', '--exec', self.logging_command()
        )
        self.assertEqual(0, exit_code, stderr)
        logged = self.logged()
        self.assertEqual(
            ['mt-1', 'mt-2', 'mt-3'],
            [line[0] for line in logged if line[1] == 'start'],
        )
        # While its command ran, each host was empty and disabled.
        for line in logged:
            if line[1] == 'servers':
                self.assertEqual(['0', 'service', 'disabled'], line[2:])
        # One command after the other, never two at once.
        times = [
            float(line[2]) for line in logged if line[1] in ('start', 'end')
        ]
        self.assertEqual(sorted(times), times)
        self.assertIn('[mt-2] output of mt-2', stderr)
        # Every server of the three hosts moved out and back: twice.
        for server_id in self.homes_on('mt-1', 'mt-2', 'mt-3'):
            self.assertEqual(2, self.moves_of(server_id), server_id)
        for server_id in self.homes_on('mt-4'):
            self.assertEqual(0, self.moves_of(server_id), server_id)
        phases = {(row['ID'], row['Phase']) for row in rows}
        self.assertEqual(12, len(phases))
        self.assertEqual({'migrated'}, {row['Result'] for row in rows})
        journal = self.journal(self.journal_of(stderr))
        self.assertEqual(
            ['done'] * 3, [turn['phase'] for turn in journal['turns']]
        )
        self.assertIsNotNone(journal['finished_at'])
        self.assertFalse(journal['interrupted'])
        self.assertRegex(stderr, r'Hosts:\n  mt-1  done\n  mt-2  done\n')

    def test_dry_run_runs_no_command_and_moves_nothing(self):
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.maintain(
            'mt-1', 'mt-3', '--exec', self.logging_command(), '--dry-run'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(0, self.writes())
        self.assertEqual([], self.logged())
        self.assertEqual({'would migrate'}, {row['Result'] for row in rows})
        self.assertIn('mt-1: would be maintained', stderr)
        self.assertIn('Would disable the compute service of mt-3', stderr)
        self.assertNotIn('Journal of this run', stderr)

    def test_a_host_that_cannot_be_drained_is_skipped(self):
        big = self.sandbox.boot('mt-2', 1, flavor=self.big_flavor())[0]
        self.addCleanup(self.delete, big)
        self.homes[big] = self.where(big)
        exit_code, rows, stderr = self.maintain(
            'mt-2', 'mt-3', '--exec', self.logging_command()
        )
        self.assertEqual(1, exit_code)
        self.assertEqual(
            ['mt-3'], [line[0] for line in self.logged() if line[1] == 'start']
        )
        self.assertIn('mt-2  skipped  1 of 3 servers would not fit (', stderr)
        self.assertIn('mt-2 skipped (see Hosts)', stderr)
        self.assertEqual(0, self.moves_of(big))
        for server_id in self.servers_on('mt-3'):
            self.assertEqual(2, self.moves_of(server_id))

    def big_flavor(self):
        flavors = self.api('GET', '/flavors')['flavors']
        found = [f['id'] for f in flavors if f['name'] == 'mt.big']
        if found:
            return found[0]
        return self.api(
            'POST',
            '/flavors',
            {
                'flavor': {
                    'name': 'mt.big',
                    'ram': 4096,
                    'vcpus': 1,
                    'disk': 10,
                }
            },
        )['flavor']['id']

    def delete(self, server_id):
        self.homes.pop(server_id, None)
        self.sandbox.api('DELETE', f'/servers/{server_id}')
        self.wait_until(
            lambda: self.sandbox.api('GET', f'/servers/{server_id}')[0] == 404
        )

    def test_a_failing_command_stops_the_run_with_the_host_drained(self):
        exit_code, rows, stderr = self.maintain(
            'mt-1', 'mt-3', '--exec', self.logging_command(then='exit 3')
        )
        self.assertEqual(1, exit_code)
        self.assertIn(
            'the command exited 3 on mt-1: mt-1 stays drained', stderr
        )
        self.assertEqual([], self.servers_on('mt-1'))
        self.assertEqual('disabled', self.service('mt-1')['status'])
        # mt-3 was never touched.
        self.assertEqual(
            ['mt-1'], [line[0] for line in self.logged() if line[1] == 'start']
        )
        for server_id in self.homes_on('mt-3'):
            self.assertEqual(0, self.moves_of(server_id))
        journal = self.journal_of(stderr)
        # Going on needs the same command; a dry run of it does nothing.
        self.sandbox.reset_stats()
        logged = self.logged()
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'maintain', '--resume', journal,
            '--exec', 'true',
        )  # fmt: skip
        self.assertEqual(1, exit_code)
        self.assertIn("--exec 'true' is not the command the journal", stderr)
        exit_code, rows, stderr = self.maintain(
            '--resume', journal, '--exec', self.logging_command(then='exit 3'),
            '--dry-run',
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(0, self.writes())
        self.assertEqual(logged, self.logged())
        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual({'migrated'}, {row['Result'] for row in rows})

    def test_killed_during_the_second_drain_then_resumed(self):
        command = self.logging_command()
        self.sandbox.set_move_seconds(3)
        self.addCleanup(self.sandbox.set_move_seconds, 0)
        process = self.start_openstack(
            'hypervisor', 'servers', 'maintain', 'mt-1', 'mt-3', '--exec',
            command, '-f', 'json',
        )  # fmt: skip
        mt3 = self.homes_on('mt-3')
        deadline = time.monotonic() + 180
        while not any(
            record['status'] != 'completed'
            for server_id in mt3
            for record in self.new_records(server_id)
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                self.fail(f'mt-3 never drained: {process.communicate()}')
            time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.sandbox.set_move_seconds(0)
        journals = os.path.join(
            self.state_home, 'osc-hypervisor-servers', 'journal'
        )
        (journal,) = [
            os.path.join(journals, name)
            for name in os.listdir(journals)
            if name.endswith('.json') and '.turn-' not in name
        ]
        self.assertEqual(
            ['done', 'draining'],
            [turn['phase'] for turn in self.journal(journal)['turns']],
        )
        exit_code, rows, stderr = self.maintain(
            '--resume', journal, '--exec', command
        )
        self.assertEqual(0, exit_code, stderr)
        for server_id in self.homes_on('mt-1', 'mt-3'):
            self.assertEqual(2, self.moves_of(server_id), server_id)
        for server_id in self.homes_on('mt-2', 'mt-4'):
            self.assertEqual(0, self.moves_of(server_id), server_id)
        self.assertEqual(
            ['done', 'done'],
            [turn['phase'] for turn in self.journal(journal)['turns']],
        )

    def test_two_hosts_at_once(self):
        exit_code, rows, stderr = self.maintain(
            'mt-1', 'mt-3', '--hosts-at-once', '2', '--exec',
            self.logging_command(),
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        logged = self.logged()
        self.assertEqual(
            ['mt-1', 'mt-3'],
            [line[0] for line in logged if line[1] == 'start'],
        )
        for line in logged:
            if line[1] == 'servers':
                self.assertEqual(['0', 'service', 'disabled'], line[2:])
        # Drained together: no server went from one to the other.
        for server_id in self.homes_on('mt-1', 'mt-3'):
            for record in self.new_records(server_id):
                self.assertNotEqual(
                    {'mt-1', 'mt-3'},
                    {record['source_compute'], record['dest_compute']},
                )
            self.assertEqual(2, self.moves_of(server_id))
        self.assertIn('mt-1 and mt-3  done', stderr)

    def test_no_return_leaves_the_servers_where_they_went(self):
        exit_code, rows, stderr = self.maintain(
            'mt-3', '--no-return', '--exec', 'true'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual('enabled', self.service('mt-3')['status'])
        for server_id in self.homes_on('mt-3'):
            self.assertNotEqual('mt-3', self.where(server_id)[0])
            self.assertEqual(1, self.moves_of(server_id))
        # Put them back for the other tests: the restore of the drain.
        (turn,) = self.journal(self.journal_of(stderr))['turns']
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', turn['drains'][0]
        )
        self.assertEqual(0, exit_code, stderr)

    def test_a_compute_down_during_the_command_is_waited_for(self):
        control = (
            f'http://127.0.0.1:{self.sandbox.port}{protocol.CONTROL_PREFIX}'
        )
        restarting = os.path.join(self.state_home, 'restarting')

        def call(name):
            return (
                shlex.quote(sys.executable)
                + ' -c '
                + shlex.quote(
                    'import json, os, urllib.request; '
                    f'urllib.request.urlopen(urllib.request.Request('
                    f'"{control}{name}", method="POST", '
                    'data=json.dumps({"host": os.environ["COMPUTE_HOST"]})'
                    '.encode()), timeout=120).read()'
                )
            )

        # The host goes down and the command ends at once; the host is
        # back 5 s later.
        command = (
            f'{call("stop")}; (sleep 5; date +%s.%N > '
            f'{shlex.quote(restarting)}; {call("restart")}) >/dev/null 2>&1 &'
        )
        exit_code, rows, stderr = self.maintain('mt-4', '--exec', command)
        self.assertEqual(0, exit_code, stderr)
        self.assertIn(
            'mt-4: waiting: the compute service of mt-4 has not reported '
            'since the command ended',
            stderr,
        )
        with open(restarting) as moment:
            restarting_at = float(moment.read())
        for server_id in self.homes_on('mt-4'):
            record = max(
                self.new_records(server_id), key=lambda record: record['id']
            )
            self.assertEqual('mt-4', record['dest_compute'])
            created = calendar.timegm(
                time.strptime(record['created_at'][:19], '%Y-%m-%dT%H:%M:%S')
            )
            # Nova's times are whole seconds.
            self.assertGreaterEqual(created + 1, restarting_at)
