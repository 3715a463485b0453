"""The workbench: the training loop around a Recipe, and everything a run writes (the files are
listed in run_folder.py).

Resume is exact: the checkpoint holds the model, the optimisers, the loader's position in its
shuffled epoch and the global RNG, so a resumed run's losses equal those of an uninterrupted run
with the same seed, bit for bit on the CPU. Evaluation and sampling run on a forked RNG
(tinygen.backend.random.fork_rng), so they never shift the training stream. Every file is written
atomically (tinygen.io.atomic_write), except metrics.jsonl, which grows a line at a time (a resume
cuts it back to the checkpoint's step).

Under `mpiexec -n N` (N > 1) the run is data-parallel: the workbench joins the process group,
every rank trains on its slice of each global batch, and rank 0 alone writes the folder; the
rules are in parallel.py and in the run's config.json ("data_parallel"). One process runs exactly
as before.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sys
import threading
import time
import traceback

import tinygen as tg
from .. import distributed as dist
from ..backend.random import fork_rng, get_state, set_state
from ..io import CheckpointError, atomic_write
from ..quantization import apply_plan
from .datasets import load_data
from .errors import RunError, UsageError
from .parallel import DataParallel, seed_rank_stream
from .plots import plot_curves, read_metrics
from .recipes import RunConfig, get_recipe
from .run_folder import (CHECKPOINT, CONFIG, CURVES, FIXED_SETTINGS, METRICS, OPTIMIZER,
                         SAMPLES, STAGING, TRAINER, check_digests, claim, clear_run,
                         commit_staged, digest, held_by_live_process, load_module_state,
                         module_state, read_config, read_json_object, read_run_file, write_json)
from .tensorboard import TensorBoardLog


class _StopOnCtrlC:
    """The first Ctrl-C asks the loop to stop after the current step (then it checkpoints); a
    second one interrupts at once. Only in the main thread, where Python delivers signals."""

    def __init__(self, progress):
        self.progress = progress
        self.requested = False
        self.previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.progress.write("Ctrl-C: finishing this step, then saving a checkpoint "
                            "(Ctrl-C again to quit at once)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


class Progress:
    """tqdm on a terminal; plain lines (every `every` steps) elsewhere, e.g. in CI logs."""

    def __init__(self, total, start, desc, every=100):
        self.tty = sys.stderr.isatty()
        self.every = every
        self.bar = None
        self.t0 = time.perf_counter()
        self.start = start
        if self.tty:
            from tqdm import tqdm  # lazy: start-up time; only a terminal shows a bar
            self.bar = tqdm(total=total, initial=start, desc=desc, dynamic_ncols=True)
        self.total = total

    def update(self, step, metrics):
        text = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(text, refresh=False)
        elif step % self.every == 0 or step == self.total:
            rate = (step - self.start) / max(time.perf_counter() - self.t0, 1e-9)
            print(f"step {step}/{self.total}  {text}  ({rate:.1f} steps/s)", flush=True)

    def write(self, text):
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _Quiet:
    """The progress of a rank other than 0 in a data-parallel run: it shows nothing."""

    def update(self, step, metrics):
        pass

    def write(self, text):
        pass

    def close(self):
        pass


class Workbench:
    """Train, evaluate and sample one Recipe in one output folder."""

    def __init__(self, recipe_cls, run: RunConfig, tensorboard=None):
        """tensorboard: None, or the steps between weight histograms in TensorBoard events."""
        self.recipe_cls = recipe_cls
        self.run = run
        self.out = run.out or os.path.join("runs", run.model)
        self.metrics_path = os.path.join(self.out, METRICS)
        self.tensorboard_every = tensorboard
        self.board = None
        self.parallel = None              # a DataParallel under mpiexec -n N > 1 (parallel.py)
        self._owns_group = False

    @property
    def is_main(self):
        """True where files are written: one process, or rank 0 of a data-parallel run."""
        return self.parallel is None or self.parallel.rank == 0

    # -- building -------------------------------------------------------------------------------
    def build(self):
        """Seed, load the data, build the recipe on its device, its loader and the run length."""
        tg.manual_seed(self.run.seed)
        cls = self.recipe_cls
        self.data = load_data(self.run.data or cls.default_data, cls, self.run.data_dir,
                              self.run.options)
        try:
            self.recipe = cls(self.run, self.data)
        except UsageError:
            raise
        except ValueError as e:       # a model its settings cannot make (heads not dividing the
            if not self.run.options:  # width); without --set, a bug: its traceback
                raise
            given = " ".join(f"--set {k}={v}" for k, v in self.run.options.items())
            raise UsageError(f"{given}: {cls.name} cannot be built so: {e}") from None
        for m in self.recipe.modules.values():
            m.to(self.recipe.device)
        self.loader = self.recipe.make_loader(self.recipe.setting("batch_size"), self.run.seed)
        epochs, steps = self.run.epochs, self.run.steps
        if steps is None and epochs is None:
            steps = self.recipe.setting("steps")
        if steps is None:
            epochs = epochs or self.recipe.setting("epochs")
            steps = epochs * len(self.loader)
        self.total_steps = steps
        self.recipe.configure(steps)
        self.step = 0
        return self

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, epoch_done):
        """The weights, the optimiser state and trainer.json, staged then committed as one set
        (run_folder.py), so a process killed at any moment leaves the last complete one. In a
        data-parallel run every rank calls it (its random streams are gathered), rank 0 writes."""
        device = tg.device(self.run.device).type
        streams = None
        if self.parallel is not None:
            self.parallel.check_parameters_agree()
            streams = self.parallel.gather_rng(device)
        if not self.is_main:
            return
        staging = os.path.join(self.out, STAGING)
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        tg.save(module_state(self.recipe.modules), os.path.join(staging, CHECKPOINT))
        tg.save({"step": self.step,
                 "optimizers": {k: o.state_dict() for k, o in self.recipe.optimizers.items()},
                 "schedulers": {k: s.state_dict() for k, s in self.recipe.schedulers.items()}},
                os.path.join(staging, OPTIMIZER))
        trainer = {"step": self.step, "epoch_done": epoch_done, "total_steps": self.total_steps,
                   "loader": self.loader.state_dict(), "rng": get_state(),
                   "seed": tg.initial_seed(),
                   "files": {name: digest(os.path.join(staging, name))
                             for name in (CHECKPOINT, OPTIMIZER)},
                   "settings": self._fixed_settings()}
        if device == "test":            # its own NumPy stream (CuPy's state cannot be saved)
            trainer["device_rng"] = get_state(device)
        if streams is not None:         # every rank's streams, rank 0's first (= "rng")
            trainer["data_parallel"] = {"world_size": self.parallel.size, "rank_rng": streams}
        write_json(os.path.join(staging, TRAINER), trainer)          # the set is complete
        commit_staged(self.out)

    def load_checkpoint(self):
        """Back to the last complete checkpoint: weights, optimisers, data order, RNG, step.
        False when the run has none yet (it was stopped before its first one). Every rank of a
        data-parallel run reads it; rank 0 alone finishes a staged one and cuts the log back."""
        if self.is_main:
            commit_staged(self.out)
        if self.parallel is not None:
            dist.barrier()                # rank 0 has finished any staged checkpoint
        path = os.path.join(self.out, TRAINER)
        if not os.path.exists(path):
            present = [n for n in (CHECKPOINT, OPTIMIZER) if os.path.exists(os.path.join(self.out,
                                                                                          n))]
            if present:                   # not "no checkpoint yet": starting afresh would wipe it
                raise RunError(f"{self.out}: the checkpoint is incomplete: {TRAINER} is missing "
                               f"beside {' and '.join(present)}; restore it, or start the run "
                               "again with --restart")
            return False
        state = read_json_object(path)
        digests = {CHECKPOINT: load_weights(self.out, self.recipe.modules)}
        opt, digests[OPTIMIZER] = read_run_file(self.out, OPTIMIZER)
        check_digests(self.out, state, digests)     # (a corrupt file had its own error first)
        saved, now = state.get("settings"), self._fixed_settings()
        if saved is not None and saved != now:
            changed = ", ".join(f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in sorted(now)
                                if saved.get(k) != now.get(k))
            raise RunError(f"{os.path.join(self.out, CONFIG)} was changed after the checkpoint "
                           f"({changed}); a run resumes with its own settings: restore them, or "
                           "start again with --restart")
        if int(opt["step"]) != int(state["step"]):
            raise RunError(f"{self.out}: {OPTIMIZER} is from step {opt['step']} but {TRAINER} "
                           f"from step {state['step']}; the checkpoint is torn")
        for k, o in self.recipe.optimizers.items():
            o.load_state_dict(opt["optimizers"][k])
        for k, s in self.recipe.schedulers.items():
            s.load_state_dict(opt["schedulers"][k])
        self.loader.load_state_dict(state["loader"])
        tg.manual_seed(state["seed"])
        self._restore_streams(state)
        self.step = int(state["step"])
        if self.is_main:
            self._truncate_metrics(self.step)
        return True

    def _fixed_settings(self):
        """The run's settings that never change (FIXED_SETTINGS), as config.json records them
        (the data set by its resolved name) and JSON keeps them."""
        run = dataclasses.asdict(self.run)
        run["data"] = self.data.name
        return json.loads(json.dumps({k: run[k] for k in FIXED_SETTINGS}))

    def _restore_streams(self, state):
        """This process's random streams from trainer.json: "rng" for one process (and rank 0),
        rank r's saved stream in a data-parallel run, a fresh one where the run had fewer ranks."""
        device = tg.device(self.run.device).type
        if self.parallel is not None and self.parallel.rank > 0:
            saved = (state.get("data_parallel") or {}).get("rank_rng") or []
            if self.parallel.rank < len(saved):
                state = saved[self.parallel.rank]
            else:
                print(f"rank {self.parallel.rank}: the checkpoint has no random stream for this "
                      "rank (it ran with fewer ranks); starting its own", file=sys.stderr)
                seed_rank_stream(state["seed"], self.parallel.rank, device)
                return
        set_state(state["rng"])
        if "device_rng" in state:
            set_state(state["device_rng"], device)

    def _truncate_metrics(self, step):
        """Drop log lines written after the checkpoint: the resumed run writes them again."""
        rows = [r for r in read_metrics(self.metrics_path) if r["step"] <= step]
        with atomic_write(self.metrics_path) as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")

    def log(self, row):
        if not self.is_main:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.board is not None:
            self.board.scalars(row)

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, resume=False):
        """Train to the end (or to a Ctrl-C); returns the exit code: 0 done, 130 interrupted.
        Launched by mpiexec with N > 1 processes, data-parallel (see the module's docstring)."""
        size = self._join_process_group()
        try:
            self.build()
            if size > 1:
                self.parallel = DataParallel(self.recipe, self.recipe.setting("batch_size"))
            return self._fit_in_folder(resume)
        except Exception as e:
            if size > 1:                  # the other ranks may wait in a collective: end them
                _abort_job(e, size)
            raise
        finally:
            if self._owns_group:
                dist.destroy_process_group()
                self._owns_group = False

    def _join_process_group(self):
        """The number of processes this run trains in: the process group's size when launched
        by mpiexec (joined here unless the caller already has), else 1."""
        if dist.is_initialized():
            return dist.get_world_size()
        if not dist.launched_by_mpi():
            return 1
        try:
            dist.init_process_group("mpi")
        except RuntimeError as e:         # mpi4py missing: how to install it
            raise RunError(str(e)) from None
        self._owns_group = True
        size = dist.get_world_size()
        if size == 1:                     # mpiexec -n 1: one process, the plain path
            dist.destroy_process_group()
            self._owns_group = False
        return size

    def _fit_in_folder(self, resume):
        running = None
        if self.is_main:                   # before anything in the folder is read or changed
            os.makedirs(self.out, exist_ok=True)
            running = claim(self.out)
        try:
            config = self._open_folder(resume)
        except BaseException:
            if running is not None and os.path.exists(running):
                os.remove(running)
            raise
        if not self.is_main:
            return self._fit()
        try:
            if self.tensorboard_every is not None:
                self.board = TensorBoardLog(self.out, self.step, self.tensorboard_every)
                self.board.config(config)
            return self._fit()
        finally:
            if self.board is not None:
                self.board.close()
            if os.path.exists(running):
                os.remove(running)

    def _fit(self):
        progress = (Progress(self.total_steps, self.step, self.run.model,
                             every=max(self.run.log_every * 10, 1)) if self.is_main else _Quiet())
        t0 = time.perf_counter()
        with _StopOnCtrlC(progress) as stop:
            try:
                epoch_done = self._train(progress, stop)
            except KeyboardInterrupt:         # a second Ctrl-C: out now, mid-step, no checkpoint
                progress.close()
                print(f"\nstopped mid-step; the last checkpoint in {self.out} is kept",
                      file=sys.stderr)
                return 130
        progress.close()
        if stop.requested and self.step < self.total_steps:
            self.save_checkpoint(epoch_done)
            if not self.is_main:
                return 130
            print(f"\ninterrupted at step {self.step}: checkpoint saved in {self.out}; continue "
                  f"with `tinygen train {self.run.model} --out {self.out} --resume`",
                  file=sys.stderr)
            return 130
        if self.is_main:
            print(f"done: {self.step} steps in {time.perf_counter() - t0:.1f}s; results in "
                  f"{self.out}")
        return 0

    def _open_folder(self, resume):
        """Continue the run in the folder (resume) or clear it for a new one; write and return
        config.json's contents (rank 0 writes; every rank reads a checkpoint back)."""
        if self.parallel is not None:
            dist.barrier()        # every rank has checked the folder before rank 0 changes it
        if self.is_main:
            os.makedirs(self.out, exist_ok=True)
        if not (resume and self.load_checkpoint()):
            if resume and self.is_main:
                print(f"{self.out} has no checkpoint yet: starting from step 0", file=sys.stderr)
            if self.is_main:
                clear_run(self.out)
            if self.parallel is not None:
                seed_rank_stream(self.run.seed, self.parallel.rank, tg.device(self.run.device).type)
        config = dataclasses.asdict(self.run)
        config["resolved"] = {k: self.recipe.setting(k) for k in ("batch_size", "lr", "epochs")}
        config["total_steps"] = self.total_steps
        config["data"] = self.data.name
        model_config = self.recipe.model_config()
        if model_config:
            config["model_config"] = model_config
        if self.parallel is not None:
            config["data_parallel"] = self.parallel.describe()
        if self.is_main:
            write_json(os.path.join(self.out, CONFIG), config)
        return config

    def _train(self, progress, stop):
        """Epochs until total_steps or a Ctrl-C, every eval_every-th (and the last) followed by
        evaluation, samples and a checkpoint. Returns the number of finished epochs."""
        per_epoch = len(self.loader)
        epoch_done = self.step // per_epoch
        self.recipe.train()
        while self.step < self.total_steps and not stop.requested:
            self._train_epoch(progress, stop, per_epoch)
            if self.step % per_epoch == 0 or self.step >= self.total_steps:
                epoch_done = self.step // per_epoch
                if epoch_done % self.run.eval_every == 0 or self.step >= self.total_steps:
                    self._end_of_epoch(epoch_done, progress)
        return epoch_done

    def _train_epoch(self, progress, stop, per_epoch):
        """Steps over the loader's batches (the rest of an epoch after a resume), logging every
        log_every steps; stops early at total_steps or a Ctrl-C."""
        for batch in self.loader:
            if self.parallel is None:
                metrics = self.recipe.train_step(batch, self.step)
            else:
                metrics = self._parallel_step(batch, stop)
            self.step += 1
            if self.step % self.run.log_every == 0 or self.step == self.total_steps:
                epoch = (self.step - 1) // per_epoch
                self.log({"step": self.step, "epoch": epoch, "split": "train", **metrics})
            progress.update(self.step, metrics)
            if self.board is not None:
                self.board.histograms(self.recipe.modules, self.step)
            if self.step >= self.total_steps or stop.requested:
                break

    def _parallel_step(self, batch, stop):
        """One data-parallel step: this rank's slice of the global batch, the recipe's step with
        the gradients averaged over ranks, the metrics averaged, a Ctrl-C seen by any rank."""
        batch, count = self.parallel.shard(batch)
        self.parallel.before_step()
        metrics = self.recipe.train_step(batch, self.step)
        self.parallel.after_step()
        metrics, stop_any = self.parallel.reduce(metrics, count, stop.requested)
        stop.requested = stop.requested or stop_any
        return metrics

    def _end_of_epoch(self, epoch_done, progress):
        metrics = self._evaluate_and_sample(epoch_done)
        if not self.is_main:
            self.save_checkpoint(epoch_done)
            return
        if metrics:
            epoch = (self.step - 1) // len(self.loader)          # as the train rows count it
            self.log({"step": self.step, "epoch": epoch, "split": "test", **metrics})
            where = (f"epoch {epoch_done}" if self.step % len(self.loader) == 0
                     else f"step {self.step}")
            progress.write(f"{where}: " + "  ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
        plot_curves(self.metrics_path, os.path.join(self.out, CURVES), title=self.run.model)
        if self.board is not None:
            self.board.image(os.path.join(self.out, SAMPLES), self.step)
        self.save_checkpoint(epoch_done)

    def _evaluate_and_sample(self, epoch_done):
        """Test metrics and the sample figure, in eval mode on a forked RNG (seeded per epoch).
        Data-parallel: rank 0 evaluates and samples, the other ranks help evaluate where the
        recipe splits its evaluation over them (Recipe.evaluates_in_parallel)."""
        self.recipe.eval()
        metrics = {}
        with fork_rng(self.run.seed + 1000 + epoch_done), tg.no_grad():
            if self.is_main or self.recipe.evaluates_in_parallel:
                metrics = self.recipe.evaluate(self.data.test)
            try:
                if self.is_main:
                    self.recipe.write_samples(os.path.join(self.out, SAMPLES))
            except NotImplementedError:       # a recipe without a sampler draws no figure
                pass
        self.recipe.train()
        return metrics


def _abort_job(error, size):
    """An error on one rank of a data-parallel run: say it (one line for a user's mistake, the
    traceback for anything else), then end every rank (MPI_Abort), since the others may be
    waiting for this one in a collective. Here, not in sys.excepthook: the command line catches
    a user's errors, and fit() leaves the process group (restoring the hook) on the way out."""
    rank = dist.get_rank()
    if isinstance(error, (RunError, UsageError, CheckpointError, OSError)):
        text = " ".join(str(error).split()) or type(error).__name__
        print(f"tinygen train: error on rank {rank} of {size}: {text}", file=sys.stderr)
    else:
        print(f"tinygen train: {type(error).__name__} on rank {rank} of {size}; aborting every "
              "rank", file=sys.stderr)
        traceback.print_exc()
    dist.abort(getattr(error, "exit_status", 1))


def restore_compression(recipe, config):
    """Give a freshly built recipe the structure a compressed run's checkpoint needs (`tinygen
    compress`, train/compress.py): the int8 layers named in config["compression"]["int8_plan"]
    (nothing for an uncompressed run). Between building the recipe and loading the weights."""
    compression = config.get("compression") or {}
    for key, plan in (compression.get("int8_plan") or {}).items():
        if key not in recipe.modules:
            raise RunError(f"compressed run: the plan names module {key!r}, the recipe has "
                           f"{sorted(recipe.modules)}")
        apply_plan(recipe.modules[key], plan, inplace=True)


def load_weights(out, modules):
    """The run's checkpoint.safetensors into its modules; RunError where it does not fit them (a
    checkpoint of another model or size put in the folder). Returns the file's SHA-256."""
    weights, sha = read_run_file(out, CHECKPOINT)
    try:
        load_module_state(modules, weights)
    except (RuntimeError, KeyError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunError(f"{os.path.join(out, CHECKPOINT)} does not fit this run's model "
                       f"({first}); the file is from another run") from None
    return sha


def load_run(out, device=None, data_dir=None):
    """Rebuild a trained run from its folder (config.json + checkpoint) for eval and sample;
    on `device` if given, else on the device it trained on; data from `data_dir` if given."""
    config = read_config(out)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    run = RunConfig(**{k: v for k, v in config.items() if k in fields})
    run.out = out
    if device is not None:
        run.device = device
    if data_dir is not None:
        run.data_dir = data_dir
    if not held_by_live_process(out):     # (a training process commits its own staged set)
        commit_staged(out)
    bench = Workbench(get_recipe(run.model), run).build()
    restore_compression(bench.recipe, config)
    sha = load_weights(out, bench.recipe.modules)
    trainer = os.path.join(out, TRAINER)
    if os.path.exists(trainer):
        check_digests(out, read_json_object(trainer), {CHECKPOINT: sha})
    bench.recipe.eval()
    return bench
