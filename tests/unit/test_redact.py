"""Config values under credential-like keys are redacted; ML names are left alone."""

from __future__ import annotations

import pytest

from mlvc_jupyter.core.configs.redact import REDACTED, is_secret_key, redact_secrets

SECRET_KEYS = [
    "password", "db_password", "DB_PASSWORD", "passwd", "pwd", "secret", "client_secret",
    "token", "hf_token", "accessToken", "api_key", "apiKey", "OPENAI_API_KEY", "apikey",
    "aws_secret_access_key", "private_key", "credentials", "wandb.api-key", "secrets",
]  # fmt: skip
ML_KEYS = [
    "num_tokens", "tokenizer", "max_token_length", "secret_sauce_lr", "password_min_length",
    "pad_token", "eos_token", "mask_token", "bos_token", "max_tokens", "token_ids", "lr",
    "key", "keys", "primary_key_column", "secretary", "tokens_per_batch", "",
]  # fmt: skip


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_credential_keys_are_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ML_KEYS)
def test_ml_keys_are_not(key: str) -> None:
    assert not is_secret_key(key)


def test_redact_walks_nested_configs_and_keeps_the_input() -> None:
    configs = {
        "model": {"tokenizer": "gpt2", "num_tokens": 512, "pad_token": "[PAD]"},
        "db": {"password": "hunter2", "port": 5432, "token": None},
        "runs": [{"api_key": "abc123", "lr": 0.1}],
        "secrets": {"a": "b"},
        "use_token": True,
    }
    redacted = redact_secrets(configs)
    assert redacted == {
        "model": {"tokenizer": "gpt2", "num_tokens": 512, "pad_token": "[PAD]"},
        "db": {"password": REDACTED, "port": 5432, "token": None},
        "runs": [{"api_key": REDACTED, "lr": 0.1}],
        "secrets": REDACTED,
        "use_token": True,
    }
    assert configs["db"]["password"] == "hunter2"
