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

"""The import rules of doc/source/contributor/architecture.rst, and the
sizes of the runtime's modules, functions and classes, enforced.

Every import of the runtime package is read from its source (imports
inside functions and type-checking blocks included): a module may import
its own package and the layers below it, never a package of its own
layer or above. So the marks and moves wings never import each other,
runner, journal and selection import no wing, and nothing imports v2.
"""

import ast
import os
import pathlib

import fixtures
import testtools

import osc_hypervisor_servers

PACKAGE = 'osc_hypervisor_servers'
LAYERS = {
    'version': 0,
    'core': 0,
    'runner': 1,
    'journal': 2,
    'selection': 2,
    'marks': 3,
    'moves': 3,
    'v2': 4,
}


def _imported(tree, module):
    """The plugin's modules that ``tree`` (of ``module``) imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [f'{node.module}.{alias.name}' for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f'{module}: relative import')
        else:
            continue
        yield from (name for name in names if name.startswith(PACKAGE + '.'))


def _part(module):
    """The layer's name of a module: its subpackage, or itself."""
    return module.split('.')[1]


def violations(root):
    """Imports under ``root`` (a directory holding the package) that
    break the rules, as ``importer -> imported`` lines.
    """
    found = []
    for path in sorted((root / PACKAGE).rglob('*.py')):
        relative = path.relative_to(root).with_suffix('')
        if 'tests' in relative.parts:
            continue
        module = '.'.join(relative.parts).removesuffix('.__init__')
        if module == PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding='utf-8'))
        importer = _part(module)
        for imported in _imported(tree, module):
            target = _part(imported)
            if target == importer:
                continue
            if target not in LAYERS or importer not in LAYERS:
                found.append(f'{module} -> {imported} (no layer)')
            elif LAYERS[target] >= LAYERS[importer]:
                found.append(f'{module} -> {imported}')
    return found


class TestLayers(testtools.TestCase):
    def test_the_package_keeps_the_rules(self):
        root = pathlib.Path(osc_hypervisor_servers.__file__).parent.parent
        self.assertEqual([], violations(root))

    def test_every_subpackage_has_a_layer(self):
        root = pathlib.Path(osc_hypervisor_servers.__file__).parent
        parts = {
            path.name
            for path in root.iterdir()
            if (path / '__init__.py').exists() and path.name != 'tests'
        } | {path.stem for path in root.glob('*.py')} - {'__init__'}
        self.assertEqual(set(LAYERS), parts)

    def test_what_breaks_the_rules_is_found(self):
        root = pathlib.Path(self.useFixture(fixtures.TempDir()).path)
        sources = {
            'marks/verbs.py': (
                'from osc_hypervisor_servers.moves import moving\n'
                'from osc_hypervisor_servers.runner import pool\n'
            ),
            'runner/pool.py': (
                'def late():\n'
                '    from osc_hypervisor_servers.v2 import output\n'
            ),
            'selection/lookup.py': 'import osc_hypervisor_servers.journal\n',
            'journal/store.py': (
                'from osc_hypervisor_servers.journal import schema\n'
            ),
        }
        for name, source in sources.items():
            path = root / PACKAGE / name
            os.makedirs(path.parent, exist_ok=True)
            path.write_text(source)
        self.assertEqual(
            [
                'osc_hypervisor_servers.marks.verbs -> '
                'osc_hypervisor_servers.moves.moving',
                'osc_hypervisor_servers.runner.pool -> '
                'osc_hypervisor_servers.v2.output',
                'osc_hypervisor_servers.selection.lookup -> '
                'osc_hypervisor_servers.journal',
            ],
            violations(root),
        )


MODULE_LINES = 500
FUNCTION_LINES = 60
CLASS_LINES = 200
#: The benchmark's modules, each a case or the helpers they share.
TOOL_LINES = 400


def _lines(path):
    return len(path.read_text(encoding='utf-8').splitlines())


def oversized(
    root,
    module_lines=MODULE_LINES,
    function_lines=FUNCTION_LINES,
    class_lines=CLASS_LINES,
):
    """Modules, functions and classes of the runtime package over their
    size.
    """
    found = []
    for path in sorted((root / PACKAGE).rglob('*.py')):
        if 'tests' in path.relative_to(root).parts:
            continue
        if _lines(path) > module_lines:
            found.append(f'{path.relative_to(root)}')
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                limit = class_lines
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                limit = function_lines
            else:
                continue
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                found.append(
                    f'{path.relative_to(root)}:{node.lineno} {node.name}'
                )
    return found


class TestSizes(testtools.TestCase):
    def test_no_module_over_500_lines_function_over_60_class_over_200(self):
        root = pathlib.Path(osc_hypervisor_servers.__file__).parent.parent
        self.assertEqual([], oversized(root))

    def test_what_is_too_long_is_found(self):
        root = pathlib.Path(self.useFixture(fixtures.TempDir()).path)
        path = root / PACKAGE / 'long.py'
        os.makedirs(path.parent)
        path.write_text('def long():\n' + '    x = 1\n' * 60)
        self.assertEqual([f'{PACKAGE}/long.py:1 long'], oversized(root))
        self.assertEqual(
            [f'{PACKAGE}/long.py', f'{PACKAGE}/long.py:1 long'],
            oversized(root, module_lines=60),
        )

    def test_no_benchmark_module_over_400_lines(self):
        tools = pathlib.Path(osc_hypervisor_servers.__file__).parents[1]
        benchmark = tools / 'tools' / 'benchmark'
        if not benchmark.is_dir():
            self.skipTest('not a checkout: no tools/')
        self.assertEqual(
            [],
            [
                path.name
                for path in sorted(benchmark.glob('*.py'))
                if _lines(path) > TOOL_LINES
            ],
        )
