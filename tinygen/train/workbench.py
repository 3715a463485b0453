"""The workbench: the training loop around a Recipe, and everything a run writes (the files are
listed in run_folder.py).

Resume is exact: the checkpoint holds the model, the optimisers, the loader's position in its
shuffled epoch and the global RNG, so a resumed run's losses equal those of an uninterrupted run
with the same seed, bit for bit on the CPU. Evaluation and sampling run on a forked RNG
(tinygen.backend.random.fork_rng), so they never shift the training stream. Every file is written
atomically (tinygen.io.atomic_write), except metrics.jsonl, which grows a line at a time (a resume
cuts it back to the checkpoint's step).
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

import tinygen as tg
from ..backend.random import fork_rng, get_state, set_state
from ..io import atomic_write
from ..quantization import apply_plan
from .datasets import load_data
from .errors import RunError
from .plots import plot_curves, read_metrics
from .recipes import RunConfig, get_recipe
from .run_folder import (CHECKPOINT, CONFIG, CURVES, METRICS, OPTIMIZER, RUNNING, SAMPLES,
                         STAGING, TRAINER, clear_run, commit_staged, load_module_state,
                         module_state, read_config, write_json)
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

    # -- building -------------------------------------------------------------------------------
    def build(self):
        """Seed, load the data, build the recipe on its device, its loader and the run length."""
        tg.manual_seed(self.run.seed)
        cls = self.recipe_cls
        self.data = load_data(self.run.data or cls.default_data, cls, self.run.data_dir,
                              self.run.options)
        self.recipe = cls(self.run, self.data)
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
        (run_folder.py), so a process killed at any moment leaves the last complete one."""
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
                   "seed": tg.initial_seed()}
        device = tg.device(self.run.device).type
        if device == "test":            # its own NumPy stream (CuPy's state cannot be saved)
            trainer["device_rng"] = get_state(device)
        write_json(os.path.join(staging, TRAINER), trainer)          # the set is complete
        commit_staged(self.out)

    def load_checkpoint(self):
        """Back to the last complete checkpoint: weights, optimisers, data order, RNG, step.
        False when the run has none yet (it was stopped before its first one)."""
        commit_staged(self.out)
        path = os.path.join(self.out, TRAINER)
        if not os.path.exists(path):
            return False
        with open(path) as f:
            state = json.load(f)
        load_module_state(self.recipe.modules, tg.load(os.path.join(self.out, CHECKPOINT)))
        opt = tg.load(os.path.join(self.out, OPTIMIZER))
        if int(opt["step"]) != int(state["step"]):
            raise RunError(f"{self.out}: {OPTIMIZER} is from step {opt['step']} but {TRAINER} "
                           f"from step {state['step']}; the checkpoint is torn")
        for k, o in self.recipe.optimizers.items():
            o.load_state_dict(opt["optimizers"][k])
        for k, s in self.recipe.schedulers.items():
            s.load_state_dict(opt["schedulers"][k])
        self.loader.load_state_dict(state["loader"])
        tg.manual_seed(state["seed"])
        set_state(state["rng"])
        if "device_rng" in state:
            set_state(state["device_rng"], tg.device(self.run.device).type)
        self.step = int(state["step"])
        self._truncate_metrics(self.step)
        return True

    def _truncate_metrics(self, step):
        """Drop log lines written after the checkpoint: the resumed run writes them again."""
        rows = [r for r in read_metrics(self.metrics_path) if r["step"] <= step]
        with atomic_write(self.metrics_path) as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")

    def log(self, row):
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.board is not None:
            self.board.scalars(row)

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, resume=False):
        """Train to the end (or to a Ctrl-C); returns the exit code: 0 done, 130 interrupted."""
        self.build()
        config = self._open_folder(resume)
        running = os.path.join(self.out, RUNNING)
        write_json(running, {"pid": os.getpid()})
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
        progress = Progress(self.total_steps, self.step, self.run.model,
                            every=max(self.run.log_every * 10, 1))
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
            print(f"\ninterrupted at step {self.step}: checkpoint saved in {self.out}; continue "
                  f"with `tinygen train {self.run.model} --out {self.out} --resume`",
                  file=sys.stderr)
            return 130
        print(f"done: {self.step} steps in {time.perf_counter() - t0:.1f}s; results in {self.out}")
        return 0

    def _open_folder(self, resume):
        """Continue the run in the folder (resume) or clear it for a new one; write and return
        config.json's contents."""
        os.makedirs(self.out, exist_ok=True)
        if not (resume and self.load_checkpoint()):
            if resume:
                print(f"{self.out} has no checkpoint yet: starting from step 0", file=sys.stderr)
            clear_run(self.out)
        config = dataclasses.asdict(self.run)
        config["resolved"] = {k: self.recipe.setting(k) for k in ("batch_size", "lr", "epochs")}
        config["total_steps"] = self.total_steps
        config["data"] = self.data.name
        model_config = self.recipe.model_config()
        if model_config:
            config["model_config"] = model_config
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
            metrics = self.recipe.train_step(batch, self.step)
            self.step += 1
            if self.step % self.run.log_every == 0 or self.step == self.total_steps:
                epoch = (self.step - 1) // per_epoch
                self.log({"step": self.step, "epoch": epoch, "split": "train", **metrics})
            progress.update(self.step, metrics)
            if self.board is not None:
                self.board.histograms(self.recipe.modules, self.step)
            if self.step >= self.total_steps or stop.requested:
                break

    def _end_of_epoch(self, epoch_done, progress):
        metrics = self._evaluate_and_sample(epoch_done)
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
        """Test metrics and the sample figure, in eval mode on a forked RNG (seeded per epoch)."""
        self.recipe.eval()
        with fork_rng(self.run.seed + 1000 + epoch_done), tg.no_grad():
            metrics = self.recipe.evaluate(self.data.test)
            try:
                self.recipe.write_samples(os.path.join(self.out, SAMPLES))
            except NotImplementedError:       # a recipe without a sampler draws no figure
                pass
        self.recipe.train()
        return metrics


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
    commit_staged(out)
    bench = Workbench(get_recipe(run.model), run).build()
    restore_compression(bench.recipe, config)
    load_module_state(bench.recipe.modules, tg.load(os.path.join(out, CHECKPOINT)))
    bench.recipe.eval()
    return bench
