"""Data-parallel training in the workbench: `mpiexec -n N tinygen train MODEL ...`.

The rules (written into the run's config.json as "data_parallel"):
  - Global batch. The loader is the single-process loader, seeded the same on every rank, so
    every rank sees the same global batch of --batch-size samples (the single-process batch);
    rank r trains on its slice of it, in rank order, np.array_split's sizes (equal shares when
    the batch divides by N; a partial last batch may not). Loading the whole batch on every rank
    costs little here (the datasets are in memory) and keeps one loader state for every rank,
    so a checkpoint resumes every rank. A DistributedSampler would give each rank every N-th
    sample of the epoch instead, and the global batches would differ from one process's.
  - Gradients. The same as one process on the global batch: each trained module's gradients
    are averaged over ranks during backward by DistributedDataParallel's Reducer (buckets in
    reverse registration order, each all-reduced as soon as it is complete, overlapping the rest
    of backward). The workbench arms the reducers before each step itself instead of swapping
    DDP wrappers into the recipe: DDP intercepts forward() only, and recipes call other methods
    in their steps (flows' log_prob, the U-Net's null label, the critic inside the gradient
    penalty). A recipe's loss is a mean over its batch (Recipe.loss_reduction = "mean") or a
    sum ("sum", the VAE's); where the shares are unequal, or the loss is a sum, each rank's
    gradient is weighted (world_size * n_r / n for a mean, world_size for a sum) before the
    average, so the result is still the gradient of the global batch's loss. A rank whose
    share would be empty (a last batch smaller than N) gets one sample of weight zero. (seq2seq's
    loss is a mean over the tokens that are not padding: weighted by samples, it equals one
    process's only up to the ranks' different token counts.)
  - Learning rate. Unchanged: the global batch is the single-process batch, so the
    single-process learning rate and schedule apply as they are (no linear scaling rule).
  - Randomness. Rank 0 draws from the run's seeded stream, as one process does; rank r > 0 from
    its own stream (SeedSequence([seed, r])), so noise drawn in a step (dropout, a VAE's z, a
    diffusion step's t and noise, a GAN's z) is independent across ranks; those runs equal one
    process in distribution, not bit for bit. A checkpoint holds every rank's stream.
  - BatchNorm normalises with each rank's own batch statistics (no SyncBatchNorm); rank 0's
    buffers are broadcast before each step, as DDP does before each forward.
  - Files. Rank 0 alone writes (logs, samples, plots, checkpoints); every rank reads the
    checkpoint back on --resume, so the run folder must be on a file system every rank sees.
  - Metrics. Each logged training metric is the mean over ranks weighted by their samples; the
    evaluation runs on rank 0 alone (the whole test set), or split over the ranks where the
    recipe says it can (Recipe.evaluates_in_parallel: the text models' validation batches).
"""
from __future__ import annotations

import zlib

import numpy as np

import tinygen as tg
from .. import distributed as dist
from ..backend.random import get_state, set_state
from ..distributed.collectives import broadcast_coalesced
from ..distributed.group import default_group
from ..distributed.reducer import Reducer, verify_same_parameters
from .errors import RunError, UsageError

BUCKET_CAP_MB = 25              # DistributedDataParallel's default


class DataParallel:
    """The ranks' side of a data-parallel run: set up once the recipe is built (every rank must
    build the same recipe), then `shard` each global batch, `before_step`, and `reduce` the step's
    metrics."""

    def __init__(self, recipe, batch_size):
        self.group = default_group("the workbench")
        self.rank, self.size = self.group.rank, self.group.size
        if batch_size < self.size:
            raise UsageError(f"--batch-size {batch_size}: smaller than the {self.size} ranks; "
                             "the global batch is split over the ranks, so give each at least "
                             f"one sample (--batch-size {self.size} or more)")
        if recipe.loss_reduction not in ("mean", "sum"):
            raise ValueError(f"{type(recipe).__name__}.loss_reduction must be 'mean' or 'sum', "
                             f"got {recipe.loss_reduction!r}")
        self.recipe = recipe
        self.batch_size = batch_size
        self.reduction = recipe.loss_reduction
        self.scale = 1.0                     # this step's gradient weight (see _scale_hook)
        every = [t for m in recipe.modules.values() for t in (*m.parameters(), *m.buffers())]
        broadcast_coalesced(every, 0)        # rank 0's start everywhere (DDP's construction)
        trained = {id(p) for opt in recipe.optimizers.values() for g in opt.param_groups
                   for p in g["params"]}
        self.reducers, self.trained_modules = [], []
        for name, module in recipe.modules.items():
            named = [(f"{name}.{n}", p) for n, p in module.named_parameters()
                     if p.requires_grad and id(p) in trained]
            if not named:
                continue                     # a module no optimiser trains (an EMA copy)
            names, params = [n for n, _ in named], [p for _, p in named]
            verify_same_parameters(params, names, self.group, "data-parallel training")
            self.reducers.append(Reducer(params, names, self.group,
                                         int(BUCKET_CAP_MB * 1024 * 1024)))
            self.trained_modules.append(module)
            for p in params:
                p.register_hook(self._scale_hook)
        self.buffers = [b for m in self.trained_modules for b in m.buffers()]
        self.first_step = True

    # -- the rules, for config.json ---------------------------------------------------------------
    def describe(self):
        shares = [len(s) for s in np.array_split(np.arange(self.batch_size), self.size)]
        return {"world_size": self.size, "backend": self.group.backend,
                "global_batch_size": self.batch_size, "per_rank_batch_size": shares,
                "batch_rule": "every rank loads the single-process global batch and trains on "
                              "its slice (rank order, np.array_split sizes)",
                "gradient_rule": "DDP's Reducer averages the gradients over ranks during "
                                 f"backward; loss_reduction={self.reduction!r}, so each rank's "
                                 "gradient is weighted to equal the global batch's",
                "lr_rule": "unchanged: the global batch is the single-process batch, so the "
                           "single-process learning rate and schedule apply (no linear "
                           "scaling)",
                "rng_rule": "rank 0 draws the run's seeded stream; rank r > 0 its own "
                            "(SeedSequence([seed, r]))"}

    # -- each step ------------------------------------------------------------------------------
    def shard(self, batch):
        """This rank's slice of a global batch (a Tensor, or a tuple/list of Tensors with the
        same first dimension), and the number of samples behind it (0: a weight-zero stand-in)."""
        tensors = [batch] if isinstance(batch, tg.Tensor) else list(batch)
        n = int(tensors[0].shape[0])
        bounds = np.cumsum([0] + [len(s) for s in np.array_split(np.arange(n), self.size)])
        start, stop = int(bounds[self.rank]), int(bounds[self.rank + 1])
        count = stop - start
        if count == 0:                       # fewer samples than ranks: a stand-in of weight 0
            start, stop = n - 1, n
        parts = [t[start:stop] for t in tensors]
        if self.reduction == "mean":
            self.scale = self.size * count / n
        else:
            self.scale = float(self.size) if count else 0.0
        local = parts[0] if isinstance(batch, tg.Tensor) else type(batch)(parts)
        return local, count

    def before_step(self):
        """Rank 0's buffers everywhere (BatchNorm's statistics, as DDP before each forward), and
        the reducers armed for this step's backward passes."""
        if self.buffers:
            broadcast_coalesced(self.buffers, 0)
        for reducer in self.reducers:
            reducer.prepare_for_backward()

    def after_step(self):
        """After a launch's first step, rank 0's parameters and buffers everywhere once more: a
        data-dependent initialisation (Glow's ActNorm) has seen each rank's own slice."""
        if self.first_step:
            self.first_step = False
            every = [t for m in self.recipe.modules.values()
                     for t in (*m.parameters(), *m.buffers())]
            broadcast_coalesced(every, 0)

    def _scale_hook(self, grad):
        return grad if self.scale == 1.0 else grad * self.scale

    def reduce(self, metrics, count, stop):
        """The step's metrics averaged over ranks, weighted by their samples, and whether any
        rank was asked to stop (Ctrl-C reaches the ranks at different steps; they must stop at
        the same one): one all-reduce."""
        names = list(metrics)
        packed = tg.tensor([float(metrics[k]) * count for k in names] + [count, float(stop)],
                           dtype=tg.float64)
        dist.all_reduce(packed)
        values = packed.numpy().tolist()
        total = values[-2]
        return {k: v / total for k, v in zip(names, values)}, values[-1] > 0

    # -- checkpoints ------------------------------------------------------------------------------
    def gather_rng(self, device_type):
        """Every rank's random streams, in rank order (for trainer.json)."""
        state = {"rng": get_state()}
        if device_type == "test":
            state["device_rng"] = get_state(device_type)
        states = [None] * self.size
        dist.all_gather_object(states, state)
        return states

    def check_parameters_agree(self):
        """RunError if the ranks' parameters differ (they must, after every step, be equal)."""
        crc = 0
        for module in self.recipe.modules.values():
            for p in module.parameters():
                crc = zlib.crc32(np.ascontiguousarray(p.detach().cpu().numpy()).tobytes(), crc)
        every = [None] * self.size
        dist.all_gather_object(every, crc)
        if any(c != every[0] for c in every):
            raise RunError(f"data-parallel training: the ranks' parameters differ (checksums "
                           f"{every}); a step changed them on some ranks only")


def seed_rank_stream(seed, rank, device_type):
    """Rank r > 0's own random stream for a new run (rank 0 keeps the run's)."""
    if rank == 0:
        return
    state = np.random.PCG64(np.random.SeedSequence([seed, rank])).state
    set_state(state)
    if device_type == "test":
        set_state(np.random.PCG64(np.random.SeedSequence([seed, rank, 1])).state, device_type)
