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

"""The sandbox's child process: command line, start-up and shutdown.

``python -m osc_hypervisor_servers.tests.sandbox --help``.  Once every
server is ACTIVE it prints the ready line (``protocol.Ready``, one JSON
line) on stdout and ``export`` lines for humans on stderr, logs to
``nova-sandbox.log`` in its state directory, and serves until SIGTERM or
SIGINT, or until its parent process dies (so that a killed test run
leaves no sandbox behind).
"""

import argparse
from collections.abc import Sequence
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

from osc_hypervisor_servers.tests.sandbox import protocol


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f'python -m {__package__}',
        description='Run a real nova-api with FakeDriver computes on '
        '127.0.0.1 until SIGTERM or SIGINT. Prints one JSON line on '
        'stdout once ready, and export lines for humans on stderr.',
    )
    parser.add_argument(
        '--host',
        dest='hosts',
        action='append',
        required=True,
        metavar='NAME',
        help='hypervisor (compute service) host name; repeat for several',
    )
    parser.add_argument(
        '--servers-per-host',
        type=int,
        default=2,
        help='servers to boot on each host (default 2)',
    )
    parser.add_argument(
        '--projects',
        type=int,
        default=1,
        help='spread the servers of each host over '
        'project-1..project-N round-robin (default 1)',
    )
    parser.add_argument(
        '--latency-ms',
        type=float,
        default=0,
        help='delay added to every nova request',
    )
    parser.add_argument(
        '--max-limit',
        type=int,
        metavar='N',
        help="nova's [api] max_limit: at most N items per listing page "
        "(default: nova's, 1000)",
    )
    parser.add_argument(
        '--port',
        type=int,
        default=0,
        help='TCP port on 127.0.0.1 (default: any free)',
    )
    parser.add_argument(
        '--state-dir',
        help='databases, log, clouds.yaml (default: a '
        'temporary directory, removed at exit)',
    )
    args = parser.parse_args(argv)
    if args.projects < 1 or args.servers_per_host < 0:
        parser.error('need --projects >= 1 and --servers-per-host >= 0')
    if args.max_limit is not None and args.max_limit < 1:
        parser.error('need --max-limit >= 1')
    return args


def write_clouds_yaml(
    path: str, endpoint: str, identity_url: str, tokens: dict[str, str]
) -> None:
    """clouds.yaml, written as JSON (which is YAML)."""
    clouds = {
        name: {
            'auth_type': 'admin_token',
            'auth': {'endpoint': endpoint, 'token': token},
            'identity_endpoint_override': identity_url,
        }
        for name, token in tokens.items()
    }
    with open(path, 'w') as clouds_file:
        json.dump({'clouds': clouds}, clouds_file, indent=2)


def serve(args: argparse.Namespace, state_dir: str) -> Any:
    """Start the cloud, boot the servers, print the ready lines; return
    the running HTTP server.
    """
    started = time.monotonic()
    projects = [f'project-{n}' for n in range(1, args.projects + 1)]
    # Before nova's first import (in cloud): native threads, no eventlet.
    os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
    import waitress

    from osc_hypervisor_servers.tests.sandbox import cloud
    from osc_hypervisor_servers.tests.sandbox import traffic

    # The harness's temporary files (placement's database, lock files)
    # land in the state directory too.
    tempfile.tempdir = state_dir
    nova = cloud.SandboxCloud(args.hosts, state_dir, args.max_limit)
    nova.setUp()
    control = traffic.TrafficControl(nova.app, nova.boot, args.latency_ms)
    # Requests sleep their latency in these threads: enough of them for
    # many concurrent clients.
    server = waitress.create_server(
        control, host='127.0.0.1', port=args.port, threads=64
    )
    threading.Thread(target=server.run, daemon=True).start()

    # Server n of a host goes to project n % len(projects).
    servers = nova.boot(
        [
            protocol.BootBatch(
                host=host,
                count=len(range(index, args.servers_per_host, len(projects))),
                project=project,
            )
            for host in args.hosts
            for index, project in enumerate(projects)
        ]
    )

    port = int(server.effective_port)
    endpoint = f'http://127.0.0.1:{port}/v2.1'
    identity_url = f'http://127.0.0.1:{port}{protocol.IDENTITY_PREFIX}'
    clouds_yaml = os.path.join(state_dir, protocol.CLOUDS_YAML)
    write_clouds_yaml(
        clouds_yaml,
        endpoint,
        identity_url,
        {
            'sandbox': protocol.ADMIN_TOKEN,
            'sandbox-demo': f'demo:{projects[0]}',
        },
    )
    ready = protocol.Ready(
        endpoint=endpoint,
        port=port,
        identity_url=identity_url,
        clouds_yaml=clouds_yaml,
        projects=projects,
        servers=servers,
        hypervisors=nova.hypervisors(),
    )
    # sys.__stdout__: the harness may have replaced sys.stdout.
    print(json.dumps(ready), file=sys.__stdout__, flush=True)
    env = protocol.client_env(endpoint, identity_url, protocol.ADMIN_TOKEN)
    exports = ' '.join(
        f'{key}={shlex.quote(value)}' for key, value in env.items()
    )
    log_file = os.path.join(state_dir, protocol.LOG_FILE)
    print(
        f'nova sandbox ready in {time.monotonic() - started:.1f} s at '
        f'{endpoint} (log: {log_file}). For openstack and nova:\n'
        f'export {exports}\n'
        f'or, for openstack only (sandbox-demo: a member of '
        f'{projects[0]}):\n'
        f'export OS_CLIENT_CONFIG_FILE={shlex.quote(clouds_yaml)} '
        f'OS_CLOUD=sandbox',
        file=sys.__stderr__,
        flush=True,
    )
    return server


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    state_dir = os.path.abspath(
        args.state_dir or tempfile.mkdtemp(prefix='nova-sandbox-')
    )
    os.makedirs(state_dir, exist_ok=True)
    parent = os.getppid()
    # Until ready, SIGINT and SIGTERM end the process at once.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        server = serve(args, state_dir)
    except Exception:
        traceback.print_exc()
        # nova's non-daemon threads would keep a failed process alive.
        os._exit(1)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_ignored: stop.set())
    # Also stop when the parent dies, so that a killed test run leaves no
    # sandbox behind.
    while not stop.wait(1) and os.getppid() == parent:
        pass
    server.close()
    if not args.state_dir:
        shutil.rmtree(state_dir, ignore_errors=True)
    # nova's services run in non-daemon threads that are not worth
    # stopping one by one: the process, its sockets and files go at once.
    os._exit(0)


main()
