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

"""The pre-flight's packing is pure: no HTTP, no mock."""

import testtools

from osc_hypervisor_servers.moves import packing

SMALL = {'VCPU': 2, 'MEMORY_MB': 4096, 'DISK_GB': 20}
LARGE = {'VCPU': 8, 'MEMORY_MB': 16384, 'DISK_GB': 80}


def need(server_id, resources=SMALL, **kwargs):
    return packing.Need(server_id, resources, host='compute-7', **kwargs)


def host(name, memory_mb, vcpus=64, disk_gb=1000, zone=None, **more):
    return packing.Host(
        name,
        zone,
        {'VCPU': vcpus, 'MEMORY_MB': memory_mb, 'DISK_GB': disk_gb, **more},
    )


def everywhere(hosts, *needs):
    """Placement offers every host for every shape (checked by capacity)."""
    names = frozenset(h.name for h in hosts)
    return {n.shape: names for n in needs}


def texts(fits):
    return {server: (fit.fits, fit.text) for server, fit in fits.items()}


class TestCapacity(testtools.TestCase):
    def test_each_placement_consumes_what_it_takes(self):
        hosts = [host('compute-1', 8192), host('compute-2', 4096)]
        needs = [need('a'), need('b'), need('c'), need('d')]
        fits = packing.pack(needs, hosts, everywhere(hosts, *needs))
        # Three fit (4096 MB each in 12288 MB); the fourth has no room.
        self.assertEqual(3, sum(fit.fits for fit in fits.values()))
        (misfit,) = [fit for fit in fits.values() if not fit.fits]
        self.assertEqual(
            'no room: needs 4096 MB RAM, most free 0 MB RAM', misfit.text
        )

    def test_the_largest_first_and_the_shortage_named(self):
        hosts = [host('compute-3', 8192), host('compute-4', 6144)]
        needs = [need('small'), need('large', LARGE)]
        fits = packing.pack(needs, hosts, everywhere(hosts, *needs))
        self.assertEqual(
            {
                'large': (
                    False,
                    'no room: needs 16384 MB RAM, most free 8192 MB RAM '
                    '(compute-3)',
                ),
                'small': (True, 'fits (2 hosts)'),
            },
            texts(fits),
        )

    def test_spread_as_the_scheduler_does(self):
        hosts = [host('compute-1', 8192), host('compute-2', 16384)]
        (fit,) = packing.pack(
            [need('a')], hosts, everywhere(hosts, need('a'))
        ).values()
        self.assertEqual('compute-2', fit.host)

    def test_a_resource_no_host_offers(self):
        gpu = {**SMALL, 'CUSTOM_GPU': 1}
        hosts = [host('compute-1', 8192)]
        fits = packing.pack([need('g', gpu)], hosts, {})
        self.assertEqual(
            (False, 'no host it may go to offers CUSTOM_GPU:1'),
            texts(fits)['g'],
        )

    def test_only_hosts_placement_offers_for_the_shape(self):
        # max_unit or a trait: Placement returns no candidate.
        hosts = [host('compute-1', 8192)]
        fits = packing.pack([need('a')], hosts, {})
        self.assertFalse(fits['a'].fits)

    def test_a_named_target_and_a_pinned_zone(self):
        hosts = [
            host('compute-1', 8192, zone='az1'),
            host('compute-2', 8192, zone='az2'),
        ]
        only = need('only', only=frozenset({'compute-2'}))
        pinned = need('pinned', zone='az1')
        nowhere = need('nowhere', zone='az3')
        fits = packing.pack(
            [only, pinned, nowhere], hosts, everywhere(hosts, only)
        )
        self.assertEqual('compute-2', fits['only'].host)
        self.assertEqual('compute-1', fits['pinned'].host)
        self.assertFalse(fits['nowhere'].fits)

    def test_never_back_onto_its_own_host(self):
        hosts = [host('compute-7', 8192)]
        self.assertFalse(
            packing.pack([need('a')], hosts, everywhere(hosts, need('a')))[
                'a'
            ].fits
        )

    def test_what_placement_does_not_know_is_said(self):
        hosts = [host('compute-1', 8192)]
        pci = need('p', unchecked=('PCI alias gpu (not in Placement)',))
        fits = packing.pack([pci], hosts, everywhere(hosts, pci))
        self.assertEqual(
            'fits (1 host); not checked: PCI alias gpu (not in Placement)',
            fits['p'].text,
        )


class TestGroups(testtools.TestCase):
    def hosts(self):
        return [host(f'compute-{n}', 100_000) for n in (1, 2, 3)]

    def test_anti_affinity_counts_members_already_there(self):
        group = packing.Group(
            'g1',
            'db-ha',
            'anti-affinity',
            members_on={'compute-7': 2, 'compute-1': 1, 'compute-2': 1},
        )
        needs = [need('db-1', group=group), need('db-2', group=group)]
        fits = packing.pack(
            needs, self.hosts(), everywhere(self.hosts(), *needs)
        )
        placed = [fit for fit in fits.values() if fit.fits]
        self.assertEqual(['compute-3'], [fit.host for fit in placed])
        (misfit,) = [fit for fit in fits.values() if not fit.fits]
        self.assertEqual(
            'anti-affinity group db-ha: every other host already holds 1 of '
            'its members',
            misfit.text,
        )

    def test_anti_affinity_with_more_members_per_host(self):
        group = packing.Group(
            'g1',
            'db-ha',
            'anti-affinity',
            max_per_host=2,
            members_on={'compute-7': 2, 'compute-1': 1},
        )
        hosts = [host('compute-1', 100_000)]
        needs = [need('db-1', group=group), need('db-2', group=group)]
        fits = packing.pack(needs, hosts, everywhere(hosts, *needs))
        self.assertEqual([True, False], [fits['db-1'].fits, fits['db-2'].fits])

    def test_affinity_cannot_leave_its_host_one_by_one(self):
        group = packing.Group(
            'g2', 'web', 'affinity', members_on={'compute-7': 3}
        )
        needs = [need('web-1', group=group)]
        fits = packing.pack(
            needs, self.hosts(), everywhere(self.hosts(), *needs)
        )
        self.assertEqual(
            (
                False,
                'affinity group web: Nova moves a member only to a host of '
                'its other members, and none is outside compute-7',
            ),
            texts(fits)['web-1'],
        )

    def test_soft_policies_are_a_warning(self):
        group = packing.Group(
            'g3', 'spread', 'soft-anti-affinity', members_on={'compute-1': 5}
        )
        needs = [need('s', group=group)]
        fits = packing.pack(
            needs, self.hosts(), everywhere(self.hosts(), *needs)
        )
        self.assertTrue(fits['s'].fits)
        self.assertIn('soft-anti-affinity group spread', fits['s'].text)


class TestSummary(testtools.TestCase):
    def test_needs_against_free_per_resource_class(self):
        self.assertEqual(
            'Pre-flight: 2 servers need 20480 MB RAM, 10 vCPUs, 100 GB disk; '
            'the 2 hosts they may go to have 12288 MB RAM, 128 vCPUs, 2000 '
            'GB disk free',
            packing.summary(
                [need('a'), need('b', LARGE)],
                [host('compute-1', 8192), host('compute-2', 4096)],
            ),
        )

    def test_named_destinations_are_the_only_hosts_counted(self):
        self.assertEqual(
            'Pre-flight: 2 servers need 20480 MB RAM, 10 vCPUs, 100 GB disk; '
            'the 1 host it may go to has 8192 MB RAM, 64 vCPUs, 1000 GB disk '
            'free',
            packing.summary(
                [
                    need('a', only=frozenset({'compute-1'})),
                    need('b', LARGE, only=frozenset({'compute-1'})),
                ],
                [host('compute-1', 8192), host('compute-2', 4096)],
            ),
        )

    def test_one_server_free_to_go_anywhere_counts_every_host(self):
        self.assertIn(
            'the 2 hosts they may go to have 12288 MB RAM',
            packing.summary(
                [need('a', only=frozenset({'compute-1'})), need('b')],
                [host('compute-1', 8192), host('compute-2', 4096)],
            ),
        )
