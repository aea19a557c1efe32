"""A built wheel, installed into a fresh virtual environment, imports all three namespaces."""

import site
import subprocess
import sys
import venv
from pathlib import Path

import gymnasium as gym

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_imports_in_a_fresh_venv(tmp_path):
    wheel_dir = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheel_dir.glob("llm_gym-*.whl")
    env_dir = tmp_path / "venv"
    # The venv must see the dependencies of the interpreter running the suite, wherever they are
    # installed: `system_site_packages=True` would show the base Python's packages instead, which
    # lack them when the suite runs in a venv. So the wheel goes in first, into an empty venv (the
    # running pip, pointed at it with --python, sees only that venv), and then a .pth file appends
    # the running interpreter's site directories to the venv's sys.path. A .pth line only adds a
    # path, it does not process the .pth files there, so the running environment's editable
    # install of llm-gym stays inactive, and the venv's own site-packages, first on sys.path, wins.
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    running = [*site.getsitepackages(), site.getusersitepackages()]  # paths that do not exist are skipped
    (Path(purelib) / "running_site_packages.pth").write_text("\n".join(running) + "\n")
    code = (
        "import llm_gym, llm_gym.wrappers, llm_gym.baselines, llm_gym.multiagent, gymnasium as gym; "
        "env = gym.make('llm_gym/TextCraft-v0'); env.reset(seed=0); "
        "print(llm_gym.__file__); print(llm_gym.wrappers.__file__); print(llm_gym.baselines.__file__); "
        "print(gym.__file__)"
    )
    result = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path)
    *files, gymnasium_file = result.stdout.split()
    assert len(files) == 3
    assert all(str(env_dir) in path for path in files), files
    assert gymnasium_file == gym.__file__  # the dependencies of the running environment, not the base Python's
    names = subprocess.run(
        [python, "-m", "zipfile", "-l", str(wheel)], check=True, capture_output=True, text=True
    ).stdout
    assert "llm_gym/wrappers/__init__.py" in names and "llm_gym/baselines/__init__.py" in names
    assert "\nwrappers/" not in names and "\nbaselines/" not in names
