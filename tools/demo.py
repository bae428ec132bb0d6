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

"""Run the maintenance workflow against an embedded real Nova.

Starts a real nova-api with three fake hypervisors and a dozen servers on
127.0.0.1 (no cloud needed), then the whole cycle on one hypervisor:
marks its servers (``hypervisor servers set``), drains it (``migrate``),
puts every server back (``restore`` of the drain's journal) and undoes
the marks (``restore`` of the marks' journal), showing each step through
``openstack server list``/``show``; then the same cycle rolled over the
two other hypervisors (``maintain``, with a harmless command). With
``--keep`` the cloud stays up for you to try commands against it until
Ctrl-C.
"""

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
import time

from osc_hypervisor_servers.tests import sandbox as nova_sandbox

HOSTS = ['compute-1', 'compute-10', 'compute-2']
TARGET = 'compute-1'


def run(env, *args, check=True):
    """Run ``openstack`` (the one beside this Python: see ``env()``);
    show what it printed, stdout and stderr in the order it printed them,
    under its prompt; return it.
    """
    print(f'\n$ openstack {shlex.join(args)}', flush=True)
    process = subprocess.run(
        ['openstack', *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    print(process.stdout, end='', flush=True)
    if check and process.returncode != 0:
        sys.exit(f'demo: the command above failed ({process.returncode})')
    return process.stdout


def journal_of(output, step):
    named = re.search(r'^Journal of this run: (.+)$', output, re.M)
    if named is None:
        sys.exit(f'demo: {step} named no journal')
    return named[1]


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
    with (
        nova_sandbox.NovaSandbox(
            HOSTS,
            servers_per_host=args.servers_per_host,
            projects=2,
            # Step 6 waits for each host to report in after its command.
            report_interval=1,
        ) as sandbox,
        tempfile.TemporaryDirectory(prefix='demo-state-') as state,
    ):
        print(f'Ready in {time.monotonic() - started:.0f} s.', flush=True)
        # The demo's journals go to a temporary directory, not your home.
        env = dict(sandbox.env(), XDG_STATE_HOME=state)
        first = sandbox.servers[TARGET][0]
        run(env, 'hypervisor', 'list')

        print(f'\n1. Mark the servers of {TARGET}:')
        marks = journal_of(
            run(
                env,
                'hypervisor', 'servers', 'set', TARGET,
                '--property', 'maintenance=2026-12-01',
                '--tag', 'maintenance',
                '--description', f'{TARGET} reboots on 2026-12-01 08:00 UTC',
            ),
            'set',
        )  # fmt: skip
        print(
            f'\nOnly the servers on {TARGET} carry the tag (not those on '
            f'compute-10, whose name starts the same):'
        )
        run(env, 'server', 'list', '--all-projects', '--tags', 'maintenance',
            '-c', 'ID', '-c', 'Name', '-c', 'Host')  # fmt: skip
        run(env, 'server', 'show', first, '-c', 'name', '-c', 'description',
            '-c', 'tags', '-c', 'properties')  # fmt: skip
        print('\nThe same command again changes nothing:')
        sandbox.reset_stats()
        run(env, 'hypervisor', 'servers', 'set', TARGET,
            '--property', 'maintenance=2026-12-01',
            '--tag', 'maintenance')  # fmt: skip
        print(
            f'Write requests Nova received for that run: '
            f'{sandbox.stats()["writes"]}'
        )

        print(f'\n2. Drain {TARGET}: every server moves, and says where:')
        drain = journal_of(
            run(env, 'hypervisor', 'servers', 'migrate', TARGET,
                '--disable-service', '--disable-reason', 'demo'),
            'migrate',
        )  # fmt: skip
        run(env, 'server', 'list', '--all-projects', '--long',
            '-c', 'Name', '-c', 'Status', '-c', 'Host')  # fmt: skip

        print(
            f'\n3. (maintenance)\n\n4. Bring every server home: the journal '
            f'of step 2 enables {TARGET} again and moves back each server '
            f'still where the drain put it:'
        )
        run(env, 'hypervisor', 'servers', 'restore', drain)

        print('\n5. Undo the marks with the journal of step 1:')
        run(env, 'hypervisor', 'servers', 'restore', marks)
        print('\nEvery server is back on its hypervisor, as it was:')
        run(env, 'server', 'list', '--all-projects', '--long',
            '-c', 'Name', '-c', 'Status', '-c', 'Host')  # fmt: skip
        run(env, 'server', 'show', first, '-c', 'name', '-c', 'description',
            '-c', 'tags', '-c', 'properties',
            '-c', 'OS-EXT-SRV-ATTR:host')  # fmt: skip
        run(env, 'compute', 'service', 'list', '--service', 'nova-compute')

        rolled = HOSTS[1:]
        print(
            f'\n6. Steps 2 to 4 over {" and ".join(rolled)}, one after the '
            f'other: each is drained, handed to a command once Nova shows it '
            f'empty and disabled, waited for until it reports in again, then '
            f'given back:'
        )
        run(env, 'hypervisor', 'servers', 'maintain', *rolled, '--exec',
            'echo "patching $COMPUTE_HOST, which now holds $(openstack server '
            'list --all-projects --host "$COMPUTE_HOST" -f value -c ID '
            '| wc -l) servers"',
            '-c', 'Name', '-c', 'Hypervisor', '-c', 'Phase', '-c', 'Result',
            '-c', 'Destination')  # fmt: skip
        run(env, 'server', 'list', '--all-projects', '--long',
            '-c', 'Name', '-c', 'Status', '-c', 'Host')  # fmt: skip
        if args.keep:
            exports = {
                key: value
                for key, value in sandbox.env().items()
                if key in ('OS_CLIENT_CONFIG_FILE', 'OS_CLOUD')
            }
            print(
                '\nThe cloud keeps running, with a real keystone. In another '
                'shell:\n\n'
                + ''.join(
                    f'export {key}={shlex.quote(value)}\n'
                    for key, value in exports.items()
                )
                + '\nthen any openstack command, for instance:\n\n'
                '  openstack catalog list\n'
                '  openstack server list --all-projects\n'
                '  openstack hypervisor servers migrate compute-10 '
                '--dry-run\n\n'
                f'(OS_CLOUD={nova_sandbox.CLOUDS[nova_sandbox.MEMBER]} and '
                f'{nova_sandbox.CLOUDS[nova_sandbox.READER]} are a member '
                'and a reader of project-1.) Ctrl-C stops it.',
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
