"""A built wheel, installed into a fresh virtual environment, imports all three namespaces."""

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_and_imports_in_a_fresh_venv(tmp_path):
    wheel_dir = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheel_dir), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheel_dir.glob("llm_gym-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    code = (
        "import llm_gym, llm_gym.wrappers, llm_gym.baselines, llm_gym.multiagent, gymnasium as gym; "
        "env = gym.make('llm_gym/TextCraft-v0'); env.reset(seed=0); "
        "print(llm_gym.__file__); print(llm_gym.wrappers.__file__); print(llm_gym.baselines.__file__)"
    )
    result = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path)
    files = result.stdout.split()
    assert len(files) == 3
    assert all(str(env_dir) in path for path in files), files
    names = subprocess.run([python, "-m", "zipfile", "-l", str(wheel)], check=True, capture_output=True, text=True).stdout
    assert "llm_gym/wrappers/__init__.py" in names and "llm_gym/baselines/__init__.py" in names
    assert "\nwrappers/" not in names and "\nbaselines/" not in names
