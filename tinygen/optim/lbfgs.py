"""L-BFGS (Liu & Nocedal 1989), as PyTorch's `optim.LBFGS` (itself after Schmidt's minFunc),
with its optional strong-Wolfe line search (Nocedal & Wright 2006, algorithms 3.5 and 3.6).

One `step(closure)` runs up to max_iter iterations on the flattened parameters x:

    g = grad f(x);  d = -H g  by the two-loop recursion over the last history_size pairs
                              (s = x_k+1 - x_k, y = g_k+1 - g_k), H_0 = (s.y / y.y) I
    x = x + t d,  t = lr (the first iteration: min(1, 1 / |g|_1) * lr), or t from the line search

and stops on a small gradient (tolerance_grad), a small change (tolerance_change) or max_eval
closure evaluations. The closure re-evaluates the model and returns the loss (with backward
done). The vectors are arrays of the parameters' device; scalars are Python floats while
stepping. The state has PyTorch's keys and types (`ro`, `al` lists of 0-d Tensors, `H_diag` a 0-d
Tensor once set), so either library loads the other's state dict.

Where PyTorch differs: an unknown line_search_fn raises ValueError at construction (PyTorch
accepts it and raises RuntimeError("only 'strong_wolfe' is supported") at the first step).
"""
from __future__ import annotations

import math

from ..autograd.function import wrap
from ..autograd.grad_mode import enable_grad, no_grad
from ..backend.device import array_module
from .optimizer import Optimizer, _scalar, check_hyperparameters


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to bounds."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, lo), hi)


class _Bracket:
    """The interval [t_lo, t_hi] of the zoom phase with f, g and g.d at each end."""

    def __init__(self, points):
        self.t, self.f, self.g, self.gtd = (list(v) for v in zip(*points))

    def low_high(self):
        return (0, 1) if self.f[0] <= self.f[-1] else (1, 0)

    def set(self, i, t, f, g, gtd):
        self.t[i], self.f[i], self.g[i], self.gtd[i] = t, f, g, gtd


def _strong_wolfe(obj_func, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step t along d satisfying the strong Wolfe conditions: (f, g, t, evaluations)."""
    f_new, g_new = obj_func(t)
    evals, ls_iter = 1, 0
    gtd_new = float(g_new @ d)
    prev = (0, f, g, gtd)
    bracket, done = None, False
    while ls_iter < max_ls:            # bracketing: find an interval holding a good step
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= prev[1]):
            bracket = _Bracket([prev, (t, f_new, g_new.copy(), gtd_new)])
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = _Bracket([(t, f_new, g_new, gtd_new)] * 2), True
            break
        if gtd_new >= 0:
            bracket = _Bracket([prev, (t, f_new, g_new.copy(), gtd_new)])
            break
        step = _cubic_interpolate(prev[0], prev[1], prev[3], t, f_new, gtd_new,
                                  bounds=(t + 0.01 * (t - prev[0]), t * 10))
        prev = (t, f_new, g_new.copy(), gtd_new)
        t = step
        f_new, g_new = obj_func(t)
        evals, ls_iter = evals + 1, ls_iter + 1
        gtd_new = float(g_new @ d)
    if ls_iter == max_ls:
        bracket = _Bracket([(0, f, g, None), (t, f_new, g_new, None)])
    return _zoom(obj_func, d, bracket, done, f, gtd, c1, c2, tolerance_change, max_ls, ls_iter,
                 evals)


def _zoom(obj_func, d, bracket, done, f, gtd, c1, c2, tolerance_change, max_ls, ls_iter, evals):
    """Shrink the bracket until a step satisfies the strong Wolfe conditions."""
    d_norm = float(abs(d).max())
    insufficient = False
    low, high = bracket.low_high()
    while not done and ls_iter < max_ls:
        lo_t, hi_t = min(bracket.t), max(bracket.t)
        if abs(bracket.t[1] - bracket.t[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket.t[0], bracket.f[0], bracket.gtd[0],
                               bracket.t[1], bracket.f[1], bracket.gtd[1])
        eps = 0.1 * (hi_t - lo_t)
        if min(hi_t - t, t - lo_t) < eps:      # too close to an end: move away, or note it
            if insufficient or t >= hi_t or t <= lo_t:
                t = hi_t - eps if abs(t - hi_t) < abs(t - lo_t) else lo_t + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = obj_func(t)
        evals, ls_iter = evals + 1, ls_iter + 1
        gtd_new = float(g_new @ d)
        if f_new > f + c1 * t * gtd or f_new >= bracket.f[low]:
            bracket.set(high, t, f_new, g_new.copy(), gtd_new)
            low, high = bracket.low_high()
            continue
        if abs(gtd_new) <= -c2 * gtd:
            done = True
        elif gtd_new * (bracket.t[high] - bracket.t[low]) >= 0:
            bracket.set(high, bracket.t[low], bracket.f[low], bracket.g[low], bracket.gtd[low])
        bracket.set(low, t, f_new, g_new.copy(), gtd_new)
    return bracket.f[low], bracket.g[low], bracket.t[low], evals


class LBFGS(Optimizer):
    """LBFGS(params, lr=1, max_iter=20, max_eval=None (max_iter * 5 // 4), tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None or "strong_wolfe").
    One parameter group only; step(closure) is required, as in PyTorch."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        check_hyperparameters("LBFGS", lr=lr)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: only 'strong_wolfe' is supported as line_search_fn, got "
                             f"{line_search_fn!r}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "history_size": history_size,
                                  "line_search_fn": line_search_fn})
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _state_shape(self, param, key):
        """The state's vectors (d, prev_flat_grad, old_dirs, old_stps) are flat: the length of
        all the parameters together, not the shape of the first, under which they are kept."""
        if key in ("d", "prev_flat_grad", "old_dirs", "old_stps"):
            return (sum(p.numel() for p in self._params),)
        return super()._state_shape(param, key)

    # ---- flat views of the parameters ---------------------------------------------------------
    def _flat_grad(self):
        xp = array_module(self._params[0]._data)
        return xp.concatenate([(xp.zeros(p._data.size, p._data.dtype) if p.grad is None
                                else p.grad._data.reshape(-1)) for p in self._params])

    def _add(self, step_size, update):
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += step_size * update[offset:offset + n].reshape(p._data.shape)
            p._version[0] += 1
            offset += n

    def _evaluator(self, closure, direction):
        """f and the flat gradient at x + t * direction, x restored after (for line search)."""
        x = [p._data.copy() for p in self._params]

        def evaluate(t):
            self._add(t, direction)
            loss = float(closure())
            grad = self._flat_grad()
            for p, data in zip(self._params, x):
                p._data[...] = data
            return loss, grad
        return evaluate

    # ---- the step -----------------------------------------------------------------------------
    @no_grad()
    def step(self, closure=None):
        """Up to max_iter L-BFGS iterations; returns the loss of the first closure call."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the model and "
                               "returns the loss: opt.step(closure)")
        if len(self.param_groups) != 1:                # a group added by add_param_group
            raise AssertionError(f"Expected exactly one param_group, but got "
                                 f"{len(self.param_groups)}")
        closure = enable_grad()(closure)
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = closure()
        state["func_evals"] += 1
        grad = self._flat_grad()
        if float(abs(grad).max()) <= group["tolerance_grad"]:
            return orig_loss
        memory = _Memory.load(state, group["history_size"])
        self._iterate(closure, group, state, memory, float(orig_loss), grad)
        memory.save(state)
        return orig_loss

    def _iterate(self, closure, group, state, memory, loss, grad):
        lr, evals = _scalar(group["lr"]), 1
        for n_iter in range(1, group["max_iter"] + 1):
            state["n_iter"] += 1
            memory.direction(grad, first=state["n_iter"] == 1)
            memory.prev_grad, memory.prev_loss = grad.copy(), loss
            # lr itself after the first iteration (an int lr stays an int in the state: PyTorch)
            t = min(1.0, 1.0 / float(abs(grad).sum())) * lr if state["n_iter"] == 1 else lr
            memory.t = t                        # PyTorch sets t before the test below: the
            gtd = float(grad @ memory.d)        # next step's s = d * t uses it
            if gtd > -group["tolerance_change"]:
                break
            if group["line_search_fn"] == "strong_wolfe":
                loss, grad, t, used = _strong_wolfe(self._evaluator(closure, memory.d), t,
                                                    memory.d, loss, grad, gtd,
                                                    max_ls=group["max_eval"] - evals)
                self._add(t, memory.d)
            else:
                self._add(t, memory.d)
                used = 0
                if n_iter != group["max_iter"]:
                    loss, grad, used = float(closure()), self._flat_grad(), 1
            memory.t = t
            evals += used
            state["func_evals"] += used
            if (n_iter == group["max_iter"] or evals >= group["max_eval"]
                    or float(abs(grad).max()) <= group["tolerance_grad"]
                    or float(abs(memory.d * t).max()) <= group["tolerance_change"]
                    or abs(loss - memory.prev_loss) < group["tolerance_change"]):
                break


class _Memory:
    """The L-BFGS history (the pairs s, y and 1 / y.s), the last direction d and step t, the
    previous flat gradient and loss: kept in the optimiser's state between steps."""

    KEYS = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss",
            "al")

    def __init__(self, history_size):
        self.history_size = history_size
        self.d = self.t = self.prev_grad = self.prev_loss = self.al = None
        self.old_dirs, self.old_stps, self.ro, self.h_diag = [], [], [], 1

    @classmethod
    def load(cls, state, history_size):
        """The memory from the state (ours or PyTorch's: scalars may be 0-d Tensors)."""
        memory = cls(history_size)
        if "d" in state:
            memory.d, memory.t = state["d"]._data, float(state["t"])
            memory.old_dirs = [v._data for v in state["old_dirs"]]
            memory.old_stps = [v._data for v in state["old_stps"]]
            memory.ro = [float(r) for r in state["ro"]]
            memory.h_diag = _number(state["H_diag"])
            memory.prev_grad = state["prev_flat_grad"]._data
            memory.prev_loss = float(state["prev_loss"])
        if state.get("al") is not None:
            memory.al = [None if a is None else float(a) for a in state["al"]]
        return memory

    def save(self, state):
        """Into the state, with PyTorch's types: the scalars of the recursion as 0-d Tensors."""
        xp = array_module(self.d)

        def scalar(value):
            return wrap(xp.asarray(value, dtype=self.d.dtype))
        state.update({"d": wrap(self.d), "t": self.t, "ro": [scalar(r) for r in self.ro],
                      "old_dirs": [wrap(v) for v in self.old_dirs],
                      "old_stps": [wrap(v) for v in self.old_stps],
                      "H_diag": self.h_diag if isinstance(self.h_diag, int) else
                      scalar(self.h_diag),
                      "prev_flat_grad": wrap(self.prev_grad), "prev_loss": self.prev_loss})
        if self.al is not None:
            state["al"] = [None if a is None else scalar(a) for a in self.al]

    def direction(self, grad, first):
        """d = -H grad: steepest descent at first, else the two-loop recursion after adding
        the newest pair (kept only if y.s > 1e-10, which keeps H positive definite)."""
        if first:
            self.d, self.old_dirs, self.old_stps, self.ro, self.h_diag = -grad, [], [], [], 1
            return
        y, s = grad - self.prev_grad, self.d * self.t
        ys = float(y @ s)
        if ys > 1e-10:
            if len(self.old_dirs) == self.history_size:
                self.old_dirs.pop(0)
                self.old_stps.pop(0)
                self.ro.pop(0)
            self.old_dirs.append(y)
            self.old_stps.append(s)
            self.ro.append(1.0 / ys)
            self.h_diag = ys / float(y @ y)
        if self.al is None:                    # PyTorch's state["al"], kept between steps
            self.al = [None] * self.history_size
        alphas = self.al
        q = -grad
        for i in range(len(self.old_dirs) - 1, -1, -1):
            alphas[i] = float(self.old_stps[i] @ q) * self.ro[i]
            q = q - alphas[i] * self.old_dirs[i]
        r = q * self.h_diag
        for i in range(len(self.old_dirs)):
            beta = float(self.old_dirs[i] @ r) * self.ro[i]
            r = r + (alphas[i] - beta) * self.old_stps[i]
        self.d = r


def _number(value):
    """A Python number from a number or a 0-d Tensor (ints stay ints)."""
    return value if isinstance(value, (int, float)) else float(value)
