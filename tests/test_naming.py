import pytest

from sslvit_lite.naming import checkpoint_name, run_name


def test_a_name_lists_the_given_parts_in_a_fixed_order():
    assert run_name("mocov3", dataset="cifar10", preset="cpu") == "mocov3-cifar10-cpu"
    assert run_name("hybrid", seed=0, lam=0.2) == "hybrid-lam0.2-seed0"
    assert run_name("hybrid", dataset="data/cifar10", preset="smoke", data_source="sample", lam=1.0) == \
        "hybrid-cifar10-smoke-sample-lam1"
    assert run_name("mae", seed=0) != run_name("mae")  # seed 0 given is not seed left out


def test_distinct_runs_get_distinct_names():
    names = {run_name("hybrid", dataset="cifar10", preset="cpu", lam=lam) for lam in (0.0, 0.2, 0.201, 1.0)}
    assert len(names) == 4


def test_checkpoint_names_keep_seed_zero_of_a_pure_objective_plain():
    assert checkpoint_name("mocov3", "cifar10") == "mocov3-cifar10.pt"
    assert checkpoint_name("mocov3", "cifar10", seed=1) == "mocov3-cifar10-seed1.pt"
    assert checkpoint_name("hybrid", "cifar10", lam=0.2) == "hybrid-cifar10-lam0.2-seed0.pt"


def test_an_objective_with_a_dash_is_refused():
    with pytest.raises(ValueError, match="without '-'"):
        run_name("moco-v3")
