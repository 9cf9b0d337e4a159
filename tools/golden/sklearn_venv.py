"""Shared by the scikit-learn golden scripts: run under $TIMBRE_PYTHON, or a venv in
tools/.venv made from requirements-metrics.txt (numpy and scikit-learn, pinned)."""
import os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REQUIREMENTS = os.path.join(HERE, "requirements-metrics.txt")


def reexec_in_venv(script):
    """Re-exec `script` (its __file__) under the right interpreter unless already there."""
    if os.environ.get("TIMBRE_GOLDEN_CHILD"):
        return
    python = os.environ.get("TIMBRE_PYTHON")
    if not python:
        venv = os.path.join(ROOT, "tools", ".venv")
        python = os.path.join(venv, "bin", "python")
        if not os.path.exists(python):
            subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "-r", REQUIREMENTS])
    env = dict(os.environ, TIMBRE_GOLDEN_CHILD="1")
    sys.exit(subprocess.call([python, os.path.abspath(script)] + sys.argv[1:], env=env))
