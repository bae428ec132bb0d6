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

project = 'osc-hypervisor-servers'
copyright = '2026, osc-hypervisor-servers developers'
extensions = ['cliff.sphinxext']
exclude_patterns = ['build']
html_theme = 'alabaster'
# The command reference shows the plugin's commands only: the
# openstack.compute.v2 group holds every installed package's commands.
autoprogram_cliff_application = 'openstack'
# The formatter options every Lister shares are OSC's, documented there.
autoprogram_cliff_ignored = [
    '--help',
    '--format',
    '--column',
    '--sort-column',
    '--sort-ascending',
    '--sort-descending',
    '--max-width',
    '--fit-width',
    '--print-empty',
    '--noindent',
    '--quote',
]
