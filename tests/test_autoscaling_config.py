"""Autoscaling and retention settings: defaults per environment, and each bad value a clear error, exit 2."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.errors import ConfigError


def test_off_in_staging_and_on_in_prod_by_default() -> None:
    staging, prod = load_config("staging"), load_config("prod")
    assert not staging.autoscaling.enabled
    a = prod.autoscaling
    assert a.enabled and (a.min_capacity, a.max_capacity) == (2, 4)
    assert a.min_capacity <= prod.endpoint.instance_count <= a.max_capacity
    assert (a.target_invocations, a.scale_in_cooldown_seconds, a.scale_out_cooldown_seconds) == (70.0, 300, 60)
    assert staging.retention.keep == prod.retention.keep == 5
    assert (staging.retention.prune_after_deploy, prod.retention.prune_after_deploy) == (False, True)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"autoscaling_min_capacity": "0"}, "autoscaling_min_capacity = 0 must be at least 1"),
        (
            {"autoscaling_min_capacity": "3", "autoscaling_max_capacity": "2"},
            "autoscaling_min_capacity = 3 is above autoscaling_max_capacity = 2: min must be <= max",
        ),
        ({"autoscaling_target_invocations": "0"}, "autoscaling_target_invocations = 0.0 must be a positive number"),
        ({"autoscaling_target_invocations": "-5"}, "autoscaling_target_invocations = -5.0 must be a positive number"),
        (
            {"autoscaling_scale_in_cooldown_seconds": "-1"},
            "autoscaling_scale_in_cooldown_seconds = -1 must be between 0",
        ),
        (
            {"autoscaling_scale_out_cooldown_seconds": "-1"},
            "autoscaling_scale_out_cooldown_seconds = -1 must be between 0",
        ),
        ({"autoscaling_max_capacity": "2147483648"}, "autoscaling_max_capacity = 2147483648 must be between 1 and"),
        ({"autoscaling_min_capacity": "1.5"}, "autoscaling_min_capacity = '1.5' must be an integer"),
        (
            {"autoscaling_max_capacity": "3", "endpoint_instance_count": "5"},
            "endpoint_instance_count = 5 is outside autoscaling_min_capacity..autoscaling_max_capacity = 2..3",
        ),
        ({"retention_keep": "0"}, "retention_keep = 0 must be at least 1"),
    ],
)
def test_bad_values_are_one_clear_error_each(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("prod", overrides=overrides)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_the_command_line_exits_2_naming_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["definition", "--env", "prod", "--set", "autoscaling_min_capacity=0", "--set", "retention_keep=0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "autoscaling_min_capacity = 0 must be at least 1" in err
    assert "retention_keep = 0 must be at least 1" in err


def test_staging_checks_the_values_even_while_autoscaling_is_off() -> None:
    with pytest.raises(ConfigError, match="min must be <= max"):
        load_config("staging", overrides={"autoscaling_min_capacity": "5"})
    # ...but its one instance need not lie in a range nothing applies.
    assert load_config("staging", overrides={"autoscaling_min_capacity": "2"}).endpoint.instance_count == 1
