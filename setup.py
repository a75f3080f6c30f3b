from setuptools import find_packages, setup

setup(
    name="brianrules",
    version="0.1.0",
    description="Train networks of LIF neurons with local alternatives to backpropagation, "
    "declared as Brian2 equations and run as generated C++.",
    packages=find_packages(include=["brianrules", "brianrules.*"]),
    python_requires=">=3.12",
    install_requires=[
        "brian2==2.10.1",
        "sympy>=1.12",
        "numpy>=1.26",
        "matplotlib>=3.8",
        "scikit-learn>=1.4",
        "mlxtend>=0.23",
    ],
    extras_require={
        "test": ["pytest>=8", "dask[distributed]>=2024.1", "jax[cpu]>=0.4", "nir>=1.0", "h5py>=3.8",
                 "nest-simulator>=3.8"],
        # `brianrules bench --eprop-nest N`: e-prop's sine task on NEST beside this package's engines
        "bench": ["nest-simulator>=3.8"],
        # the Spiking Heidelberg Digits loader (brianrules.data.events.load_shd)
        "events": ["h5py>=3.8"],
        # `brianrules export RUN --nir FILE` and `brianrules train --model FILE.nir` (brianrules.io.nir_graph)
        "nir": ["nir>=1.0"],
        # the JAX engine (brianrules.engines.jax_step): the discretised network as a JAX function
        "jax": ["jax[cpu]>=0.4"],
        # `brianrules sweep --executor dask`: points on a Dask distributed cluster
        "dask": ["dask[distributed]>=2024.1"],
        # device cuda_standalone: brian2cuda, and cuRAND for CUDA 13 (NVIDIA's wheel
        # ships nvidia/cu13/include/curand.h and nvidia/cu13/lib/libcurand.so.10 from
        # version 10.4 on; 0.0.0a0 is an empty placeholder)
        "cuda": ["brian2cuda==1.0b1", "nvidia-curand>=10.4"],
    },
    entry_points={"console_scripts": ["brianrules=brianrules.cli:main"]},
)
