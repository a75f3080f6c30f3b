"""A counter-based uniform random number for Poisson input spikes.

``hash_uniform(seed, step, index)`` maps three integers to a number in [0, 1)
through the SplitMix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA).  Unlike Brian2's ``rand()``, whose
stream depends on the device and on how many numbers were drawn before, the
value depends only on its arguments.  Hence

- runtime, C++ standalone and CUDA programs draw the *same* input spikes, so
  their results can be compared number for number;
- the seed is an ordinary ``(shared, constant)`` variable: every epoch and every
  sweep point sets it through ``run_args`` without recompiling.
"""

import numpy as np
from brian2 import Function

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_MASK = (1 << 64) - 1


def hash_uniform_numpy(seed, step, index):
    """Vectorised NumPy form; identical bits to the generated C++ code."""
    with np.errstate(over="ignore"):
        s = np.asarray(seed, dtype=np.int64).astype(np.uint64)
        n = np.asarray(step, dtype=np.int64).astype(np.uint64)
        k = np.asarray(index, dtype=np.int64).astype(np.uint64)
        z = (s * np.uint64(_GOLDEN)) ^ (n * np.uint64(_MIX1)) ^ (k * np.uint64(_MIX2))
        z = z + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
        z = z ^ (z >> np.uint64(31))
        return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


_CPP_BODY = """
static inline double _brianrules_hash_uniform(const long long seed, const long long step, const long long index)
{
    unsigned long long z = ((unsigned long long)seed * 0x9E3779B97F4A7C15ULL)
                         ^ ((unsigned long long)step * 0xBF58476D1CE4E5B9ULL)
                         ^ ((unsigned long long)index * 0x94D049BB133111EBULL);
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= (z >> 31);
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
"""

CPP_CODE = {"support_code": _CPP_BODY}
CUDA_CODE = {"support_code": "__host__ __device__ " + _CPP_BODY.strip()}


def _pyfunc(seed, step, index):
    return hash_uniform_numpy(seed, step, index)


def make_function():
    """A Brian2 `Function` with NumPy, C++ and CUDA implementations."""
    f = Function(
        _pyfunc,
        arg_units=[1, 1, 1],
        return_unit=1,
        arg_types=["integer", "integer", "integer"],
        return_type="float",
        stateless=True,
        auto_vectorise=False,
    )
    f.implementations.add_implementation(
        "cpp", code=CPP_CODE, name="_brianrules_hash_uniform"
    )
    try:  # brian2cuda is optional
        f.implementations.add_implementation(
            "cuda", code=CUDA_CODE, name="_brianrules_hash_uniform"
        )
    except Exception:  # pragma: no cover - without brian2cuda the target is unknown
        pass
    return f


def mix_seed(*parts):
    """Combine integers (user seed, epoch, purpose) into one 31-bit seed."""
    z = 0
    for p in parts:
        z = (z * _GOLDEN + int(p) + 0x632BE59BD9B4E019) & _MASK
        z = ((z ^ (z >> 30)) * _MIX1) & _MASK
        z = ((z ^ (z >> 27)) * _MIX2) & _MASK
        z ^= z >> 31
    return int(z & 0x7FFFFFFF)
