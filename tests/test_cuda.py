"""The cuda_standalone device: the model's CUDA program is generated and compiled.

Compiling needs ``nvcc`` and brian2cuda (``pip install 'brianrules[cuda]'``),
not a GPU; running the program does, so without one the test checks that
``run`` says so.  The program is compiled once for the module (several
minutes on two cores).
"""

import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from brianrules import cuda
from brianrules.devices import make_runner, working_devices
from conftest import small_inputs, small_spec

N_SAMPLES = 4

pytestmark = pytest.mark.cuda

_missing = [what for what, ok in (("nvcc", cuda.find_nvcc() is not None),
                                  ("brian2cuda", cuda.brian2cuda_version() is not None)) if not ok]
needs_toolchain = pytest.mark.skipif(
    bool(_missing), reason=f"cuda_standalone needs {' and '.join(_missing)}: install the CUDA toolkit "
    "and pip install 'brianrules[cuda]'")


@pytest.fixture(scope="module")
def spec():
    return small_spec(hidden=(12,))


@pytest.fixture(scope="module")
def runner(spec, build_root):
    r = cuda.CudaStandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / "cuda"), progress=False,
                                  log=lambda *a: None)
    yield r
    r.close()


def _value_file_names(device, pairs):
    from brian2.core.variables import VariableView

    names = [device._prepare_variableview_run_arg(key, value)[2] for key, value in pairs
             if isinstance(key, VariableView)]
    return [n for n in names if n is not None]  # None: a single value, given on the command line


@pytest.mark.skipif(cuda.brian2cuda_version() is None, reason="needs brian2cuda")
def test_value_files_are_named_in_lowercase():
    """brian2cuda 1.0b1's program lowercases a value file's name before it
    opens it: the runner's device writes the files under that name."""
    from brian2 import NeuronGroup
    from brian2cuda.device import CUDAStandaloneDevice

    group = NeuronGroup(3, "B : 1", name="B_1")
    device = cuda._lowercase_value_files(CUDAStandaloneDevice)()
    name, string_value, value_name, _ = device._prepare_variableview_run_arg(group.B, np.arange(3.0))
    assert name == "B_1.B"  # the variable is still found by its own name
    assert value_name.startswith("init_b_1_b_") and string_value == os.path.join("static_arrays", value_name)
    plain = CUDAStandaloneDevice()._prepare_variableview_run_arg(group.B, np.arange(3.0))
    assert plain[2] == "init_B_1_B_" + value_name[len("init_b_1_b_"):]  # Brian2's own name, in capitals


def _read(path):
    with open(path) as f:
        return f.read()


def _sources(build_dir):
    return [p for pattern in ("*.cu", "*.h", "code_objects/*.cu", "code_objects/*.h")
            for p in glob.glob(os.path.join(build_dir, pattern))]


@needs_toolchain
@pytest.mark.slow
def test_binary_is_built_from_the_generated_sources(runner):
    main = os.path.join(runner.build_dir, "main")
    assert os.path.isfile(main) and os.access(main, os.X_OK)
    sources = _sources(runner.build_dir)
    assert len(sources) > 20
    newest = max(os.path.getmtime(p) for p in sources)
    assert os.path.getmtime(main) >= newest
    assert runner.compile_s > 0
    # nothing left to do for make: every object is up to date
    assert subprocess.run(["make", "-q"], cwd=runner.build_dir).returncode == 0


@needs_toolchain
@pytest.mark.slow
def test_generated_code_is_the_models(runner, spec):
    from brian2.utils.stringtools import get_identifiers

    code = os.path.join(runner.build_dir, "code_objects")
    names = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(code, "*.cu"))}
    for obj in ("input", "hidden_1", "output", "w_1", "w_2", "B_1"):
        assert any(n.startswith(obj + "_") for n in names), f"no code object for {obj}"
    # the plastic synapses integrate the rule's update expression into w_acc
    for k, output in ((1, False), (2, True)):
        text = _read(os.path.join(code, f"w_{k}_stateupdater_codeobject.cu"))
        for name in get_identifiers(spec.rule.update_expression(output)):
            assert re.search(rf"\b{name}\b", text), f"w_{k}: '{name}' missing from the update"
        assert re.search(r"_w_acc\s*=", text) and f"_ptr_array_w_{k}_w_acc" in text
    # the counter-based input noise, as a device function
    thresholder = _read(os.path.join(code, "input_spike_thresholder_codeobject.cu"))
    assert "__host__ __device__ static inline double _brianrules_hash_uniform" in thresholder
    assert "0x94D049BB133111EBULL" in thresholder
    # the summed feedback variable L = B e of the hidden layer
    assert "B_1_summed_variable_L_post_codeobject" in names


@needs_toolchain
@pytest.mark.slow
def test_every_value_file_of_the_model_has_a_lowercase_name(runner, spec):
    pairs = runner.model.values(*small_inputs(spec, N_SAMPLES), noise_seed=3)
    names = _value_file_names(runner._device, pairs)
    assert len(names) >= 4 and any(n.startswith("init_b_1_b_") for n in names)  # B_1.B among them
    assert all(n == n.lower() for n in names)


@needs_toolchain
@pytest.mark.slow
def test_makefile_says_cxx17_and_the_architecture(runner):
    makefile = _read(os.path.join(runner.build_dir, "makefile"))
    assert "-std=c++17" in makefile and "-std=c++11" not in makefile
    assert f"-arch=sm_{int(round(runner.arch * 10))}" in makefile
    assert runner.arch == cuda.default_arch()
    assert "-lcurand" in makefile


@needs_toolchain
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf")
def test_binary_finds_curand_at_run_time(runner):
    dyn = subprocess.run(["readelf", "-d", os.path.join(runner.build_dir, "main")],
                         capture_output=True, text=True, check=True).stdout
    assert "libcurand.so" in dyn
    _, lib = cuda.find_curand(cuda.find_nvcc())
    assert os.path.dirname(lib) in dyn  # RUNPATH: no LD_LIBRARY_PATH needed


@needs_toolchain
@pytest.mark.slow
def test_run_needs_a_gpu(runner, spec, build_root):
    inputs = small_inputs(spec, N_SAMPLES)
    if cuda.gpus():
        # on a GPU: the C++ program's numbers, every layer learning (the feedback matrix was read)
        from brianrules.devices import StandaloneRunner

        result = runner.run(*inputs, noise_seed=3)
        assert result.counts.shape == (N_SAMPLES, spec.n_out)
        assert all(np.abs(W - W0).max() > 0 for W, W0 in zip(result.weights, inputs[0]))
        cpp = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / "cuda-beside-cpp"), progress=False)
        try:
            expected = cpp.run(*inputs, noise_seed=3)
        finally:
            cpp.close()
        assert np.array_equal(result.counts, expected.counts)
        for W, W_cpp in zip(result.weights, expected.weights):  # rounding: fused multiply-adds, atomic sums
            np.testing.assert_allclose(W, W_cpp, rtol=1e-6, atol=1e-9 * np.abs(W_cpp).max())
    else:
        with pytest.raises(cuda.NoGPUError, match="no NVIDIA GPU") as info:
            runner.run(*inputs, noise_seed=3)
        assert "\n" not in str(info.value)


def _start_again(spec, build_dir):
    """A new process's start of the program in ``build_dir``: (reused, cached)."""
    r = cuda.CudaStandaloneRunner(spec, N_SAMPLES, build_dir=build_dir, progress=False, log=lambda *a: None)
    try:
        return r.reused, r.cached
    finally:
        r.close()


@needs_toolchain
@pytest.mark.slow
def test_second_start_runs_the_finished_program_without_generating_it(runner, spec):
    import json
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from brianrules.program import BUILD_STAMP

    main = os.path.join(runner.build_dir, "main")
    before = os.path.getmtime(main)
    stamp = json.loads(_read(os.path.join(runner.build_dir, BUILD_STAMP)))
    assert stamp["code"] and stamp["nvcc"] == cuda.find_nvcc()
    assert stamp["cuda"]["devices.cuda_standalone.cuda_backend.compute_capability"] == repr(runner.arch)
    # a fresh process, as a second `brianrules train` would be
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        reused, cached = pool.submit(_start_again, spec, runner.build_dir).result()
    after = json.loads(_read(os.path.join(runner.build_dir, BUILD_STAMP)))
    changed = {k: (stamp.get(k), after.get(k)) for k in sorted(set(stamp) | set(after)) if stamp.get(k) != after.get(k)}
    assert cached and reused, f"the second start built again; what its stamp changed (before, after): {changed}"
    assert os.path.getmtime(main) == before


_CODE_HASH = """
import sys
from brianrules import cuda
from brianrules.program import CompiledProgram
from conftest import small_spec

def report(self, identity, build):  # print the generated code's hash, build nothing
    print(identity["code"])
    raise SystemExit(0)

CompiledProgram._build_unless_stamped = report
cuda.CudaStandaloneRunner(small_spec(hidden=(12,)), 4, build_dir=sys.argv[1], progress=False, log=lambda *a: None)
"""


@needs_toolchain
@pytest.mark.slow
def test_generated_code_does_not_depend_on_string_hashing(tmp_path):
    """Python orders sets of strings by their hashes, which change from process
    to process; brian2cuda walks a spike monitor's variables in such a set's
    order.  With hash seeds 1 and 2 the monitor's code once came out in two
    orders, so a second start rebuilt the program; now the text is one."""
    here = os.path.dirname(os.path.abspath(__file__))
    hashes = []
    for seed in ("1", "2"):
        proc = subprocess.run([sys.executable, "-c", _CODE_HASH, str(tmp_path / f"build{seed}")], cwd=here,
                              env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        hashes.append(proc.stdout.strip().splitlines()[-1])
    assert len(hashes[0]) == 16 and hashes[0] == hashes[1]


# -- answered before anything is generated or compiled ------------------------
def _no_nvcc(monkeypatch, tmp_path):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CUDA_PATH", raising=False)
    monkeypatch.setattr(cuda, "CUDA_HOMES", ())


def test_missing_nvcc_is_one_clear_line(monkeypatch, tmp_path):
    _no_nvcc(monkeypatch, tmp_path)
    build = tmp_path / "build"
    with pytest.raises(ValueError) as info:
        make_runner("cuda_standalone", small_spec(), 2, build_dir=str(build))
    message = str(info.value)
    assert "\n" not in message
    assert "needs nvcc" in message and "CUDA toolkit" in message
    assert not build.exists()  # nothing generated, nothing compiled
    ok, why = working_devices()["cuda_standalone"]
    assert not ok and "nvcc" in why


def test_missing_brian2cuda_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(cuda, "brian2cuda_version", lambda: None)
    build = tmp_path / "build"
    with pytest.raises(ValueError, match=re.escape("brian2cuda (pip install 'brianrules[cuda]')")):
        cuda.CudaStandaloneRunner(small_spec(), 2, build_dir=str(build))
    assert not build.exists()


def test_missing_curand_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(cuda, "find_curand", lambda nvcc=None: None)
    with pytest.raises(ValueError, match=re.escape("cuRAND (pip install 'brianrules[cuda]'")):
        cuda.CudaStandaloneRunner(small_spec(), 2, build_dir=str(tmp_path / "build"))


def test_cli_train_without_nvcc(monkeypatch, tmp_path, capsys):
    from brianrules.cli import main

    _no_nvcc(monkeypatch, tmp_path)
    code = main(["train", "--device", "cuda_standalone", "--epochs", "1", "--hidden", "5",
                 "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "needs nvcc" in err
    cache = os.environ["BRIANRULES_CACHE"]
    assert not glob.glob(os.path.join(cache, "build", "*cuda*"))


def test_no_gpu_is_refused_before_the_output_or_the_cache_is_touched(monkeypatch, tmp_path, capsys):
    """Compiling takes minutes and the program could not run: train and
    sweep say so first, and a --force does not remove the earlier results."""
    from brianrules.cli import main

    monkeypatch.setattr(cuda, "check_tools", lambda: None)  # as where the toolchain is installed
    monkeypatch.setattr(cuda, "gpus", lambda: [])
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.csv").write_text("epoch,test_acc\n1,0.9\n")
    cache = os.environ["BRIANRULES_CACHE"]
    before = set(glob.glob(os.path.join(cache, "build", "*")))
    code = main(["train", "--device", "cuda_standalone", "--epochs", "1", "--hidden", "5", "--out", str(out),
                 "--force", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no NVIDIA GPU to run the CUDA program" in err
    assert (out / "metrics.csv").read_text() == "epoch,test_acc\n1,0.9\n"
    spec = tmp_path / "s.toml"
    spec.write_text('[base]\ndataset = "digits"\nepochs = 1\ndevice = "cuda_standalone"\n\n'
                    '[grid]\nseed = [0, 1]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 2
    assert "no NVIDIA GPU" in capsys.readouterr().err
    assert not (tmp_path / "sweep" / "points").exists()
    assert set(glob.glob(os.path.join(cache, "build", "*"))) == before


@pytest.mark.parametrize("value,arch", [(9.0, 9.0), ("9.0", 9.0), ("sm_90", 9.0), ("80", 8.0),
                                        ("8.6", 8.6)])
def test_cuda_arch_spellings(value, arch):
    assert cuda.parse_arch(value) == arch


@pytest.mark.parametrize("value", ["hopper", "2.0", "sm_9", ""])
def test_bad_cuda_arch(value):
    with pytest.raises(ValueError, match="compute capability"):
        cuda.parse_arch(value)
