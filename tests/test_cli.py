"""The command line: listings, and bad input answered before anything is built."""

import os

import pytest

from brianrules.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


BAD = [
    (["--rule", "backprop"], "unknown rule 'backprop'"),
    (["--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["--device", "gpu"], "unknown device 'gpu'"),
    (["--surrogate", "tanh"], "unknown surrogate 'tanh'"),
    (["--post", "dendrite"], "unknown postsynaptic factor 'dendrite'"),
    (["--epochs", "0"], "epochs must be a positive integer"),
    (["--epochs", "-3"], "epochs must be a positive integer"),
    (["--hidden", "100", "0"], "hidden layer 2 size must be a positive integer"),
    (["--hidden", "-5"], "hidden layer 1 size must be a positive integer"),
    (["--tau-m", "0"], "tau_m_ms must be positive"),
    (["--tau-syn", "-5"], "tau_syn_ms must be positive"),
    (["--tau-m", "nan"], "tau_m_ms must be positive and finite"),
    (["--lr", "-1"], "lr must be positive"),
    (["--lr-hidden", "inf"], "lr_hidden must be positive and finite"),
    (["--lr", "0"], "lr must be positive"),
    (["--threads", "0"], "threads must be a positive integer"),
    (["--t-sample", "10.25"], "must be a whole number of time steps"),
    (["--shift", "-1"], "shift_px must be a non-negative whole number of pixels"),
    (["--shift", "8"], "would move whole 8x8 images of digits out of view; give at most 7"),
    (["--eligibility", "stdp"], "unknown eligibility 'stdp'"),
    (["--tau-elig", "5"], "tau_elig_ms sets a filter of the eligibility, and rule dfa with eligibility 'trace' has none"),
    (["--rule", "eprop", "--tau-elig-rise", "2"], "rule eprop with eligibility 'lowpass' has only tau_elig"),
    (["--rule", "superspike", "--tau-elig", "0"], "tau_elig_ms must be positive"),
    (["--rule", "superspike", "--timing", "event"], "has no event-driven form: it needs the presynaptic trace"),
    (["--rule", "erbp", "--eligibility", "alpha"], "rule erbp does not take --eligibility"),
    # an option that would turn a rule into another is refused, not obeyed silently
    (["--rule", "pes", "--post-expr", "x_post"], "rule pes does not take --post-expr"),
    (["--rule", "pes", "--post", "surrogate"], "rule pes does not take --post"),
    (["--rule", "pes", "--eligibility", "trace"], "rule pes does not take --eligibility"),
    (["--rule", "superspike", "--eligibility", "lowpass"], "rule superspike does not take --eligibility"),
    (["--post", "none", "--post-expr", "x_post"], "--post (none) and --post-expr (x_post) both set"),
    # post_expr: the unit it has and the one it needs, the variables it may read
    (["--post-expr", "v_post"], "post_expr 'v_post' has unit V, and the postsynaptic factor phi_j must be "
                                "dimensionless"),
    (["--post-expr", "x_pre"], "x_pre is no variable of the postsynaptic neuron"),
    (["--post-expr", "psi_post * y_post"], "y_post is no variable of the postsynaptic neuron"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_input_is_one_clear_line_and_exit_2(capsys, tmp_path, args, message):
    out_dir = tmp_path / "out"
    before = _builds()
    code, out, err = _run(capsys, "train", "--out", str(out_dir), *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not out_dir.exists()  # nothing written
    assert _builds() == before  # nothing built


def _builds():
    """The build folders of the session's cache (other tests may have built some)."""
    builds = os.path.join(os.environ["BRIANRULES_CACHE"], "build")
    return set(os.listdir(builds)) if os.path.exists(builds) else set()


def test_argument_that_is_not_a_number(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "ten"])
    assert e.value.code == 2
    assert "invalid int value: 'ten'" in capsys.readouterr().err


def test_out_that_is_a_file_is_refused(capsys, tmp_path):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    code, _, err = _run(capsys, "train", "--out", str(f))
    assert code == 2 and "is a file, not a folder" in err
    assert f.read_text() == "keep me"


def test_out_below_a_file_is_refused(capsys, tmp_path):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    code, _, err = _run(capsys, "train", "--out", str(f / "sub" / "run"))
    assert code == 2 and "is a file, not a folder" in err
    assert f.read_text() == "keep me"


def test_existing_results_are_not_overwritten(capsys, tmp_path):
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "metrics.csv").write_text("epoch\n1\n")
    code, _, err = _run(capsys, "train", "--out", str(out_dir))
    assert code == 2 and "already holds results" in err and "--force" in err
    assert (out_dir / "metrics.csv").read_text() == "epoch\n1\n"
    code, _, err = _run(capsys, "train", "--out", str(tmp_path / "new"), "--resume")
    assert code == 2 and "holds no checkpoint" in err


def test_rules_lists_and_shows(capsys):
    code, out, _ = _run(capsys, "rules")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("bptt: ") and lines[1].startswith("dfa (alias: srbp):")
    code, out, _ = _run(capsys, "rules", "--show", "srbp")
    assert code == 0
    assert "dw_acc/dt = plastic * (-eta * Lphi_post * (x_pre))" in out
    assert "L_post = B * err_pre" in out
    code, _, err = _run(capsys, "rules", "--show", "nope")
    assert code == 2 and "unknown rule 'nope'" in err


def test_info_reports_versions_and_devices(capsys):
    import brian2

    code, out, _ = _run(capsys, "info")
    assert code == 0
    assert f"brian2: {brian2.__version__}" in out
    assert "runtime         works" in out and "cpp_standalone" in out


def _assert_nothing_written(out_dir, before):
    assert not out_dir.exists()
    assert _builds() == before


@pytest.mark.parametrize("expr,message", [
    ("psi_post *", "invalid syntax"),
    ("v_post", "has unit V, and the postsynaptic factor phi_j must be dimensionless"),
    ("x_pre_not_there", "x_pre_not_there"),
])
def test_bad_user_equation_is_reported_before_compiling(capsys, tmp_path, expr, message):
    out_dir = tmp_path / "out"
    before = _builds()
    code, _, err = _run(capsys, "train", "--post-expr", expr, "--out", str(out_dir))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and repr(expr) in lines[0], err
    _assert_nothing_written(out_dir, before)


@pytest.mark.parametrize("text,message", [
    ("[rule]\nlearning_rate = 3\n", "unknown key 'learning_rate'"),
    ("epochs = 'ten'\n", "key 'epochs' must be an integer"),
    ("hidden = [100, 'a']\n", "key 'hidden' must be a list of integers"),
    ("lr = 'fast'\n", "key 'lr' must be a number"),
    ("rule = 3\n", "key 'rule' must be a string"),
    ("x = [\n", "not valid TOML"),
])
def test_bad_model_file_names_the_key(capsys, tmp_path, text, message):
    spec = tmp_path / "model.toml"
    spec.write_text(text)
    out_dir = tmp_path / "out"
    before = _builds()
    code, _, err = _run(capsys, "train", "--model", str(spec), "--out", str(out_dir))
    assert code == 2 and message in err and str(spec) in err, err
    _assert_nothing_written(out_dir, before)


def test_missing_model_file_and_data_folder(capsys, tmp_path):
    code, _, err = _run(capsys, "train", "--model", str(tmp_path / "none.toml"))
    assert code == 2 and "none.toml does not exist" in err
    out_dir = tmp_path / "out"
    before = _builds()
    code, _, err = _run(capsys, "train", "--dataset", f"idx:{tmp_path / 'nowhere'}", "--out", str(out_dir))
    assert code == 2 and "nowhere" in err and "does not exist" in err, err
    _assert_nothing_written(out_dir, before)


def test_shipped_model_files_are_valid():
    from brianrules.training import TrainConfig, load_model_file

    here = os.path.join(os.path.dirname(__file__), "..", "models")
    from brianrules.training.temporal import check_config, read_model

    files = sorted(f for f in os.listdir(here) if f.endswith(".toml"))
    assert files
    for name in files:
        path = os.path.join(here, name)
        if name.startswith("eprop_") and "[eprop]" in open(path).read():  # `brianrules eprop`'s files
            cfg = read_model(path)
            if cfg.task == "shd":  # the data's path is the user's to give
                with pytest.raises(ValueError, match="needs the file's path"):
                    check_config(cfg)
                cfg.task_options = {"path": "shd_train.h5"}
            check_config(cfg)
            with pytest.raises(ValueError, match="is an e-prop model file"):
                load_model_file(path)
            continue
        if "[superspike]" in open(path).read():  # `brianrules superspike`'s files
            from brianrules.training.spiketrain import check_config as check_superspike, read_model as read_ss

            check_superspike(read_ss(path))
            with pytest.raises(ValueError, match="is a SuperSpike model file"):
                load_model_file(path)
            continue
        TrainConfig.from_dict(load_model_file(path)).validate()
