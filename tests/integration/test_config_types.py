"""What may be recorded as an experiment's configs: tables of named values, and nothing else.

`--config params` with `params = 3` used to be recorded, and the configs then vanished from
`%vc_show`. Core now accepts mappings, dataclasses, argparse namespaces and pydantic models
(OmegaConf configs when omegaconf is installed) and refuses the rest, before recording.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import pydantic
import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.errors import ConfigError
from tests.conftest import GitRepo


@dataclasses.dataclass
class Params:
    lr: float = 0.1
    layers: int = 2


class Model(pydantic.BaseModel):
    lr: float = 0.1
    layers: int = 2


EXPECTED = {"lr": 0.1, "layers": 2}


@pytest.mark.parametrize(
    "configs",
    [EXPECTED, Params(), argparse.Namespace(lr=0.1, layers=2), Model()],
    ids=["mapping", "dataclass", "namespace", "pydantic"],
)
def test_tables_of_named_values_are_recorded_and_shown(git_repo: GitRepo, configs: Any) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e", configs=configs)
    assert manager.show("e").configs == EXPECTED
    snapshot = manager.save_configs(configs)
    assert manager.load_configs(snapshot) == EXPECTED


@pytest.mark.parametrize(
    ("configs", "kind"),
    [(3, "int"), ("lr=0.1", "str"), ([0.1, 2], "list"), (object(), "object")],
    ids=["int", "str", "list", "object"],
)
def test_anything_else_is_refused_before_recording(
    git_repo: GitRepo, configs: Any, kind: str
) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e", configs=EXPECTED)
    tip = git_repo.git("rev-parse", "refs/mlvc/experiments/e")
    with pytest.raises(ConfigError, match=rf"(?s)type {kind}\b.*dict.*dataclass.*Namespace"):
        manager.commit("e", configs=configs)
    with pytest.raises(ConfigError, match=rf"type {kind}\b"):
        manager.start("other", configs=configs)
    assert git_repo.git("rev-parse", "refs/mlvc/experiments/e") == tip
    assert "other" not in git_repo.git("for-each-ref")
    assert manager.show("e").configs == EXPECTED
