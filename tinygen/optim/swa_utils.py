"""Stochastic Weight Averaging (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima
and Better Generalization") and exponential moving averages of a model's weights, as PyTorch's
`torch.optim.swa_utils`.

    swa_model = tg.optim.swa_utils.AveragedModel(model)
    swa_scheduler = tg.optim.swa_utils.SWALR(opt, swa_lr=0.05)
    for epoch in range(epochs):
        train(...)                               # opt.step() inside
        if epoch >= swa_start:
            swa_model.update_parameters(model)   # running average of the weights
            swa_scheduler.step()
    tg.optim.swa_utils.update_bn(loader, swa_model)   # BatchNorm statistics of the average

    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))

AveragedModel's state dict has PyTorch's keys: "n_averaged" (int64 count of the models averaged)
then "module.<name>" for every entry of the copied model.

Where PyTorch differs: PyTorch's multi-tensor averaging functions call `torch._foreach_lerp_`;
tinygen's loop over the tensors with `lerp_` (the same values up to round-off: PyTorch's CPU lerp
fuses a multiply-add). `update_parameters` and SWALR's `step` are effects of a captured step
(tg.compile): replayed as calls.
"""
from __future__ import annotations

import itertools
import math
import warnings
from copy import deepcopy

from ..autograd.capture import replayed
from ..autograd.grad_mode import no_grad
from ..backend import dtypes as _dt
from ..creation import tensor
from ..nn.modules.module import Module
from ..nn.modules.normalization import _BatchNorm
from ..tensor import Tensor
from ._lr_base import LRScheduler, _format_param

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] "
                         "range.")


def get_ema_multi_avg_fn(decay=0.999):
    """The in-place EMA of lists of parameters: W_ema <- decay * W_ema + (1 - decay) * W_model
    (a lerp towards the model's weights for floating tensors; integer ones are computed in the
    default float dtype and truncated back, as PyTorch's copy_ does). decay in [0, 1]."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        if ema_param_list[0].is_floating_point():
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.lerp_(p_model, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """The in-place equal-weight running average of lists of parameters:
    W_swa <- W_swa + (W_model - W_swa) / (n_averaged + 1). Integer tensors raise RuntimeError,
    as in PyTorch (an integer addcdiv / a float alpha for an integer add)."""

    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if averaged_param_list[0].is_floating_point():
            # a Tensor count gives a 0-d weight of the default float dtype, as in PyTorch
            weight = 1 / (num_averaged + 1)
            for p_avg, p_model in zip(averaged_param_list, current_param_list, strict=True):
                p_avg.lerp_(p_model, weight)
            return
        diffs = [p_model - p_avg
                 for p_avg, p_model in zip(averaged_param_list, current_param_list, strict=True)]
        for p_avg, diff in zip(averaged_param_list, diffs):
            if isinstance(num_averaged, Tensor):
                p_avg.addcdiv_(diff, num_averaged + 1)
            else:
                p_avg.add_(diff, alpha=1.0 / (num_averaged + 1))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """The EMA of one parameter, returned (not in place): decay * W_ema + (1 - decay) * W_model.
    decay in [0, 1]."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """The equal-weight running average of one parameter, returned (not in place):
    W_swa + (W_model - W_swa) / (n_averaged + 1)."""

    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """AveragedModel(model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False): a
    deep copy of `model` (moved to `device` if given) whose parameters are a running average of
    `model`'s, updated by `update_parameters(model)`. Calling it runs the copy's forward.

    avg_fn(averaged, current, n_averaged) -> new averaged Tensor, one parameter at a time;
    multi_avg_fn(averaged_list, current_list, n_averaged) updates lists in place (one call per
    device and dtype). Neither given: the equal-weight (SWA) average. At most one may be given.
    The first update copies the model's parameters. With use_buffers=True the buffers are
    averaged too (integer ones, such as BatchNorm's num_batches_tracked, through float and
    truncated back, as in PyTorch); otherwise they are copied from `model` on every update.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=_dt.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @replayed
    def update_parameters(self, model):
        """Fold `model`'s current parameters (and buffers, with use_buffers) into the average."""
        if self.use_buffers:
            self_params = itertools.chain(self.module.parameters(), self.module.buffers())
            model_params = itertools.chain(model.parameters(), model.buffers())
        else:
            self_params, model_params = self.parameters(), model.parameters()
        averaged, current = [], []
        copy_param = bool(self.n_averaged == 0)
        for p_averaged, p_model in zip(self_params, model_params):    # the shorter, as PyTorch
            p_model_ = p_model.detach().to(p_averaged.device)
            averaged.append(p_averaged.detach())
            current.append(p_model_)
            if copy_param:
                p_averaged.detach().copy_(p_model_)
        if self.n_averaged > 0:
            self._average(averaged, current)
        if not self.use_buffers:
            # buffers not averaged follow the source model
            for b_swa, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        self.n_averaged += 1

    def _average(self, averaged, current):
        """One averaging update of the detached tensors `averaged` towards `current`."""
        if self.multi_avg_fn is None and self.avg_fn is not None:
            for p_averaged, p_model in zip(averaged, current, strict=True):
                n_averaged = self.n_averaged.to(p_averaged.device)
                p_averaged.copy_(self.avg_fn(p_averaged, p_model, n_averaged))
            return
        groups = _group_by_device_and_dtype(averaged, current)
        for (device, _), (self_group, model_group) in groups.items():
            n_averaged = self.n_averaged.to(device)
            if self.multi_avg_fn is not None:
                self.multi_avg_fn(self_group, model_group, n_averaged)
            elif device.type == "cuda":     # PyTorch: the foreach (lerp) form where it has one
                get_swa_multi_avg_fn()(self_group, model_group, n_averaged)
            else:
                avg_fn = get_swa_avg_fn()
                for p_averaged, p_model in zip(self_group, model_group, strict=True):
                    p_averaged.copy_(avg_fn(p_averaged, p_model, n_averaged))


def _group_by_device_and_dtype(averaged, current):
    """{(device, dtype): (averaged tensors, current tensors)}, grouped by the averaged tensors'
    device and dtype, in order of first appearance (PyTorch's
    _group_tensors_by_device_and_dtype)."""
    groups = {}
    for p_averaged, p_model in zip(averaged, current):
        lists = groups.setdefault((p_averaged.device, p_averaged.dtype), ([], []))
        lists[0].append(p_averaged)
        lists[1].append(p_model)
    return groups


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute the running_mean / running_var of every BatchNorm of `model` in one pass over
    `loader` (batches: a Tensor, or a list / tuple whose first item is the model's input, moved
    to `device` if given): the statistics are reset, then averaged over all batches equally
    (momentum None for the pass, restored after). The model's train / eval mode is restored."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for input in loader:
        if isinstance(input, (list, tuple)):
            input = input[0]
        if device is not None:
            input = input.to(device)
        model(input)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """SWALR(optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1): anneal
    each group's lr to `swa_lr` (one value, or one per group, stored as group["swa_lr"]) over
    `anneal_epochs` steps, by a cosine ("cos") or a straight line ("linear"), then hold it.

    Computed as PyTorch does, from the group's current lr (the lr before annealing is recovered
    from it), so it takes over from whatever schedule ran before:

        alpha(t) = (1 - cos(pi t)) / 2  or  t,    t = min(1, step / max(1, anneal_epochs))
        lr = swa_lr * alpha(t) + lr_0 * (1 - alpha(t))
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for value, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = value
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', "
                             f"instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use "
                          "`get_last_lr()`.", UserWarning, stacklevel=2)
        step = self._step_count - 1               # 0 at the construction-time step
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs, strict=True)]

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        if anneal_strategy == "cos":
            self.anneal_func = self._cosine_anneal
        else:
            self.anneal_func = self._linear_anneal

    def state_dict(self):
        """Every attribute but the optimiser and the annealing function (PyTorch's keys)."""
        return {key: value for key, value in self.__dict__.items()
                if key not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
