import pytest

from bot.settings import LLMBackend, SettingsError, load_settings


def test_defaults_are_embedded():
    settings = load_settings()
    assert settings.qdrant_url is None
    assert settings.llm_backend == LLMBackend.AUTO
    assert settings.max_file_bytes == 10 * 1024 * 1024


def test_invalid_value_names_variable(monkeypatch):
    monkeypatch.setenv("RETRIEVAL_TOP_K", "many")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "RETRIEVAL_TOP_K" in str(error.value)
    assert "'many'" in str(error.value)


def test_unknown_backend_lists_choices(monkeypatch):
    monkeypatch.setenv("LLM_BACKEND", "gpt-9")
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert "LLM_BACKEND" in message
    for choice in ("auto", "llama-cpp", "openai", "extractive"):
        assert choice in message


def test_url_without_scheme_rejected(monkeypatch):
    monkeypatch.setenv("QDRANT_URL", "qdrant:6333")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "QDRANT_URL" in str(error.value)
    assert "http://" in str(error.value)


def test_secret_not_echoed_in_error(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "")
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("LLM_THREADS", "0")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "sk-very-secret" not in str(error.value)
    assert "LLM_THREADS" in str(error.value)


def test_tokens_are_secret(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def.ghi")
    settings = load_settings()
    assert "abc.def.ghi" not in repr(settings)
    assert settings.discord_token.get_secret_value() == "abc.def.ghi"


def test_env_example_lists_every_setting():
    from bot.settings import Settings
    from conftest import ROOT

    example = (ROOT / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"# {name.upper()}=" in example, f"{name.upper()} is missing from .env.example"


def test_env_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("RETRIEVAL_TOP_K=7\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().retrieval_top_k == 7


def test_openai_backend_needs_base_url(monkeypatch):
    monkeypatch.setenv("LLM_BACKEND", "openai")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "LLM_BASE_URL" in str(error.value)
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    assert load_settings().llm_base_url == "http://127.0.0.1:8000/v1"
