"""The layers contract (pyproject.toml, checked by `lint-imports` in `make lint`) gives every module of
the `tickets` package a place. The package holds three layers (start-up, faces, domain), so the contract
names its modules one by one; one it left out would be checked by no layer at all."""

import re
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def _layers_contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return contract


def _named_modules(contract: dict) -> set[str]:
    """The modules the layers name ("a | b" and "a : b" list several; "(a)" is an optional one)."""
    names = (name.strip() for layer in contract["layers"] for name in re.split(r"[|:]", layer))
    return {name.strip("()") for name in names if name}


def test_every_module_of_tickets_has_a_layer():
    graph = grimp.build_graph("tickets", cache_dir=None)
    assert graph.find_children("tickets") - _named_modules(_layers_contract()) == set()


def test_the_layers_are_the_root_packages_and_the_modules_of_tickets():
    named = _named_modules(_layers_contract())
    assert {name for name in named if "." not in name} == {"sla", "helpdesk", "portal"}
    assert all(name.count(".") == 1 and name.startswith("tickets.") for name in named if "." in name)
