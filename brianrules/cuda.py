"""The ``cuda_standalone`` device: a `Model` as a brian2cuda program.

Brian2CUDA (Alevi et al. 2022, "Brian2CUDA: flexible and efficient simulation
of spiking neural network models on GPUs", Front. Neuroinform.) generates a
CUDA project from the same Brian2 objects that ``cpp_standalone`` turns into
C++.  `CudaStandaloneRunner` builds that project once and runs it many times
with ``run_args``, exactly as `devices.StandaloneRunner` does for C++.

What it needs, and what it does about it:

- ``nvcc`` (a CUDA toolkit), the ``brian2cuda`` package and cuRAND (brian2cuda
  links every program with ``-lcurand``).  ``pip install 'brianrules[cuda]'``
  brings brian2cuda and NVIDIA's ``nvidia-curand`` wheel, whose header and
  library lie inside site-packages (``nvidia/cu13/include/curand.h``,
  ``nvidia/cu13/lib/libcurand.so.10``); the runner adds both folders to
  ``prefs.codegen.cpp.include_dirs`` / ``library_dirs`` and provides the
  ``libcurand.so`` name that ``-lcurand`` looks for, in a folder of the build.
- The GPU architecture comes from the ``cuda_arch`` argument, else from the
  GPU that ``nvidia-smi`` reports, else compute capability 9.0.  brian2cuda's
  own GPU detection is switched off
  (``prefs.devices.cuda_standalone.cuda_backend.detect_gpus = False`` with
  ``gpu_id`` 0 and ``compute_capability`` set by hand, as its preference docs
  require): it would override ``cuda_arch`` where there is a GPU, and it
  fails where there is none.  So the program can be generated and compiled on
  any machine with ``nvcc``; only running it needs a GPU (the first one).
- A finished build leaves a stamp (`program.BUILD_STAMP`, see
  `program_identity`) with a hash of the generated code, as the C++ runner
  does: a later start whose program matches it runs the binary without
  writing the project again or running ``make``.
- The project is generated with ``device.build(compile=False, run=False)``
  (see "Multiple builds / run_args" in the Brian2 standalone docs and
  brian2cuda's ``CUDAStandaloneDevice.build``).  brian2cuda 1.0b1 writes
  ``-std=c++11`` into its makefile, but the Thrust/CUB headers of CUDA 13 need
  C++17, so the runner replaces the flag and runs ``make`` itself.
- brian2cuda 1.0b1's program lowercases every value it is given on its
  command line before it reads it (``set_variable_by_name`` in its
  ``objects.cu``, so that "True" reads as "true"), file names too; Brian2
  names a value file after its group and variable (``init_B_1_B_<md5>.dat``
  for the feedback matrix ``B_1.B``), so the program looked for a file that
  did not exist, said so on standard error and ran on without the values.
  The runner's device (`_lowercase_value_files`) writes those files under
  lowercase names, and every standalone run fails when its program reports a
  value file it could not read (`program.check_values_read`).
"""

import functools
import glob
import logging
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

from .program import CompiledProgram, same_time_device, sort_runs, usable_cores

INSTALL_HINT = "pip install 'brianrules[cuda]'"
#: where a CUDA toolkit usually lives when ``nvcc`` is not on PATH
CUDA_HOMES = ("/usr/local/cuda", "/opt/cuda")
#: compute capability compiled for when none is given and no GPU is found
#: (9.0: Hopper, e.g. H100 / H200)
DEFAULT_ARCH = 9.0


class NoGPUError(ValueError):
    """The CUDA program was built, but this machine has no GPU to run it."""


# -- what this machine has ---------------------------------------------------
def find_nvcc():
    """Path of ``nvcc``: $CUDA_PATH/bin, PATH, then the usual toolkit folders."""
    cands = []
    if os.environ.get("CUDA_PATH"):
        cands.append(os.path.join(os.environ["CUDA_PATH"], "bin", "nvcc"))
    on_path = shutil.which("nvcc")
    if on_path:
        cands.append(on_path)
    cands += [os.path.join(home, "bin", "nvcc") for home in CUDA_HOMES]
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def brian2cuda_version():
    """The installed brian2cuda version, or None (without importing it)."""
    from importlib import metadata

    try:
        return metadata.version("brian2cuda")
    except metadata.PackageNotFoundError:
        return None


def _site_dirs():
    import site
    import sysconfig

    dirs = []
    for d in [*sys.path, sysconfig.get_paths().get("purelib"), sysconfig.get_paths().get("platlib"),
              *getattr(site, "getsitepackages", lambda: [])()]:
        if d and os.path.isdir(d) and d not in dirs:
            dirs.append(d)
    return dirs


def find_curand(nvcc=None):
    """``(include_dir, library_file)`` of cuRAND, or None.

    NVIDIA's wheels first (``nvidia/cu*/`` or ``nvidia/curand/`` in
    site-packages), then the toolkit that holds ``nvcc``.
    """
    for d in _site_dirs():
        for inc in sorted(glob.glob(os.path.join(d, "nvidia", "*", "include", "curand.h")), reverse=True):
            root = os.path.dirname(os.path.dirname(inc))
            libs = sorted(glob.glob(os.path.join(root, "lib", "libcurand.so*")))
            if libs:
                return os.path.dirname(inc), libs[0]
    homes = []
    if nvcc:
        homes.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    if os.environ.get("CUDA_PATH"):
        homes.append(os.environ["CUDA_PATH"])
    homes += list(CUDA_HOMES)
    for home in homes:
        for sub in ("", os.path.join("targets", "x86_64-linux")):
            inc = os.path.join(home, sub, "include", "curand.h")
            libs = sorted(glob.glob(os.path.join(home, sub, "lib*", "libcurand.so*")))
            if os.path.isfile(inc) and libs:
                return os.path.dirname(inc), libs[0]
    return None


def gpus():
    """``[(name, compute_capability or None), ...]`` of the NVIDIA GPUs here."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0:
            found = []
            for line in out.stdout.splitlines():
                name, _, cap = line.rpartition(",")
                if not name.strip():
                    continue
                try:
                    found.append((name.strip(), float(cap)))
                except ValueError:
                    found.append((name.strip(), None))
            if found:
                return found
    # a container may expose the device without nvidia-smi
    if os.path.exists("/dev/nvidia0"):
        return [("NVIDIA GPU (/dev/nvidia0)", None)]
    return []


def parse_arch(value):
    """A compute capability as a float: 9.0, "9.0", "90" or "sm_90" -> 9.0."""
    text = str(value).strip().lower()
    m = re.fullmatch(r"(?:sm_?|compute_?)?(\d+)(\d)", text)
    if m:
        return float(f"{m.group(1)}.{m.group(2)}")
    try:
        arch = float(text)
    except ValueError:
        arch = None
    if arch is None or not (5.0 <= arch < 20):
        raise ValueError(f"cuda_arch must be a compute capability such as 9.0 or sm_90, got {value!r}")
    return round(arch, 1)


def missing_tools():
    """What ``cuda_standalone`` lacks here, as short phrases (empty: nothing)."""
    missing = []
    nvcc = find_nvcc()
    if nvcc is None:
        missing.append("nvcc (install the CUDA toolkit, or put its bin folder on PATH or in CUDA_PATH)")
    if brian2cuda_version() is None:
        missing.append(f"brian2cuda ({INSTALL_HINT})")
    if find_curand(nvcc) is None:
        missing.append(f"cuRAND ({INSTALL_HINT}, which brings nvidia-curand)")
    return missing


def check_tools():
    """Raise ValueError, one line, when something the build needs is missing."""
    missing = missing_tools()
    if missing:
        raise ValueError("device cuda_standalone needs " + "; ".join(missing))


def status():
    """``(works, why)`` for `devices.working_devices`."""
    missing = missing_tools()
    if missing:
        return False, "missing " + "; ".join(missing)
    found = f"nvcc {find_nvcc()}, brian2cuda {brian2cuda_version()}, cuRAND {find_curand(find_nvcc())[1]}"
    here = gpus()
    if not here:
        return False, f"compile only, no NVIDIA GPU to run on (nvidia-smi, /dev/nvidia0); {found}"
    names = ", ".join(n if cap is None else f"{n} (compute capability {cap})" for n, cap in here)
    return True, f"GPU {names}; {found}"


def default_arch():
    caps = [cap for _, cap in gpus() if cap is not None]
    return caps[0] if caps else DEFAULT_ARCH


# -- the runner ----------------------------------------------------------------
class CudaStandaloneRunner(CompiledProgram):
    """A brian2cuda program compiled once and run with ``run_args``.

    Same interface as `devices.StandaloneRunner`; ``threads`` is accepted for
    that and not used (the parallelism is the GPU's).
    """

    device = "cuda_standalone"

    def __init__(self, spec, n_samples, threads=1, build_dir=None, log=print, progress=True,
                 cuda_arch=None, monitors=None, jobs=None):
        check_tools()  # before anything is generated or compiled
        arch = parse_arch(cuda_arch) if cuda_arch is not None else default_arch()
        nvcc = find_nvcc()
        curand_include, curand_lib = find_curand(nvcc)

        import brian2cuda  # noqa: F401  (registers the "cuda" code generation target)
        from brian2 import prefs, set_device
        from brian2cuda.device import CUDAStandaloneDevice
        from brian2cuda.utils import gputools

        from .program import canonical_clock_order, generated_code_hash, restore_runtime, same_code_everywhere
        from .build.key import structure_hash

        self.spec = spec
        self.n_samples = n_samples
        self.arch = arch
        self.log = log
        key = structure_hash(spec, n_samples) + f"-cuda-sm{int(round(arch * 10))}"
        build_dir = self._claim_build_dir(build_dir, key)

        # `-lcurand` wants libcurand.so; the wheel has only libcurand.so.10
        lib_dir = os.path.dirname(curand_lib)
        link_dirs = [lib_dir]
        if not os.path.exists(os.path.join(lib_dir, "libcurand.so")):
            link_dir = os.path.join(build_dir, "curand_link")
            os.makedirs(link_dir, exist_ok=True)
            link = os.path.join(link_dir, "libcurand.so")
            if os.path.realpath(link) != os.path.realpath(curand_lib):
                if os.path.lexists(link):
                    os.remove(link)
                os.symlink(curand_lib, link)
            link_dirs.insert(0, link_dir)

        same_code_everywhere()
        self._device = _lowercase_value_files(same_time_device(CUDAStandaloneDevice))()
        set_device(self._device, directory=build_dir, build_on_run=False)
        saved = {name: _copy(prefs[name]) for name in _PREFS}
        chatter = logging.getLogger("brian2.brian2cuda")  # a line per preference at INFO level
        level = chatter.level
        chatter.setLevel(logging.WARNING)
        generator = logging.getLogger("brian2.brian2cuda.cuda_generator")
        generator.addFilter(_not_the_integer_warning)
        try:
            backend = prefs.devices.cuda_standalone.cuda_backend
            backend.cuda_path = os.path.dirname(os.path.dirname(nvcc))
            # our own detection (`gpus`, `default_arch`) chose the architecture: brian2cuda's
            # would replace a --cuda-arch given on a machine with a GPU by the GPU's own, and
            # without one it cannot run; with it off, gpu_id and compute_capability are needed
            backend.detect_gpus = False
            backend.gpu_id = 0
            backend.compute_capability = float(arch)
            prefs.codegen.cpp.include_dirs = list(prefs.codegen.cpp.include_dirs) + [curand_include]
            prefs.codegen.cpp.library_dirs = list(prefs.codegen.cpp.library_dirs) + link_dirs
            prefs.codegen.cpp.runtime_library_dirs = list(prefs.codegen.cpp.runtime_library_dirs) + [lib_dir]
            # brian2cuda caches what it detected once per process: detect again
            gputools.reset_cuda_installation()
            gputools.reset_gpu_selection()

            prefs.core.default_float_dtype = getattr(np, spec.dtype)  # restored with the others
            self._populate(monitors, progress)
            t0 = time.perf_counter()
            self._device.main_queue[:] = canonical_run_lines(canonical_clock_order(self._device.main_queue))
            identity = {**program_identity(key, nvcc, curand_lib), "code": generated_code_hash(self._device)}
            self.makefile = os.path.join(build_dir, "makefile")

            def build():
                self._device.build(directory=build_dir, compile=False, run=False, with_output=False)
                _use_cxx17(self.makefile)
                self._make(jobs)

            self._build_unless_stamped(identity, build)
            self.compile_s = time.perf_counter() - t0
        finally:
            for name, value in saved.items():
                prefs[name] = value
            chatter.setLevel(level)
            generator.removeFilter(_not_the_integer_warning)
            restore_runtime()

    def _make(self, jobs=None):
        jobs = jobs or usable_cores()
        pending = subprocess.run(["make", "-q"], cwd=self.build_dir, capture_output=True).returncode != 0
        if pending:
            self.log(f"compiling the CUDA program for sm_{int(round(self.arch * 10))} with make -j{jobs} "
                     f"in {self.build_dir} (a few minutes)")
        proc = subprocess.run(["make", f"-j{jobs}"], cwd=self.build_dir, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
            raise RuntimeError(f"compiling the CUDA program in {self.build_dir} failed:\n{tail}")

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0, optimizer_state=None,
            on_progress=None):
        if not gpus():
            raise NoGPUError(
                "cuda_standalone: the CUDA program is compiled "
                f"({os.path.join(self.build_dir, 'main')}) but this machine has no NVIDIA GPU to run it "
                "(no GPU from nvidia-smi, no /dev/nvidia0)"
            )
        return super().run(weights, feedback, stim, tgt, learn, noise_seed, lr_scale, optimizer_state,
                           on_progress=on_progress)


def canonical_run_lines(queue):
    """brian2cuda lists a network's clocks (for its random-number buffer, and
    those without code) in the order of a set, which differs from process
    to process.  Those lines all come before the code objects and call the
    same function, so their order among themselves does not matter: sorted,
    ``main.cu`` is the same text in every process (the build stamp matches,
    and ``make`` finds nothing to do)."""
    out = []
    for func, args in queue:
        if func == "run_network" and isinstance(args, tuple) and len(args) == 2 and isinstance(args[1], list):
            lines = args[1]
            for suffix in (", _run_random_number_buffer);", ", NULL);"):
                lines = sort_runs(lines, lambda line, suffix=suffix: line.endswith(suffix))
            args = (args[0], lines)
        out.append((func, args))
    return out


def nvcc_version(nvcc):
    """The last line of ``nvcc --version`` (its release and build)."""
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.strip().splitlines()
    return lines[-1] if lines else None


def program_identity(key, nvcc, curand_lib):
    """Everything besides the key that decides the CUDA binary, with the
    runner's preferences in force: the versions of Brian2, brian2cuda and
    nvcc, cuRAND, the C++ flags and folders, and every brian2cuda preference
    (``devices.cuda_standalone.*``: the architecture, nvcc's flags, ...)."""
    from brian2 import __version__ as brian2_version
    from brian2 import prefs

    return {"key": key, "brian2": brian2_version, "brian2cuda": brian2cuda_version(), "nvcc": nvcc,
            "nvcc_version": nvcc_version(nvcc), "curand": curand_lib, "CXX": os.environ.get("CXX"),
            "cpp": {name: repr(prefs[name]) for name in ("codegen.cpp.extra_compile_args_gcc",
                                                         "codegen.cpp.extra_link_args", "codegen.cpp.define_macros",
                                                         "codegen.cpp.include_dirs", "codegen.cpp.library_dirs",
                                                         "codegen.cpp.runtime_library_dirs", "codegen.cpp.libraries")},
            "cuda": {name: repr(value) for name, value in sorted(prefs.items())
                     if name.startswith("devices.cuda_standalone.")}}


#: preferences the runner sets for its build and restores afterwards
_PREFS = (
    "core.default_float_dtype",
    "devices.cuda_standalone.cuda_backend.cuda_path",
    "devices.cuda_standalone.cuda_backend.detect_gpus",
    "devices.cuda_standalone.cuda_backend.gpu_id",
    "devices.cuda_standalone.cuda_backend.compute_capability",
    "codegen.cpp.include_dirs",
    "codegen.cpp.library_dirs",
    "codegen.cpp.runtime_library_dirs",
)


def _not_the_integer_warning(record):
    """brian2cuda warns, once per process and over 30 lines, where a 64-bit
    integer and a C99 function share a line of generated code: a conversion
    to double loses digits above 2**53.  The integers of the models' lines
    are 0/1 flags (the exact integrator's ``int(|...| < 0.001)``) and time
    step counts, far below that, so the warning is left out."""
    return not str(record.msg).startswith("Detected code statement with default function and 64bit integer")


@functools.cache
def _lowercase_value_files(device_class):
    """``device_class`` whose ``run_args`` value files have lowercase names:
    the brian2cuda program lowercases the file name it is given before it
    opens it (see the module's notes)."""

    def lower(prepared):
        name, string_value, value_name, value_ar = prepared
        if value_name is not None:
            value_name, string_value = value_name.lower(), os.path.join("static_arrays", value_name.lower())
        return name, string_value, value_name, value_ar

    class LowercaseValueFiles(device_class):
        def _prepare_variableview_run_arg(self, key, value):
            return lower(super()._prepare_variableview_run_arg(key, value))

        def _prepare_timed_array_run_arg(self, key, value):
            return lower(super()._prepare_timed_array_run_arg(key, value))

    LowercaseValueFiles.__name__ = LowercaseValueFiles.__qualname__ = device_class.__name__
    return LowercaseValueFiles


def _copy(value):
    return list(value) if isinstance(value, list) else value


def _use_cxx17(makefile):
    """CUDA 13's Thrust and CUB need C++17; brian2cuda 1.0b1 asks for C++11."""
    with open(makefile) as f:
        text = f.read()
    new = text.replace("-std=c++11", "-std=c++17")
    if new != text:
        with open(makefile, "w") as f:
            f.write(new)
