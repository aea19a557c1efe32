"""Every module's docstring examples, run as doctests under the module's installed name.

pytest's ``--doctest-modules`` imports a file by its path, which makes ``wrappers/base.py`` a
second module ``wrappers.base`` beside the installed ``llm_gym.wrappers.base`` (the package-dir
mapping of ``pyproject.toml``), with classes of its own that ``isinstance`` does not recognise.
So the modules are found with ``pkgutil`` and imported by their installed names instead. A module
whose optional dependency is missing is skipped with the reason.
"""

import doctest
import importlib
import pkgutil

import pytest

import llm_gym
import llm_gym.baselines
import llm_gym.wrappers

PACKAGES = (llm_gym, llm_gym.wrappers, llm_gym.baselines)
MODULES = sorted(
    {package.__name__ for package in PACKAGES}
    | {"llm_gym.multiagent", "llm_gym.families"}
    | {info.name for package in PACKAGES for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        pytest.skip(f"{name} needs an optional package: {error}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
