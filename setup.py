"""Build-time mapping of the top-level ``problems/`` and ``configs/`` folders (with ``configs/spaces/``)
into the package (``pdesolve/problems``, ``pdesolve/configs``), so a non-editable install ships them as package data.
Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

SHIPPED = {"pdesolve.problems": "problems", "pdesolve.configs": "configs"}

setup(
    packages=find_packages(include=["pdesolve", "pdesolve.*"]) + list(SHIPPED),
    package_dir=SHIPPED,
    package_data={"pdesolve.problems": ["*.yaml", "data/*.csv", "data/*.py"], "pdesolve.configs": ["*.yaml", "spaces/*.yaml"]},
)
