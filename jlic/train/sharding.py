"""Device meshes with axes ("lambda", "data"): stacked λ models sharded over "lambda", batches over "data".

The same code runs on one CPU, a GPU box or a TPU pod slice. On several hosts call
`jax.distributed.initialize()` first (`initialize_distributed`); every host then builds the same mesh over
all global devices. The "data" axis runs across processes (`device_grid`), so on N processes that split
the batch, process p holds rows [p B/N, (p+1) B/N) of every global batch of B: `process_rows` says which
rows a process holds, it reads only those (`jlic.data.pipeline.train_dataset(rows=...)`), and
`global_batch` assembles the processes' parts into one global array without any host seeing the rest.
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


def device_grid(devices: list[Any], lam: int, data: int) -> np.ndarray:
    """`lam` x `data` devices for a ("lambda", "data") mesh, with the data axis running across processes.

    Devices are ordered by (process, id) and laid out data-major: mesh[l, d] = devices[d * lam + l]. A
    process's devices then fill whole columns of the data axis where it has at least `lam` of them, so the
    processes hold disjoint, contiguous blocks of every batch (data parallelism between hosts, where the
    network is slower, and the λ models within a host). With one process this is a relabelling of devices.
    """
    ordered = sorted(devices, key=lambda d: (getattr(d, "process_index", 0), d.id))[: lam * data]
    return np.asarray(ordered, dtype=object).reshape(data, lam).T


def make_mesh(num_lambdas: int, batch_size: int, devices: list[Any] | None = None,
              shape: tuple[int, int] | None = None) -> Mesh:
    """A ("lambda", "data") mesh over `devices` (default: all), sized by `mesh_shape` unless `shape` given."""
    devices = list(jax.devices() if devices is None else devices)
    lam, data = shape or mesh_shape(len(devices), num_lambdas, batch_size)
    if lam * data > len(devices):
        raise ValueError(f"mesh {lam}x{data} needs {lam * data} devices, have {len(devices)}")
    if num_lambdas % lam or batch_size % data:
        raise ValueError(f"mesh {lam}x{data} does not divide {num_lambdas} λ models / batch {batch_size}")
    return Mesh(device_grid(devices, lam, data), AXES)


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


def process_rows(sharding: NamedSharding, batch_size: int) -> tuple[int, int]:
    """Rows [lo, hi) of every global batch of `batch_size` that this process's devices hold under
    `sharding` (the whole batch with one process; B/N rows on N processes that split the data axis)."""
    rows = {(s.start or 0, batch_size if s.stop is None else s.stop)
            for s, *_ in sharding.addressable_devices_indices_map((batch_size,)).values()}
    lo, hi = min(r[0] for r in rows), max(r[1] for r in rows)
    covered = sorted(rows)
    if any(b[0] > a[1] for a, b in zip(covered, covered[1:], strict=False)):  # device_grid never lays out a gap
        raise ValueError(f"process {jax.process_index()} holds non-contiguous rows {covered} of the batch")
    return lo, hi


def global_batch(batch: np.ndarray, sharding: NamedSharding, batch_size: int | None = None) -> jax.Array:
    """One global (batch_size, ...) array from each process's rows `process_rows(sharding, batch_size)`
    (`batch`: this process's part; with one process, the whole batch)."""
    if jax.process_count() == 1:
        return jax.device_put(batch, sharding)
    shape = (batch.shape[0] if batch_size is None else batch_size, *batch.shape[1:])
    return jax.make_array_from_process_local_data(sharding, batch, shape)
