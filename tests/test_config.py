import tomllib
from pathlib import Path

import pytest

from tiewise.config import Config, load_config, template
from tiewise.exceptions import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiewise.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, 'workspace = "ws"\n'))
    assert cfg.workspace_path == tmp_path / "ws"
    assert cfg.seed == 0 and cfg.privacy.pseudonymise


def test_unknown_key_names_the_key_and_the_allowed_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[graph]\nresolutoin = 2.0\n"))
    message = str(info.value)
    assert "graph.resolutoin" in message
    assert "resolution" in message and "leiden_iterations" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'sede'.*seed"):
        load_config(write(tmp_path, "sede = 3\n"))


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[graph]\nresolution = "high"\n'))
    assert "graph.resolution" in str(info.value) and '"high"' in str(info.value)


def test_wrong_choice_lists_allowed_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[ingest]\npolicy = "lenient"\n'))
    assert "ingest.policy" in str(info.value)
    assert "'quarantine'" in str(info.value) and "'strict'" in str(info.value)


def test_a_formula_setting_under_ingest_is_pointed_to_links(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[ingest]\nhalf_life_days = 30.0\n"))
    assert "unknown key 'ingest.half_life_days'. It is a key of [links]." in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[ingest]\nhalf_life = 30.0\n"))
    assert "It is a key of" not in str(info.value)


def test_out_of_range_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"links\.half_life_days"):
        load_config(write(tmp_path, "[links]\nhalf_life_days = -1\n"))


def test_negative_channel_weight(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="channel weights must be >= 0"):
        load_config(write(tmp_path, "[links.channel_weights]\nvoice = -1.0\n"))


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tiewise init"):
        load_config(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "seed = = 3\n"))


def test_template_is_valid_and_documents_every_section() -> None:
    data = tomllib.loads(template())
    cfg = Config(**data)
    assert cfg.inputs.interactions is not None and cfg.inputs.customers is not None
    assert cfg.inputs.engagement is None  # commented out unless present
    text = template()
    for section in ("[privacy]", "[ingest]", "[links]", "[graph]", "[report]"):
        assert section in text


def test_template_points_at_a_data_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("interactions.parquet", "churn.parquet"):
        (data / name).touch()
    cfg = Config(**tomllib.loads(template(data, config_dir=tmp_path)))
    assert cfg.inputs.interactions is not None
    assert cfg.inputs.interactions.path == "data/interactions.parquet"
    assert cfg.inputs.churn is not None and cfg.inputs.churn.path == "data/churn.parquet"
    assert cfg.inputs.customers is None
