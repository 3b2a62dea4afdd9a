"""Device meshes with axes ("lambda", "data"): stacked λ models sharded over "lambda", batches over "data".

The same code runs on one CPU, a GPU box or a TPU pod slice. On several hosts call
`jax.distributed.initialize()` first (`initialize_distributed`); every host then builds the same mesh over
all global devices, and `global_batch` assembles each host's part of the batch.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXES = ("lambda", "data")


def initialize_distributed(enabled: bool, coordinator_address: str | None = None,
                           num_processes: int | None = None, process_id: int | None = None) -> None:
    """`jax.distributed.initialize()` for multi-process runs (TPU pod slices, SLURM, several GPU hosts,
    or several processes on one machine).

    Must run before anything touches a JAX backend; on Cloud TPU VMs and SLURM the arguments left `None` are
    found automatically (`JAX_COORDINATOR_ADDRESS` is read too). Does nothing when `enabled` is false or it
    already ran.
    """
    if enabled and not jax.distributed.is_initialized():
        jax.distributed.initialize(coordinator_address, num_processes, process_id)


def mesh_shape(num_devices: int, num_lambdas: int, batch_size: int) -> tuple[int, int]:
    """(λ, data) axis sizes: the λ axis gets the largest divisor of both the device count and the number
    of stacked λ models; the data axis the largest divisor of the remaining devices and the batch size."""
    lam = math.gcd(num_devices, num_lambdas)
    data = math.gcd(num_devices // lam, batch_size)
    return lam, data


def make_mesh(num_lambdas: int, batch_size: int, devices: list[Any] | None = None,
              shape: tuple[int, int] | None = None) -> Mesh:
    """A ("lambda", "data") mesh over `devices` (default: all), sized by `mesh_shape` unless `shape` given."""
    devices = list(jax.devices() if devices is None else devices)
    lam, data = shape or mesh_shape(len(devices), num_lambdas, batch_size)
    if lam * data > len(devices):
        raise ValueError(f"mesh {lam}x{data} needs {lam * data} devices, have {len(devices)}")
    if num_lambdas % lam or batch_size % data:
        raise ValueError(f"mesh {lam}x{data} does not divide {num_lambdas} λ models / batch {batch_size}")
    return Mesh(np.asarray(devices[: lam * data]).reshape(lam, data), AXES)


def stacked_sharding(mesh: Mesh, tree: Any) -> Any:
    """Shardings for a λ-stacked pytree: leading axis over "lambda", the rest replicated."""
    def spec(x: Any) -> NamedSharding:
        return NamedSharding(mesh, PartitionSpec("lambda") if np.ndim(x) else PartitionSpec())

    return jax.tree.map(spec, tree)


def replicated_sharding(mesh: Mesh, tree: Any) -> Any:
    """Shardings for a pytree replicated on every device (one model in sequential mode)."""
    return jax.tree.map(lambda _: NamedSharding(mesh, PartitionSpec()), tree)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """NHWC batches split over "data" along N."""
    return NamedSharding(mesh, PartitionSpec("data"))


def lambda_sharding(mesh: Mesh) -> NamedSharding:
    """Per-λ vectors (λ values, rng keys) split over "lambda"."""
    return NamedSharding(mesh, PartitionSpec("lambda"))


def global_batch(batch: np.ndarray, sharding: NamedSharding) -> jax.Array:
    """Place a host batch (the same global batch on every host) onto the mesh."""
    if jax.process_count() == 1:
        return jax.device_put(batch, sharding)
    return jax.make_array_from_callback(batch.shape, sharding, lambda idx: batch[idx])
