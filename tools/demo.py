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

"""Run ``openstack hypervisor servers set`` against an embedded real Nova.

Starts a real nova-api with three fake hypervisors and a dozen servers on
127.0.0.1 (no cloud needed), marks the servers of one hypervisor, and
shows through ``openstack server list``/``show`` that they changed and
the others did not. With ``--keep`` the cloud stays up for you to try
commands against it until Ctrl-C.
"""

import argparse
import shlex
import subprocess
import sys
import time

from osc_hypervisor_servers.tests import sandbox as nova_sandbox

HOSTS = ['compute-1', 'compute-10', 'compute-2']
TARGET = 'compute-1'


def run(env, *args, check=True):
    """Run ``openstack`` (the one beside this Python: see ``env()``)."""
    print(f'\n$ openstack {shlex.join(args)}', flush=True)
    process = subprocess.run(['openstack', *args], env=env)
    if check and process.returncode != 0:
        sys.exit(f'demo: the command above failed ({process.returncode})')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--keep',
        action='store_true',
        help='leave the cloud running afterwards, until Ctrl-C',
    )
    parser.add_argument('--servers-per-host', type=int, default=4)
    args = parser.parse_args()

    print(
        f'Starting a real nova-api with hypervisors {", ".join(HOSTS)} '
        f'and {args.servers_per_host} servers on each...',
        flush=True,
    )
    started = time.monotonic()
    with nova_sandbox.NovaSandbox(
        HOSTS, servers_per_host=args.servers_per_host, projects=2
    ) as sandbox:
        print(f'Ready in {time.monotonic() - started:.0f} s.', flush=True)
        env = sandbox.env()
        run(env, 'hypervisor', 'list')
        run(
            env,
            'hypervisor', 'servers', 'set', TARGET,
            '--property', 'maintenance=2026-12-01',
            '--tag', 'maintenance',
            '--description', f'{TARGET} reboots on 2026-12-01 08:00 UTC',
        )  # fmt: skip
        print(
            f'\nOnly the servers on {TARGET} carry the tag (not those on '
            f'compute-10, whose name starts the same):'
        )
        run(env, 'server', 'list', '--all-projects', '--tags', 'maintenance',
            '-c', 'ID', '-c', 'Name', '-c', 'Host')  # fmt: skip
        run(env, 'server', 'list', '--all-projects', '--long',
            '-c', 'Name', '-c', 'Host', '-c', 'Properties')  # fmt: skip
        run(env, 'server', 'show', sandbox.servers[TARGET][0],
            '-c', 'name', '-c', 'description', '-c', 'tags',
            '-c', 'properties')  # fmt: skip
        print('\nThe same command again changes nothing:')
        sandbox.reset_stats()
        run(env, 'hypervisor', 'servers', 'set', TARGET,
            '--property', 'maintenance=2026-12-01',
            '--tag', 'maintenance')  # fmt: skip
        print(
            f'Write requests Nova received for that run: '
            f'{sandbox.stats()["writes"]}'
        )
        if args.keep:
            print(
                '\nThe cloud keeps running. In another shell:\n\n'
                f'  export OS_CLIENT_CONFIG_FILE={sandbox.clouds_yaml} '
                'OS_CLOUD=sandbox\n'
                '  openstack hypervisor servers unset compute-1 '
                '--tag maintenance\n\n'
                '(OS_CLOUD=sandbox-demo is a non-admin user.) '
                'Ctrl-C stops it.',
                flush=True,
            )
            while True:
                time.sleep(3600)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        # Leaving main() through its "with" block stopped the cloud.
        print('\nStopped.')
