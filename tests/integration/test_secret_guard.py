"""The secret guard: planted credentials refuse a checkpoint; ML code passes.

Every planted value is assembled from pieces, so this file itself holds no credential-shaped
literal for a scanner (ours or a host's) to trip on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlvc_jupyter.core.manager import ExperimentManager
from mlvc_jupyter.core.secrets.scan import scan_text
from mlvc_jupyter.errors import SecretFoundError
from tests.conftest import GitRepo

A = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _s(n: int, offset: int = 0) -> str:
    """Return ``n`` varied alphanumerics (a stand-in for a random credential)."""
    return "".join(A[(i * 7 + offset) % len(A)] for i in range(n))


def _low(n: int) -> str:
    return "".join("abcdefghijklmnopqrstuvwxyz0123456789"[(i * 5 + 3) % 36] for i in range(n))


PEM = "-----BEGIN {} PRIVATE KEY-----\n" + _s(64) + "\n-----END {} PRIVATE KEY-----\n"

PLANTED = {
    "aws-access-key": ("cloud.py", 'KEY_ID = "' + "AKIA" + _s(16).upper() + '"\n'),
    "aws-secret-key": ("aws.py", 'aws_secret_access_key = "' + _s(40, 3) + '"\n'),
    "rsa-private-key": ("id_rsa", PEM.format("RSA", "RSA")),
    "openssh-private-key": ("keys/deploy", PEM.format("OPENSSH", "OPENSSH")),
    "ec-private-key": ("ec.pem", PEM.format("EC", "EC")),
    "github-token": ("gh.py", 'token = "' + "ghp" + "_" + _s(36) + '"\n'),
    "gitlab-token": ("gl.sh", "export GL=" + "glpat" + "-" + _s(20) + "\n"),
    "slack-token": ("slack.py", 'SLACK = "' + "xoxb" + "-1234567890-" + _low(24) + '"\n'),
    "slack-webhook": (
        "notify.py",
        'URL = "https://hooks.slack.com/services/T'
        + _s(8).upper()
        + "/B"
        + _s(8).upper()
        + "/"
        + _s(24)
        + '"\n',
    ),
    "stripe-key": ("pay.py", 'STRIPE = "' + "sk" + "_live_" + _s(24) + '"\n'),
    "twilio-key": ("sms.py", 'TW = "' + "SK" + _low(32) + '"\n'),
    "sendgrid-key": ("mail.py", 'SG_KEY = "' + "SG" + "." + _s(22) + "." + _s(43, 5) + '"\n'),
    "mailchimp-key": ("mc.py", 'MC = "' + _low(32) + "-us" + "12" + '"\n'),
    "jwt": ("auth.py", 'JWT = "' + "eyJ" + _s(20) + ".eyJ" + _s(30) + "." + _s(43) + '"\n'),
    "url-with-password": (
        "db.py",
        'DB = "postgres://trainer:' + "Hunter2" + 'xyz@db.example.com/ml"\n',
    ),
    "telegram-token": ("bot.py", 'TG = "' + "123456789" + ":AA" + _s(33) + '"\n'),
    "openai-key": ("llm.py", 'KEY = "' + "sk-" + _s(20) + "T3Blbk" + "FJ" + _s(20, 9) + '"\n'),
    "azure-storage-key": (
        "azure.cfg",
        "conn = DefaultEndpointsProtocol=https;AccountKey=" + (_s(62) + _s(24, 1) + "==") + "\n",
    ),
    "npm-token": (".npmrc", "//registry.npmjs.org/:_authToken=" + "npm" + "_" + _s(36) + "\n"),
    "pypi-token": ("pypirc.txt", "password = " + "pypi-AgEIcHlwaS5vcmc" + _s(72) + "\n"),
    "huggingface-token": ("hub.py", 'HF = "' + "hf" + "_" + _s(34) + '"\n'),
    "google-api-key": ("maps.py", 'G = "' + "AIza" + _s(35) + '"\n'),
    "password-in-yaml": ("configs/db.yaml", "database:\n  password: " + "Tr0ub4dor&3horse\n"),
    "api-key-in-python": ("client.py", 'api_key = "' + _s(32, 11) + '"\n'),
    "secret-in-json": ("settings.json", '{"client_secret": "' + _s(24, 2) + '"}\n'),
    "token-assignment": ("train_hub.py", 'hf_token = "' + _s(24, 4) + '"\n'),
    "dotenv-file": (".env", "DATABASE_URL_PASS=" + "s3cr3t-v4lu3\n"),
    "wandb-key-in-toml": ("wandb.toml", 'wandb_api_key = "' + _low(40) + '"\n'),
}

CLEAN = {
    "train.py": """\
import os
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
num_tokens = 512
max_token_length = 128
pad_token = "[PAD]"
eos_token = "</s>"
secret_sauce_lr = 3e-4
password_min_length = 8
api_key = os.environ["OPENAI_API_KEY"]
hf_token = os.getenv("HF_TOKEN")
secret = get_secret("prod/db")
pwd = os.getcwd()
token_ids = tokenizer(text)["input_ids"]
DATASET_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
GIT_SHA = "e83c5163316f89bfbde7d9ab23ca2e25604af290"
RUN_ID = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f"
MODEL = "https://huggingface.co/meta-llama/Llama-2-7b"
REPO = "https://user@github.com/org/repo.git"
""",
    "configs/train.yaml": """\
model:
  name: resnet50
  tokenizer: sentencepiece
  max_tokens: 2048
optimizer:
  lr: 0.001
  secret_sauce_lr: 0.01
data:
  sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
  password: ${DB_PASSWORD}
  api_key: <your-api-key>
""",
    "configs/params.json": json.dumps(
        {
            "lr": 0.1,
            "num_tokens": 256,
            "tokenizer": "gpt2",
            "secret_sauce_lr": 0.02,
            "dataset_hash": "d2a84f4b8b650937ec8f73cd8be2c74add5a911ba64df27458ed8229da804a26",
        },
        indent=1,
    ),  # fmt: skip
    "README.md": "Set `password` in your environment; never write `api_key = ...` here.\n",
    ".env.example": "HF_TOKEN=\nWANDB_API_KEY=<your key>\nDB_PASSWORD=${DB_PASSWORD}\n",
    "lock.txt": "numpy==1.26.4 --hash=sha256:" + "ab" * 32 + "\n",
}


def _refs(repo: GitRepo) -> str:
    return repo.git("for-each-ref", "refs/mlvc/")


@pytest.mark.parametrize(("filename", "content"), PLANTED.values(), ids=PLANTED.keys())
def test_each_planted_kind_is_caught(filename: str, content: str) -> None:
    assert scan_text(filename, content), f"{filename} passed the scan"


def test_the_planted_corpus_refuses_the_checkpoint_and_the_ref_stays(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    tip = _refs(git_repo)
    git_repo.write({name: content for name, content in PLANTED.values()})
    before = git_repo.fingerprint()
    with pytest.raises(SecretFoundError, match=r"Checkpoint refused: \d+ possible secret") as info:
        manager.commit("e1", message="with secrets")
    assert _refs(git_repo) == tip
    assert git_repo.fingerprint() == before  # index, HEAD and working tree untouched
    named = {finding.split(":", 1)[0] for finding in info.value.findings}
    assert named == {name for name, _ in PLANTED.values()}
    assert "Hunter2xyz" not in str(info.value.findings)
    assert any(f.startswith("db.py:1: Basic Auth Credentials (") for f in info.value.findings)
    assert "... and" in str(info.value)


def test_a_secret_refuses_the_first_checkpoint_too(git_repo: GitRepo) -> None:
    git_repo.write({".env": "OPENAI_API_KEY=" + _s(40) + "\n"})
    with pytest.raises(SecretFoundError, match=r"\.env:1: Value in an environment file"):
        ExperimentManager(git_repo.path).start("e1")
    assert _refs(git_repo) == ""


def test_the_clean_ml_corpus_raises_no_alarm(git_repo: GitRepo) -> None:
    git_repo.write(CLEAN)
    manager = ExperimentManager(git_repo.path)
    manager.start("e1", configs={"lr": 0.1})
    manager.commit("e1")
    git_repo.git("add", "-A")
    git_repo.git("commit", "-qm", "clean")
    git_repo.write({"notes.py": "dataset_sha = '" + "0f" * 32 + "'\n"})
    manager.end("e1", metrics={"loss": 0.1})
    assert manager.show("e1").summary.status == "success"


@pytest.mark.parametrize("first", ["x = 1", ["a = 1\n", "\n", "b = 2\n"]])
def test_a_notebook_cell_with_a_key_names_the_cell(git_repo: GitRepo, first: object) -> None:
    """The cells are scanned as one text; a hit maps back to its cell and line."""
    key = 'KEY = "' + "AKIA" + _s(16).upper() + '"\n'
    cell = {"cell_type": "code", "execution_count": None, "id": "a", "metadata": {},
            "outputs": [], "source": ["import os\n", key]}  # fmt: skip
    nb = {"cells": [{**cell, "id": "z", "source": first}, cell], "metadata": {},
          "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    git_repo.write({"explore.ipynb": nb})
    with pytest.raises(SecretFoundError, match=r"explore\.ipynb:cell 2:2: AWS Access Key"):
        ExperimentManager(git_repo.path).start("e1")


def test_a_line_marked_allowed_passes(git_repo: GitRepo) -> None:
    git_repo.write(
        {"fixture.py": 'FAKE = "' + "AKIA" + _s(16).upper() + '"  # mlvc: allow-secret\n'}
    )
    ExperimentManager(git_repo.path).start("e1")
    assert "e1" in _refs(git_repo)


@pytest.mark.parametrize(
    ("setting", "where"),
    [('allow-secrets = ["tests/fixtures/*"]\n', ".mlvc.toml"),
     ('[tool.mlvc]\nallow-secrets = ["creds.py"]\n', "pyproject.toml")],
    ids=["mlvc-toml-glob", "pyproject-name"],
)  # fmt: skip
def test_a_file_allowed_by_setting_passes(git_repo: GitRepo, setting: str, where: str) -> None:
    secret = 'KEY = "' + "ghp" + "_" + _s(36) + '"\n'
    git_repo.write({where: setting, "tests/fixtures/creds.py": secret})
    ExperimentManager(git_repo.path).start("e1")
    assert "e1" in _refs(git_repo)
    git_repo.write({"other.py": secret})
    with pytest.raises(SecretFoundError, match=r"other\.py:1: GitHub Token \(ghp_\*{8}\)"):
        ExperimentManager(git_repo.path).commit("e1")


def test_a_clean_file_is_not_scanned_again(git_repo: GitRepo, tmp_path: Path) -> None:
    """Scan results are kept by stat: an unchanged dirty file is not read at the next checkpoint."""
    git_repo.write({"model.py": "x = 1\n" * 100})
    manager = ExperimentManager(git_repo.path)
    manager.start("e1")
    guard = manager.writer.secrets
    key = guard._clean.get("model.py")
    assert key is not None
    manager.commit("e1")
    assert guard._clean["model.py"] == key


def test_config_secrets_are_redacted_in_the_record(git_repo: GitRepo) -> None:
    manager = ExperimentManager(git_repo.path)
    configs = {"db": {"password": "hunter2", "host": "db"}, "num_tokens": 5, "tokenizer": "bpe"}
    manager.start("e1", configs=configs)
    record = git_repo.git("show", "refs/mlvc/experiments/e1:.mlvc/experiment.json")
    assert "hunter2" not in record
    assert manager.show("e1").configs == {
        "db": {"password": "[redacted]", "host": "db"},
        "num_tokens": 5,
        "tokenizer": "bpe",
    }


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        pytest.param('accessToken: "' + _s(24, 4) + '"', "Token assignment", id="camel-case"),
        pytest.param('cfg = {"hf_token": "' + _s(24, 4) + '"}', "Token assignment", id="dict-key"),
        pytest.param('pad_token = "' + _s(24, 4) + '"', None, id="tokenizer-name"),
        pytest.param("HF = hf" + "_" + _s(34), "Hugging Face token", id="hf-after-space"),
        pytest.param("HF = xhf" + "_" + _s(34), None, id="hf-inside-a-word"),
        pytest.param("k = 'AIza" + _s(35) + "'", "Google API key", id="google"),
        pytest.param("k = 'notAIza" + _s(35) + "'", None, id="google-inside-a-word"),
    ],
)
def test_our_patterns_match_at_word_starts_only(line: str, kind: str | None) -> None:
    """Our patterns start with their literal (fast); the word start is checked after."""
    found = [f.kind for f in scan_text("train.py", line + "\n")]
    assert found == ([kind] if kind else []), found
