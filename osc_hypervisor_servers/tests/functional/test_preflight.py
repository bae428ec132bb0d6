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


"""The drain pre-flight against the real Nova and Placement, with hosts of
real sizes (``base.PREFLIGHT_HOSTS``): a source with 32 GB and a device,
two spares with room for 4096 MB each. Each test deletes the servers it
boots, so that the next one finds the spares empty.
"""

import time

from osc_hypervisor_servers.tests.functional import base

SOURCE = 'pf-src'
SPARES = ('pf-a', 'pf-b')


class TestPreflight(base.FunctionalTestCase):
    cloud = 'preflight'

    def flavor(self, name, ram, extra_specs=None):
        """A flavor of ``ram`` MB (1 vCPU, 10 GB), made once per cloud."""
        flavors = self.api('GET', '/flavors')['flavors']
        found = [flavor['id'] for flavor in flavors if flavor['name'] == name]
        if found:
            return found[0]
        flavor = self.api(
            'POST',
            '/flavors',
            {'flavor': {'name': name, 'ram': ram, 'vcpus': 1, 'disk': 10}},
        )['flavor']
        if extra_specs:
            self.api(
                'POST',
                f'/flavors/{flavor["id"]}/os-extra_specs',
                {'extra_specs': extra_specs},
            )
        return flavor['id']

    def group(self, policy):
        return self.api(
            'POST',
            '/os-server-groups',
            {
                'server_group': {
                    'name': f'{policy}-{self.mark}',
                    'policy': policy,
                }
            },
            project=self.sandbox.projects[0],
            microversion='2.64',
        )['server_group']

    def boot(self, host, count, **options):
        servers = self.sandbox.boot(host, count, **options)
        self.addCleanup(self.delete, servers)
        return servers

    def delete(self, servers):
        for server_id in servers:
            self.sandbox.api('DELETE', f'/servers/{server_id}')
        deadline = time.monotonic() + 60
        while any(
            self.sandbox.api('GET', f'/servers/{s}')[0] != 404 for s in servers
        ):
            self.assertLess(time.monotonic(), deadline, 'never deleted')
            time.sleep(0.3)

    def records(self, server_id):
        return self.api('GET', f'/os-migrations?instance_uuid={server_id}')[
            'migrations'
        ]

    def host_of(self, server_id):
        return self.server(server_id)['OS-EXT-SRV-ATTR:host']

    def test_a_drain_that_does_not_fit(self):
        servers = self.boot(SOURCE, 3, flavor=self.flavor('pf.3g', 3072))
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', SOURCE, '--dry-run'
        )
        self.assertEqual(1, exit_code)
        self.assertIn(
            'Pre-flight: 3 servers need 9216 MB RAM, 3 vCPUs, 30 GB disk; the '
            '2 hosts they may go to have 8192 MB RAM',
            stderr,
        )
        fits = [row for row in rows if row['Result'] == 'would migrate']
        (misfit,) = [row for row in rows if row['Result'] == 'skipped']
        self.assertEqual(
            ['fits (2 hosts)', 'fits (1 host)'],
            sorted((row['Pre-flight'] for row in fits), reverse=True),
        )
        self.assertRegex(
            misfit['Details'],
            r'^would not fit: no room: needs 3072 MB RAM, most free 1024 MB '
            r'RAM \(pf-[ab]\)$',
        )

        # A real run is refused before its first move.
        self.sandbox.reset_stats()
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'migrate', SOURCE
        )
        self.assertEqual(1, exit_code)
        self.assertEqual('', stdout)
        self.assertIn('1 of 3 servers would not fit', stderr)
        self.assertIn('give --allow-partial', stderr)
        self.assertEqual(0, self.writes())
        for server_id in servers:
            self.assertEqual([], self.records(server_id))

        # --allow-partial moves exactly those that fit.
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', SOURCE, '--allow-partial'
        )
        self.assertEqual(1, exit_code)
        self.assertIn(f'1 of 3 servers are still on {SOURCE}', stderr)
        results = {row['ID']: row['Result'] for row in rows}
        self.assertEqual(
            ['migrated', 'migrated', 'skipped'], sorted(results.values())
        )
        for server_id, result in results.items():
            moved = result == 'migrated'
            self.assertEqual(int(moved), len(self.records(server_id)))
            self.assertEqual(moved, self.host_of(server_id) in SPARES)
        self.assertEqual(
            set(SPARES),
            {self.host_of(s) for s, r in results.items() if r == 'migrated'},
        )

    def test_groups_and_devices_that_cannot_leave(self):
        anti = self.group('anti-affinity')
        along = self.group('affinity')
        self.boot(SPARES[0], 1, group=anti['id'])
        self.boot(SPARES[1], 1, group=anti['id'])
        (apart,) = self.boot(SOURCE, 1, group=anti['id'])
        together = self.boot(SOURCE, 2, group=along['id'])
        gpu = self.flavor('pf.gpu', 512, {'resources:CUSTOM_GPU': '1'})
        (device,) = self.boot(SOURCE, 1, flavor=gpu)
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', SOURCE, '--dry-run'
        )
        self.assertEqual(1, exit_code)
        why = {row['ID']: row['Details'] for row in rows}
        self.assertEqual(
            f'would not fit: anti-affinity group {anti["name"]}: every other '
            f'host already holds 1 of its members',
            why[apart],
        )
        for server_id in together:
            self.assertEqual(
                f'would not fit: affinity group {along["name"]}: Nova moves a '
                f'member only to a host of its other members, and none is '
                f'outside {SOURCE}',
                why[server_id],
            )
        self.assertEqual(
            'would not fit: no host it may go to offers CUSTOM_GPU:1',
            why[device],
        )

    def test_a_drain_that_fits_says_so_and_finishes(self):
        servers = self.boot(SOURCE, 2, flavor=self.flavor('pf.1g', 1024))
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', SOURCE, '--dry-run'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            [('would migrate', 'fits (2 hosts)')] * 2,
            [(row['Result'], row['Pre-flight']) for row in rows],
        )
        exit_code, rows, stderr = self.hypervisor_servers('migrate', SOURCE)
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(['migrated'] * 2, [row['Result'] for row in rows])
        for server_id in servers:
            self.assertIn(self.host_of(server_id), SPARES)
        # Its restore checks the same against the host of before.
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', self.journal_of(stderr)
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            [('migrated', 'fits (1 host)')] * 2,
            [(row['Result'], row['Pre-flight']) for row in rows],
        )
        for server_id in servers:
            self.assertEqual(SOURCE, self.host_of(server_id))
